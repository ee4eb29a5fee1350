"""Next-edit training samples from a repository's git history, in the server's exact prompts.

A commit that changes one file in two or more places (hunks of a zero-context diff) is a
recorded editing session: the file before the commit is the session's original, the first
hunks are the recent edits, and the next hunk is what the user did next. For hunk k (k >= 1)
the sample replays hunks 0 .. k-1 into the server's own edit history
(``assistant.edit_history.EditHistory``, one update per hunk, as one document change each),
builds the prompt with the server's own engine (``NextEditEngine.prompt`` on the base model's
tokenizer and prompt format) for the cursor on hunk k-1's last line, and trains on the window
with hunk k applied (the updated window the model writes) and the ``<|file_sep|>`` that ends
it (docs/next-edit.md, "Prompt"). Only targets inside the 21-line window are samples: the
cases of ``qwenpair eval nes`` (``assistant.next_edit_eval``, whose hunk parser and case
check this reuses) with more than one recent edit.

History is read in one ``git log -p`` stream plus one ``git cat-file --batch`` process for
the texts before each commit, so a 10k-commit history is read in one pass
(``bench/history_samples.py``). What is skipped is counted in ``NesSamples.stats``:

- merge commits (their change is their parents'), binary diffs, renames (``-M``), files that
  are not UTF-8, documents the server keeps no history for (``assistant.large_document``);
- commits touching more than ``max_files_per_commit`` files (vendoring, reformatting): their
  diff is not even kept in memory;
- anything the workspace's source policy refuses (``assistant.retrieval.PromptPolicy``, the
  one policy of docs/security.md): ignored and secret files by name, and a file whose text
  before *or* after the commit holds a secret-looking line, by the same content rules as
  indexing. The whole file-commit is dropped, never redacted.

Split by time, without lookahead: the newest ``heldout_share`` of the commits read (by
committer time; ties at the cut go to the held-out side) are held out, and training samples
come only from commits strictly older than every held-out commit. ``changed_files`` names the
files changed since the cut, which FIM samples trained beside these (``--task both``) hold out.
"""

from __future__ import annotations

import subprocess
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.edit_history import EditHistory, split_lines
from assistant.large_document import is_large
from assistant.next_edit import NextEditConfig, NextEditEngine, NoSuggestion
from assistant.next_edit_eval import Hunk, _apply, _case, parse_hunks
from assistant.retrieval import PromptPolicy
from model.prompt import as_text, marker
from model.registry import DEFAULT_FORMAT, PromptFormat
from training.errors import DataError
from training.lora_config import NesSampleConfig

MIN_TRAIN_SAMPLES = 8
_MARK = "\x01qwenpair-commit "  # our format line in the log stream (no diff line starts with \x01)


@dataclass
class NesSample:
    commit: str
    time: int  # committer time
    path: str  # relative, "/" separators
    edits: int  # hunks replayed as recent edits (the target is the next one)
    cursor_line: int  # 0-based, in the current text
    prompt: str  # the engine's prompt (a model.prompt.Prompt)
    answer: str  # the updated window, as the model writes it
    ids: Sequence[int] = field(default_factory=list)  # prompt + answer + <|file_sep|> (an array("i"))
    n_prompt: int = 0  # the first n_prompt ids are context (not trained on)


@dataclass
class NesSamples:
    train: list[NesSample]
    heldout: list[NesSample]
    heldout_commits: list[str]
    cutoff: int  # training commits are older than this committer time
    train_head: str | None  # the newest training commit
    changed_since: list[str]  # files whose text differs between train_head and the working tree
    stats: Counter


@dataclass
class _Commit:
    sha: str
    parents: int
    time: int
    lines: list[str] = field(default_factory=list)
    files: int = 0


def _git(repo: Path, *args: str) -> list[str]:
    return ["git", "-C", str(repo), "-c", "core.quotePath=false", *args]


def commit_times(repo: Path, max_commits: int) -> list[tuple[str, int]]:
    """(sha, committer time) of the newest ``max_commits`` commits, merges included."""
    done = subprocess.run(_git(repo, "log", "--format=%H %ct", f"-n{max_commits}"),
                          capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise DataError(f"cannot read the git history of {repo} ({done.stderr.strip() or done.returncode}); "
                        "give --repo a git repository with commits")
    return [(sha, int(t)) for sha, t in (line.split() for line in done.stdout.splitlines() if line.strip())]


def split_commits(times: list[tuple[str, int]], share: float) -> tuple[set[str], int]:
    """(held-out commits, cutoff time): the newest ``share`` of ``times``, ties at the cut included."""
    if not 0 < share < 1:
        raise DataError(f"--heldout-share must be between 0 and 1, not {share}")
    ordered = sorted(times, key=lambda c: -c[1])
    n = max(1, round(len(ordered) * share))
    cutoff = ordered[n - 1][1] if ordered else 0
    return {sha for sha, t in ordered if t >= cutoff}, cutoff


def walk_commits(repo: Path, max_commits: int, max_files: int, stats: Counter) -> Iterator[_Commit]:
    """Each of the newest ``max_commits`` commits with its zero-context diff lines (none kept
    for a merge or a commit over ``max_files`` files), newest first, from one ``git log``."""
    cmd = _git(repo, "log", f"--format={_MARK}%H %ct %P", "-p", "-U0", "-M", "--no-color", "--no-ext-diff",
               "--no-textconv", f"-n{max_commits}")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    current: _Commit | None = None
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line.startswith(_MARK):
                if current is not None:
                    yield current
                sha, when, *parents = line[len(_MARK):].split()
                current = _Commit(sha, len(parents), int(when))
                continue
            if current is None or current.parents > 1:
                continue
            if line.startswith("diff --git "):
                current.files += 1
                if current.files == max_files + 1:
                    current.lines.clear()  # capped: its diff is never held
            if current.files <= max_files:
                current.lines.append(line)
        if current is not None:
            yield current
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()


class _Blobs:
    """``git cat-file --batch``: file texts at revisions, one process for the whole walk."""

    def __init__(self, repo: Path) -> None:
        self.proc = subprocess.Popen(_git(repo, "cat-file", "--batch"), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def get(self, rev: str, path: str) -> bytes | None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{rev}:{path}\n".encode())
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) != 3 or header[1] != b"blob":
            return None  # missing (a new file, the root commit)
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def file_diffs(lines: list[str]) -> Iterator[tuple[str, list[str], str]]:
    """(path, that file's diff lines, why it is skipped or "") per file of one commit's diff."""
    block: list[str] = []
    for line in lines + ["diff --git END"]:
        if line.startswith("diff --git ") and block:
            skip = ""
            if any(s.startswith("rename from ") for s in block[:8]):
                skip = "renamed file"
            elif any(s.startswith(("Binary files ", "GIT binary patch")) for s in block):
                skip = "binary diff"
            path = next((s[6:] for s in block if s.startswith("+++ b/")), "")
            yield path, block, skip
            block = []
        block.append(line)


def _apply_all(lines: list[str], hunks: list[Hunk]) -> list[str] | None:
    """``lines`` with ``hunks`` (old-file positions, in order) applied; None on a mismatch."""
    delta = 0
    for h in hunks:
        at = h.old_start + delta
        if lines[at : at + len(h.old)] != list(h.old):
            return None
        lines = _apply(lines, at, h.old, h.new)
        delta += len(h.new) - len(h.old)
    return lines


def _text(lines: list[str]) -> str:
    return "".join(f"{s}\n" for s in lines)


class NesSampler:
    """Builds samples for file-commits with the server's engine on a tokenizer-only backend."""

    def __init__(self, repo: Path, cfg: NesSampleConfig, fmt: PromptFormat | None = None, backend=None) -> None:
        from model.backends.tokenizer_only import TokenizerOnlyBackend

        self.repo = repo
        self.cfg = cfg
        self.policy = PromptPolicy(repo)
        self.backend = backend or TokenizerOnlyBackend(n_ctx=max(4096, cfg.max_tokens + 256))
        if fmt is not None:
            self.backend.prompt_format = fmt  # the engine builds in the format the server will use
        used = getattr(self.backend, "prompt_format", None) or DEFAULT_FORMAT
        self.end_id = self.backend.tokenize(marker(used.file_sep))  # the answer's end (docs/next-edit.md)
        # the server's default Sweep layout: a Zeta-style answer carries region markers this does not write
        self.engine_config = NextEditConfig(nes_format="sweep")

    def file_samples(self, commit: _Commit, path: str, before: str, hunks: list[Hunk],
                     stats: Counter) -> list[NesSample]:
        """Samples of one file in one commit (its text before it and its hunks), policy first."""
        absolute = self.repo / path
        original = split_lines(before)
        after = _apply_all(list(original), hunks)
        if after is None:
            stats["skipped: diff does not match the text"] += 1
            return []
        for text in (before, _text(after)):  # the removed and the added lines are both judged
            allowed, reason = self.policy(absolute, text)
            if not allowed:
                stats[f"skipped: {reason.split(':')[0]}"] += 1
                return []
        out = []
        for k in range(1, min(len(hunks), self.cfg.per_file + 1)):
            sample = self._sample(commit, path, original, hunks, k, stats)
            if sample is not None:
                out.append(sample)
        return out

    def _sample(self, commit: _Commit, path: str, original: list[str], hunks: list[Hunk], k: int,
                stats: Counter) -> NesSample | None:
        before_k = _apply_all(list(original), hunks[: k - 1])
        delta = sum(len(h.new) - len(h.old) for h in hunks[: k - 1])
        first, target = (Hunk(h.old_start + delta, h.old, h.new) for h in (hunks[k - 1], hunks[k]))
        case = _case(commit.sha, path, _text(before_k or []), first, target)
        if before_k is None or case is None:
            stats["no case: the target is outside the window"] += 1
            return None
        current = split_lines(case.current)
        history = EditHistory(self.policy)
        absolute = self.repo / path
        text = _text(original)
        history.open(absolute, text)
        lines = list(original)
        shift = 0
        for h in hunks[:k]:  # one document change per hunk, as an editor sends them
            lines = _apply(lines, h.old_start + shift, h.old, h.new)
            shift += len(h.new) - len(h.old)
            history.update(absolute, _text(lines))
        engine = NextEditEngine(self.backend, history, self.engine_config, root=self.repo)
        try:
            built = engine.prompt(absolute, case.current, case.cursor_line)
        except NoSuggestion as exc:
            stats[f"no case: {exc}"] += 1
            return None
        t_start = target.old_start + len(first.new) - len(first.old)
        lo, hi = built.window_start, built.window_start + len(built.current_window)
        updated = _apply(current, t_start, target.old, target.new)[lo : hi + len(target.new) - len(target.old)]
        answer = _text(updated)
        if not answer.strip():
            stats["no case: the updated window is empty"] += 1
            return None
        head = self.backend.tokenize(built.prompt)
        ids = head + self.backend.tokenize(as_text(answer)) + self.end_id
        if len(ids) > self.cfg.max_tokens:
            stats["overlong"] += 1
            return None
        # 4 bytes a token instead of a Python int's 36: 40k samples of a 10k-commit history fit
        return NesSample(commit.sha, commit.time, path, k, case.cursor_line, built.prompt, answer,
                         array("i", ids), len(head))


def build_nes_samples(repo: Path, cfg: NesSampleConfig, *, fmt: PromptFormat | None = None, backend=None,
                      log: Callable[[str], None] = lambda m: None, require: bool = True) -> NesSamples:
    """Samples from the newest ``cfg.max_commits`` commits of ``repo``, split by time.

    ``fmt``: the base model's prompt format (``training.lora.base_format``); ``backend``: one
    that tokenizes (default: the tokenizer alone). ``require``: raise ``DataError`` naming the
    minimum when there are too few samples to train on."""
    repo = Path(repo).resolve()
    if not (repo / ".git").exists():
        raise DataError(f"{repo} is not a git repository (no .git); next-edit samples come from its history")
    times = commit_times(repo, cfg.max_commits)
    held, cutoff = split_commits(times, cfg.heldout_share) if times else (set(), 0)
    stats: Counter = Counter()
    sampler = NesSampler(repo, cfg, fmt, backend)
    blobs = _Blobs(repo)
    out: dict[str, list[NesSample]] = {"train": [], "heldout": []}
    try:
        for commit in walk_commits(repo, cfg.max_commits, cfg.max_files_per_commit, stats):
            stats["commits"] += 1
            if commit.parents > 1:
                stats["skipped: merge commit"] += 1
                continue
            if commit.files > cfg.max_files_per_commit:
                stats[f"skipped: commit over {cfg.max_files_per_commit} files"] += 1
                continue
            part = "heldout" if commit.sha in held else "train"
            if part == "train" and commit.time >= cutoff:
                continue  # not strictly older than the held-out commits (a clock skew): no lookahead
            for path, diff, skip in file_diffs(commit.lines):
                if skip:
                    stats[f"skipped: {skip}"] += 1
                    continue
                hunks = parse_hunks("\n".join(diff)).get(path, [])
                if len(hunks) < 2 or not commit.parents:
                    continue
                data = blobs.get(f"{commit.sha}^", path)
                if data is None:
                    continue
                try:
                    before = data.decode("utf-8")
                except UnicodeDecodeError:
                    stats["skipped: not UTF-8"] += 1
                    continue
                if "\0" in before:
                    stats["skipped: binary"] += 1
                    continue
                if is_large(before):
                    stats["skipped: large document (no edit history)"] += 1
                    continue
                found = sampler.file_samples(commit, path, before, hunks, stats)
                stats[f"{part}_samples"] += len(found)
                out[part].extend(found)
    finally:
        blobs.close()
    train_times = [(sha, t) for sha, t in times if sha not in held]
    head = max(train_times, key=lambda c: c[1])[0] if train_times else None
    result = NesSamples(out["train"], out["heldout"], sorted(held), cutoff, head,
                        changed_files(repo, head) if head else [], stats)
    if require and (len(result.train) < MIN_TRAIN_SAMPLES or not result.heldout):
        raise DataError(
            f"{repo} gave {len(result.train)} training and {len(result.heldout)} held-out next-edit samples from "
            f"{stats['commits']} commits; training needs at least {MIN_TRAIN_SAMPLES} training samples and one "
            "held-out sample (commits that change one file in two places within 10 lines). Point --repo at a "
            "repository with more history, or raise --nes-commits."
        )
    log(f"next-edit samples: {len(result.train)} train, {len(result.heldout)} held out from "
        f"{len(held)} newest commits ({dict(stats)})")
    return result


def changed_files(repo: Path, commit: str) -> list[str]:
    """Files whose text differs between ``commit`` and the working tree (held-out commits and
    uncommitted changes): FIM samples trained beside next-edit ones (``--task both``) hold
    these out, so training never reads text written after the cut."""
    done = subprocess.run(_git(repo, "diff", "--name-only", "--no-renames", "-z", commit),
                          capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise DataError(f"cannot compare {repo} with commit {commit[:12]}: {done.stderr.strip()}")
    return sorted(p for p in done.stdout.split("\0") if p)
