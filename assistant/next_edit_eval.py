"""Evaluation of next-edit suggestions on a repository's git history (``qwenpair eval nes``).

Cases come from commits: in a commit that changes one file in two or more places (hunks of a
zero-context diff), the first hunk is the "recent edit" and the next one is the target. The
file before the commit is the original; the current text is the original with the first hunk
applied; the cursor is on the first hunk's last line; the expected window is the current
window with the target applied. Only targets inside the 21-line window around the cursor are
cases (a next edit cannot reach further). Files the source policy refuses (docs/security.md)
are skipped before any text is used.

Figures: exact match of the predicted window, edit-level precision and recall (an edit is
right when its lines and replacement are exactly the target's), latency p50/p95 and the rate
of no suggestion. With the project's tiny test model they mean nothing; the harness is what
its test checks, with a scripted model whose answers are known.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.edit_history import EditHistory, split_lines
from assistant.next_edit import LineChange, NextEditConfig, NextEditEngine, window_changes
from model.nes_prompt import WINDOW_RADIUS, window_bounds

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class Hunk:
    old_start: int  # 0-based first line in the old text
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True)
class NesCase:
    commit: str
    path: str  # relative to the repository
    original: str
    current: str
    cursor_line: int
    expected: tuple[LineChange, ...]  # in the current text's lines, inside the window


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise ValueError(f"git {' '.join(args[:2])} failed in {repo}: {done.stderr.strip() or done.returncode}; "
                         "give --repo a git repository with history")
    return done.stdout


def parse_hunks(diff: str) -> dict[str, list[Hunk]]:
    """Zero-context hunks per file (new path) of ``git show -U0`` output."""
    out: dict[str, list[Hunk]] = {}
    path, hunk = None, None
    for line in diff.split("\n"):
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None
            continue
        m = _HUNK.match(line)
        if m and path is not None:
            a, b = int(m.group(1)), int(m.group(2) or 1)
            hunk = [a - 1 if b else a, [], []]  # "-5,0" inserts after line 5
            out.setdefault(path, []).append(hunk)
            continue
        if hunk is not None and line.startswith("-") and not line.startswith("--- "):
            hunk[1].append(line[1:])
        elif hunk is not None and line.startswith("+") and not line.startswith("+++ "):
            hunk[2].append(line[1:])
        elif line.startswith("diff --git"):
            hunk, path = None, None
    return {p: [Hunk(h[0], tuple(h[1]), tuple(h[2])) for h in hs] for p, hs in out.items()}


def _apply(lines: list[str], start: int, old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    return lines[:start] + list(new) + lines[start + len(old) :]


def cases_from_git(repo: Path, policy, *, commits: int = 200, limit: int = 100) -> list[NesCase]:
    """Cases from the last ``commits`` non-merge commits of ``repo``, at most ``limit``."""
    out: list[NesCase] = []
    for commit in _git(repo, "log", "--no-merges", "--format=%H", f"-n{commits}").split():
        try:
            diff = _git(repo, "show", "--format=", "-U0", "--no-color", "--no-renames", commit)
        except ValueError:
            continue
        for path, hunks in parse_hunks(diff).items():
            if len(hunks) < 2:
                continue
            try:
                before = _git(repo, "show", f"{commit}^:{path}")
            except ValueError:
                continue  # new file, or the first commit
            allowed, _ = policy(repo / path, before)
            if not allowed or "\0" in before:
                continue
            case = _case(commit, path, before, hunks[0], hunks[1])
            if case is not None:
                out.append(case)
            if len(out) >= limit:
                return out
    return out


def _case(commit: str, path: str, before: str, first: Hunk, target: Hunk) -> NesCase | None:
    original = split_lines(before)
    if original[first.old_start : first.old_start + len(first.old)] != list(first.old):
        return None  # the diff does not match the text (line endings): skip rather than guess
    current = _apply(original, first.old_start, first.old, first.new)
    shift = len(first.new) - len(first.old)
    t_start = target.old_start + shift  # the target follows the first hunk in the file
    if current[t_start : t_start + len(target.old)] != list(target.old):
        return None
    cursor = first.old_start + max(0, len(first.new) - 1)
    lo, hi = window_bounds(len(current), cursor)
    if not (lo <= t_start and t_start + len(target.old) <= hi and t_start - cursor <= WINDOW_RADIUS):
        return None
    expected = _apply(current, t_start, target.old, target.new)
    win_new = expected[lo : hi + len(target.new) - len(target.old)]
    changes = tuple(window_changes(current[lo:hi], win_new, lo))
    if not changes:
        return None
    return NesCase(commit, path, "\n".join(original) + "\n", "\n".join(current) + "\n", cursor, changes)


def evaluate(cases: list[NesCase], backend, repo: Path, policy, config: NextEditConfig | None = None,
             progress: Callable[[str], None] = lambda _m: None) -> dict:
    """Run every case through the real engine; the report's figures and one row per case."""
    rows, latencies = [], []
    exact = predicted = matched = targets = none = 0
    for k, case in enumerate(cases, 1):
        history = EditHistory(policy)
        path = repo / case.path
        history.open(path, case.original)
        engine = NextEditEngine(backend, history, config, root=repo)
        got = engine.suggest(path, case.current, case.cursor_line)
        latencies.append(got.latency_s)
        hits = sum(1 for c in got.changes if c in case.expected)
        predicted += len(got.changes)
        matched += hits
        targets += len(case.expected)
        is_exact = set(got.changes) == set(case.expected)
        exact += is_exact
        none += got.kind == "none"
        rows.append({"commit": case.commit[:12], "path": case.path, "line": case.cursor_line + 1, "kind": got.kind,
                     "exact": is_exact, "predicted_edits": len(got.changes), "right_edits": hits,
                     "target_edits": len(case.expected), "latency_ms": round(got.latency_s * 1000, 1),
                     **({"reason": got.reason} if got.reason else {})})
        progress(f"next edit {k}/{len(cases)}")
    n = len(cases)
    return {
        "cases": n,
        "exact_match": exact / n if n else 0.0,
        "edit_precision": matched / predicted if predicted else 0.0,
        "edit_recall": matched / targets if targets else 0.0,
        "no_suggestion_rate": none / n if n else 0.0,
        "latency_p50_ms": _pct(latencies, 50) * 1000,
        "latency_p95_ms": _pct(latencies, 95) * 1000,
        "rows": rows,
    }


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
