"""Repository-level FIM samples built exactly the way the server builds its prompts.

A sample is a masked span of one file of the repository: the file without the span, the
cursor where the span was, and the prompt the completion engine would send for that cursor
(``CompletionEngine.build_prompt``, on the same workspace index, retriever, path policy and
context budget as ``qwenpair serve``). The model is trained on the span (plus the
``<|endoftext|>`` the server stops on) after that prompt, so training sees exactly what
serving sends: the repo header with retrieved cross-file snippets, the current line's text
up to the cursor after ``<|fim_middle|>``, and nothing of the span itself (the retriever
never shows the current file).

Spans follow CrossCodeEval and RepoEval:

- ``line``: the rest of a line from a point after its indentation;
- ``api``: the rest of a line from the start of a function or method call;
- ``block``: the indented body under a line that opens a block (``:`` or ``{``).

The held-out split is by file (a stable hash of the path) or by recency (the files most
recently changed in git history are held out), so no held-out position shares a file with a
training one. Files come through the workspace policy (``repo_index.SourcePolicy``): ignored
and secret files (by name, or by content anywhere in them) and symlinks whose real target
is refused never reach a sample, as they never reach a prompt.
"""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.request import CompletionRequest
from assistant.session import open_session
from model.registry import PromptFormat
from model.tokens import ENDOFTEXT_ID
from repo_index import SourcePolicy, syntax_errors
from training.errors import DataError
from training.lora_config import SPLITS, SampleConfig

#: A repository smaller than this cannot give a meaningful held-out split.
MIN_FILES = 4
MIN_TRAIN_SAMPLES = 16
#: Lines of a block span at most (RepoEval's function-level spans are longer; CPU budgets are not).
MAX_BLOCK_LINES = 12

_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\(")
_DEFINITION = re.compile(r"^\s*(def|class|function|func|fn|public|private|static|import|from|#include)\b")


@dataclass(frozen=True)
class Span:
    """A masked span of one file: ``text[start:end]`` is what the model must write."""

    path: str  # relative, "/" separators
    kind: str  # line | api | block
    start: int  # character offsets into the file text
    end: int


@dataclass
class RepoSample:
    span: Span
    prompt: str  # the engine's prompt for the cursor at span.start
    middle: str  # the masked text
    ids: list[int] = field(default_factory=list)  # prompt + middle + <|endoftext|>
    n_prompt: int = 0  # the first n_prompt ids are context (not trained on)


@dataclass
class RepoSamples:
    train: list[RepoSample]
    heldout: list[RepoSample]
    train_files: list[str]
    heldout_files: list[str]
    stats: Counter


def source_files(root: Path) -> tuple[dict[str, str], Counter]:
    """Relative path -> text of every file the workspace policy allows (path rules, symlink
    targets, and secret content scanned over the whole text) and tree-sitter parses."""
    policy = SourcePolicy(root)
    rules = policy.rules_for(root)
    assert rules is not None
    stats: Counter = Counter()
    files: dict[str, str] = {}
    for path in rules.walk():
        rel = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            stats["unreadable"] += 1
            continue
        verdict = policy.judge_text(text)  # the whole file: a key past the first 8 KB counts
        if not verdict.allowed:
            stats[f"skipped: {verdict.reason}"] += 1
            continue
        if syntax_errors(path, text) is None:
            stats["not_source"] += 1
            continue
        if text.strip():
            files[rel] = text
    stats.update(f"skipped: {reason}" for reason in rules.skipped.values())
    return files, stats


def split_files(root: Path, files: list[str], cfg: SampleConfig) -> tuple[list[str], list[str]]:
    """(train, held-out) file lists; at least one of each."""
    if cfg.split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {cfg.split!r}")
    n_held = min(len(files) - 1, max(1, round(len(files) * cfg.heldout_share)))
    if cfg.split == "recency":
        times = git_change_times(root)
        newest = max(times.values(), default=0) + 1  # files with no history are the newest
        order = sorted(files, key=lambda f: (-times.get(f, newest), f))
    else:
        order = sorted(files, key=lambda f: hashlib.sha256(f"{cfg.seed}:{f}".encode()).hexdigest())
    held = sorted(order[:n_held])
    return sorted(f for f in files if f not in held), held


def git_change_times(root: Path) -> dict[str, int]:
    """Relative path -> time of the last commit that changed it (empty outside git)."""
    try:
        out = subprocess.run(["git", "-C", str(root), "log", "--format=@%ct", "--name-only", "--no-renames"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    times: dict[str, int] = {}
    when = 0
    for line in out.splitlines():
        if line.startswith("@"):
            when = int(line[1:])
        elif line.strip():
            times.setdefault(line.strip(), when)  # log is newest first
    return times


def pick_spans(rel: str, text: str, kinds: tuple[str, ...], per_file: int, rng: random.Random) -> list[Span]:
    """Up to ``per_file`` spans of each kind in one file, drawn with ``rng``."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    found: dict[str, list[Span]] = {k: [] for k in kinds}
    for i, line in enumerate(lines):
        body = line.strip()
        if not body or body.startswith(("#", "//", "/*", "*", '"""')):
            continue
        indent = len(line) - len(line.lstrip())
        if "line" in found and len(body) >= 4:
            words = [m.start() for m in re.finditer(r"(?<=\s)\S", line) if m.start() > indent]
            col = rng.choice([indent] + words[: max(1, len(words) // 2)])
            found["line"].append(Span(rel, "line", starts[i] + col, starts[i] + len(line.rstrip())))
        if "api" in found and not _DEFINITION.match(line):
            calls = [m.start() for m in _CALL.finditer(line) if m.start() >= indent]
            if calls:
                found["api"].append(Span(rel, "api", starts[i] + calls[0], starts[i] + len(line.rstrip())))
        if "block" in found and body.endswith((":", "{")):
            end = _block_end(lines, i, indent)
            if end > i + 1:
                found["block"].append(Span(rel, "block", starts[i + 1], starts[end - 1] + len(lines[end - 1].rstrip())))
    spans: list[Span] = []
    for kind in kinds:
        options = found[kind]
        spans.extend(rng.sample(options, min(per_file, len(options))))
    return spans


def _block_end(lines: list[str], header: int, indent: int) -> int:
    """One past the last line of the indented body under ``lines[header]``."""
    end = header + 1
    while end < len(lines) and end - header <= MAX_BLOCK_LINES:
        line = lines[end]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    while end > header + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def build_repo_samples(root: Path, cfg: SampleConfig, *, tokenize: Callable[[str], list[int]] | None = None,
                       log: Callable[[str], None] = lambda m: None, fmt: PromptFormat | None = None,
                       hold_out: list[str] | None = None) -> RepoSamples:
    """Draw spans from every usable file of ``root`` and build their prompts with the engine.

    ``fmt``: the base model's prompt format (``training.lora.base_format``), which the server
    takes from the model it loads; None: Qwen2.5-Coder's. ``hold_out``: files held out
    whatever the split says (the files changed since a next-edit split's cut,
    ``training.nes_samples.changed_files``); when none of them is a usable file, the split decides.

    Raises ``DataError`` naming the minimum when the repository is too small to train on.
    """
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    root = Path(root).resolve()
    if not root.is_dir():
        raise DataError(f"--repo {root} is not a directory")
    files, stats = source_files(root)
    if len(files) < MIN_FILES:
        raise DataError(
            f"{root} has {len(files)} usable source file(s); LoRA training needs at least {MIN_FILES} "
            f"(files under ignore or secret rules do not count). Point --repo at a larger repository."
        )
    forced = sorted(set(hold_out or ()) & set(files))
    if forced:
        train_files, heldout_files = sorted(set(files) - set(forced)), forced
    else:
        train_files, heldout_files = split_files(root, sorted(files), cfg)
    backend = TokenizerOnlyBackend(n_ctx=max(4096, cfg.max_tokens + 256))
    if fmt is not None:
        backend.prompt_format = fmt  # the engine builds in the format the server will use
    count = tokenize or backend.tokenize
    session = open_session(root, backend, config=cfg.engine_config())
    out: dict[str, list[RepoSample]] = {"train": [], "heldout": []}
    try:
        for rel in sorted(files):
            part = "heldout" if rel in heldout_files else "train"
            rng = random.Random(f"{cfg.seed}:{rel}")
            for span in pick_spans(rel, files[rel], cfg.kinds, cfg.per_file, rng):
                sample = _sample(session, root, files[rel], span, count)
                if len(sample.ids) > cfg.max_tokens:
                    stats["overlong"] += 1
                    continue
                stats[f"{part}_{span.kind}"] += 1
                out[part].append(sample)
    finally:
        session.close()
    result = RepoSamples(out["train"], out["heldout"], train_files, heldout_files, stats)
    if len(result.train) < MIN_TRAIN_SAMPLES or not result.heldout:
        raise DataError(
            f"{root} gave {len(result.train)} training and {len(result.heldout)} held-out samples from "
            f"{len(files)} files; LoRA training needs at least {MIN_TRAIN_SAMPLES} training samples and one "
            "held-out sample. Point --repo at a larger repository, or raise --samples-per-file."
        )
    log(f"samples: {len(result.train)} train from {len(train_files)} files, {len(result.heldout)} held out "
        f"from {len(heldout_files)} files ({dict(stats)})")
    return result


def masked_request(root: Path, text: str, span: Span) -> tuple[CompletionRequest, str]:
    """The request a user at the span's start would send (the file without the span) and the span."""
    masked = text[: span.start] + text[span.end :]
    line = masked.count("\n", 0, span.start)
    col = span.start - (masked.rfind("\n", 0, span.start) + 1)
    return CompletionRequest(root / span.path, masked, line, col), text[span.start : span.end]


def _sample(session, root: Path, text: str, span: Span, tokenize: Callable[[str], list[int]]) -> RepoSample:
    request, middle = masked_request(root, text, span)
    session.engine.context.forget(request.path)  # each span retrieves for its own text
    prompt, _, _ = session.engine.build_prompt(request)
    head = tokenize(prompt)
    ids = head + tokenize(middle) + [ENDOFTEXT_ID]
    return RepoSample(span, prompt, middle, ids, len(head))
