"""Next-edit suggestions: from the edit history, predict the rewrite of the window at the cursor.

``NextEditEngine.suggest`` builds the prompt (``model.nes_prompt``: the Sweep layout by
default) from ``assistant.edit_history``, generates the updated window greedily with the
completion model under its own time caps (prompt-lookup decoding on llama.cpp,
``model.prompt_lookup``), checks that the answer is a whole window, diffs it against the
current window into minimal line edits, and picks the one to offer: at the cursor, an inline
completion whose range replaces text; elsewhere, a jump to it (docs/next-edit.md, "Answers").

It is not LSP (lsp_server turns a ``NextEdit`` into messages) and does not schedule: the
caller runs one request at a time on the model, as for completions.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from assistant import settings_convert
from assistant.edit_history import EditHistory, line_hunks, split_lines
from assistant.settings_convert import setting
from model.backends.base import GenerationRequest, GenerationResult
from model.nes_prompt import (
    EditBlock,
    NesBudget,
    NesPrompt,
    NesPromptError,
    build_nes_prompt,
    parse_answer,
    stop_texts,
)
from model.prompt import RepoFile

log = logging.getLogger("qwenpair.next_edit")


@dataclass(frozen=True)
class NextEditConfig:
    """How next edits are predicted and when; the server's ``[next_edit]`` table
    (docs/configuration.md, docs/next-edit.md)."""

    enabled: bool = True
    """Next edits at all: false = none computed, in the background or on request (the request
    answers `kind` "none" saying so), and no next-edit items among inline completions."""
    model: str = setting("", expected="a model name or path, or \"\"")
    """Model that writes next edits: a registry name (`sweep-next-edit-1.5b`, after `qwenpair
    model pull sweep-next-edit-1.5b`) or a `.gguf` path, loaded on the first next edit; "" =
    the completion model itself (one model, one KV cache with completions)."""
    nes_format: str = setting("sweep", choices=("sweep", "zeta"))
    """Prompt layout: `sweep` (Sweep's next-edit model; default) or `zeta` (Zeta-style region
    markers; docs/next-edit.md)."""
    pause_ms: int = setting(500, min=0)
    """After this many milliseconds without an edit the server computes the next edit in the
    background (never ahead of a completion) and sends `qwenpair/nextEditReady`; 0 = only on
    request and after an accept."""
    max_tokens: int = setting(512, min=1)
    """Cap on the answer: a 21-line window of code is about 250 tokens."""
    prompt_time_cap_s: float = setting(4.0, min=0)
    """Prompt evaluation stops here (as `engine.prompt_time_cap_s` for completions): no suggestion."""
    generation_time_cap_s: float = setting(8.0, min=0)
    """Cap on writing the window; an answer cut by it is no suggestion (a partial window)."""
    prompt_lookup: bool = True
    """Draft tokens from the prompt (prompt-lookup decoding) on llama.cpp: same output, faster."""
    max_line_delta: int = setting(10, min=0)
    """An answer whose line count differs from the window's by more is not a window."""
    max_edit_blocks: int = setting(15, min=0)
    """Recent edits shown to the model, newest kept."""
    budget: ClassVar[NesBudget] = NesBudget()
    """Token budgets of the prompt (docs/next-edit.md, "Budgets"); not a setting."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> tuple[NextEditConfig, list[str]]:
        """A config from untrusted keys; invalid or unknown ones fall back with a message."""
        return settings_convert.from_mapping(cls, values)


class NoSuggestion(Exception):
    """No next edit can be asked for; the message says why."""


@dataclass(frozen=True)
class LineChange:
    """Lines ``start .. end`` (0-based, end exclusive) of the current text become ``lines``."""

    start: int
    end: int
    lines: tuple[str, ...]
    old: tuple[str, ...] = ()

    def range_and_text(self, doc: list[str]) -> tuple[tuple[int, int], tuple[int, int], str]:
        """(start (line, character), end (line, character), new text): the replacement as an
        editor applies it, a document's last line (no final line break) included."""
        n = len(doc)
        if self.end < n:
            return (self.start, 0), (self.end, 0), "".join(f"{s}\n" for s in self.lines)
        last = (n - 1, len(doc[-1])) if n else (0, 0)
        if self.start < n:  # reaches the last line
            if self.lines:
                return (self.start, 0), last, "\n".join(self.lines)
            if self.start == 0:
                return (0, 0), last, ""
            return (self.start - 1, len(doc[self.start - 1])), last, ""
        return last, last, "".join(f"\n{s}" for s in self.lines) if n else "\n".join(self.lines)


@dataclass
class NextEdit:
    """A suggestion, or none with the reason."""

    kind: Literal["inline", "jump", "none"]
    changes: list[LineChange] = field(default_factory=list)  # all edits of the window, in order
    target: LineChange | None = None  # the one offered (nearest the cursor)
    reason: str = ""  # why there is none
    window: tuple[int, int] = (0, 0)  # [start, end) lines of the current window
    prompt_tokens: int = 0
    reused_tokens: int = 0
    generated_tokens: int = 0
    drafted: int = 0
    accepted: int = 0
    latency_s: float = 0.0
    gen_s: float = 0.0
    answer: str = ""  # the model's text (for logs and evaluation)
    stop_reason: str = ""  # the generation's ("cancelled", "time": not an answer to keep)
    prompt: str = ""  # the prompt's text (kept with the suggestion's outcome when allowed)

    @property
    def tokens_per_s(self) -> float:
        return self.generated_tokens / self.gen_s if self.gen_s > 0 else 0.0

    def at(self, line: int) -> NextEdit | None:
        """This prediction for the cursor on ``line`` of the same text: the edit nearest it
        becomes the target (inline when at the line, else a jump); None when ``line`` lies
        outside the window the model saw (a new prompt is needed)."""
        if not self.window[0] <= line < self.window[1]:
            return None
        out = replace(self)
        if self.kind != "none" and self.changes:
            out.target = min(self.changes, key=lambda c: (_distance(c, line), c.start))
            out.kind = "inline" if _distance(out.target, line) == 0 else "jump"
        return out


class Ahead:
    """The latest next edit computed per document, for the exact text it was computed on
    (after an edit pause or an accept): a request for that text is answered from it at once.
    Thread-safe; one entry per document, dropped when the document changes or closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by: dict[str, tuple[str, int, NextEdit]] = {}

    def put(self, key: str, text: str, line: int, got: NextEdit) -> None:
        with self._lock:
            self._by[key] = (text, line, got)

    def get(self, key: str, text: str, line: int) -> NextEdit | None:
        """The prediction for the cursor on ``line`` of ``text``, retargeted (``NextEdit.at``);
        None when there is none for this text, or the line is outside its window (a "none"
        answer counts for its own line only: another line is another window)."""
        with self._lock:
            found = self._by.get(key)
        if found is None or found[0] != text:
            return None
        _, at, got = found
        if got.kind == "none":
            return got if line == at else None
        return got.at(line)

    def drop(self, key: str) -> None:
        with self._lock:
            self._by.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._by.clear()


def window_changes(current: list[str], updated: list[str], window_start: int) -> list[LineChange]:
    """Minimal line edits from ``current`` (a window) to ``updated``, placed at
    ``window_start``; edits that change only whitespace are dropped."""
    out = []
    for start, before, after in line_hunks(current, updated):
        if "".join("".join(before).split()) == "".join("".join(after).split()):
            continue  # no-op or whitespace-only: not worth a suggestion
        out.append(LineChange(window_start + start, window_start + start + len(before), tuple(after), tuple(before)))
    return out


def clip(changes: list[LineChange], lo: int, hi: int) -> list[LineChange]:
    """Changes cut to lines ``lo .. hi``: a change reaching outside the window loses the part
    outside (its replacement lines are kept only when it lies wholly inside)."""
    out = []
    for c in changes:
        if lo <= c.start and c.end <= hi:
            out.append(c)
        elif c.end > lo and c.start < hi:  # overlaps: keep the deletion inside, drop the rest
            out.append(LineChange(max(lo, c.start), min(hi, c.end), (), c.old))
    return out


def _distance(c: LineChange, line: int) -> int:
    if c.start <= line < c.end or (c.start == c.end and c.start in (line, line + 1)):
        return 0
    return c.start - line if c.start > line else line - max(c.start, c.end - 1)


class NextEditEngine:
    """Next edits on one backend, from one edit history."""

    def __init__(self, backend, history: EditHistory, config: NextEditConfig | None = None,
                 *, root: Path | None = None, lock: threading.Lock | None = None) -> None:
        self.backend = backend
        self.history = history
        self.config = config or NextEditConfig()
        self.root = Path(root) if root is not None else None
        # The model's lock, shared with completions when the server gives it (one user of the
        # llama.cpp context at a time); held while the prompt is counted and generated.
        self._lock = lock or threading.Lock()

    def rel(self, path: str | Path) -> str:
        """``path`` as the prompt names it: relative to the workspace root when inside it."""
        p = Path(path)
        if self.root is not None:
            try:
                return p.resolve().relative_to(self.root.resolve()).as_posix()
            except ValueError:
                pass
        return p.name

    def _count(self, text: str) -> int:
        return len(self.backend.tokenize(text))  # a plain str: all text (docs/security.md)

    def prompt(self, path: str | Path, text: str, line: int, col: int = 0) -> NesPrompt:
        """The prompt for the cursor at (``line``, ``col``) of ``path`` whose text is ``text``;
        ``NoSuggestion`` when the document is refused or the window cannot be sent. The history
        learns ``text`` first."""
        key = str(path)
        if key in self.history:
            self.history.update(key, text)
        else:
            self.history.open(key, text)
        if key not in self.history:  # refused on open, or by this update (a secret typed in)
            raise NoSuggestion(f"{key} is refused: {self.history.refused.get(key, 'by the source policy')}")
        cfg = self.config
        edits = [EditBlock(self.rel(e.path), e.before, e.after) for e in self.history.edits() if not e.summary]
        context = []
        for other in reversed(self.history.recent()):  # oldest first; the builder keeps the newest
            if other != key and (lines := self.history.current(other)) is not None:
                context.append(RepoFile(self.rel(other), "\n".join(lines)))
        try:
            return build_nes_prompt(self.rel(path), self.history.original(key), split_lines(text), line,
                                    edits=edits[-cfg.max_edit_blocks:], context=context, count_tokens=self._count,
                                    budget=self._budget(), cursor_col=col, nes_format=cfg.nes_format,
                                    fmt=getattr(self.backend, "prompt_format", None) or _default_format())
        except NesPromptError as exc:
            raise NoSuggestion(str(exc)) from exc

    def _budget(self) -> NesBudget:
        """The prompt's budgets, the total cut to what the model's context leaves for the answer."""
        n_ctx = getattr(self.backend, "n_ctx", None)
        budget = self.config.budget
        if isinstance(n_ctx, int) and n_ctx > 0:
            budget = replace(budget, total=max(256, min(budget.total, n_ctx - self.config.max_tokens)))
        return budget

    def suggest(self, path: str | Path, text: str, line: int, col: int = 0, *,
                cancel: threading.Event | None = None) -> NextEdit:
        """The next edit for the cursor at (``line``, ``col``) of ``path`` whose text is ``text``."""
        t0 = time.perf_counter()
        cfg = self.config
        with self._lock:
            try:
                built = self.prompt(path, text, line, col)
            except NoSuggestion as exc:
                return self._none(str(exc))
            request = GenerationRequest(built.prompt, max_tokens=cfg.max_tokens, stop_texts=stop_texts(cfg.nes_format),
                                        time_limit_s=cfg.generation_time_cap_s, prompt_time_limit_s=cfg.prompt_time_cap_s)
            result, drafted, accepted = self._generate(request, cancel)
        window = (built.window_start, built.window_start + len(built.current_window))
        out = NextEdit("none", window=window, prompt_tokens=result.prompt_tokens, reused_tokens=result.reused_tokens,
                       generated_tokens=len(result.token_ids), drafted=drafted, accepted=accepted,
                       gen_s=result.gen_s, answer=result.text, stop_reason=result.stop_reason, prompt=str(built.prompt))
        out.latency_s = time.perf_counter() - t0
        if result.stop_reason in ("length", "time", "cancelled"):
            return self._none(f"the answer was cut ({result.stop_reason}) after {len(result.token_ids)} tokens: "
                              "a partial window", out)
        updated, why = parse_answer(result.text, cfg.nes_format)
        if updated is None:
            return self._none(why, out)
        if abs(len(updated) - len(built.current_window)) > cfg.max_line_delta:
            return self._none(f"the answer has {len(updated)} lines for a window of {len(built.current_window)}: "
                              "not a window", out)
        out.changes = clip(window_changes(list(built.current_window), updated, built.window_start), *window)
        if not out.changes:
            return self._none("the model changes nothing in the window", out)
        out.target = min(out.changes, key=lambda c: (_distance(c, line), c.start))
        out.kind = "inline" if _distance(out.target, line) == 0 else "jump"
        out.latency_s = time.perf_counter() - t0
        return out

    def _generate(self, request: GenerationRequest, cancel) -> tuple[GenerationResult, int, int]:
        if self.config.prompt_lookup and hasattr(self.backend, "raw"):
            from model.prompt_lookup import generate_with_lookup

            result, stats = generate_with_lookup(self.backend, request, cancel=cancel)
            return result, stats.drafted, stats.accepted
        return self.backend.generate(request, cancel=cancel), 0, 0

    @staticmethod
    def _none(reason: str, out: NextEdit | None = None) -> NextEdit:
        log.info("no next edit: %s", reason)
        out = out or NextEdit("none")
        out.kind, out.reason, out.changes, out.target = "none", reason, [], None
        return out


def _default_format():
    from model.registry import DEFAULT_FORMAT

    return DEFAULT_FORMAT

