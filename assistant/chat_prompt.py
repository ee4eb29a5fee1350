"""What goes into a chat or edit prompt, in what order, under a token budget.

The user message is built from, in this order (stable first, so a follow-up question reuses
the KV cache): repository snippets from the same retriever as completion, the current file
around the selection, the selection itself, the editor's diagnostics, then the question or
the edit instruction. Every piece is headed by its path relative to the workspace and its
1-based line range, so the model (and the user, in ``--show-prompt``) can tell where code
lives. Conversation history goes in as earlier turns, trimmed to its own budget, oldest
first. This module only builds text; the engine decides what may enter (``PathPolicy``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant import settings_convert
from assistant.postprocess.languages import language_from_path
from assistant.settings_convert import setting
from model.prompt import ChatMessage
from repo_index import Snippet

CountTokens = Callable[[str], int]


@dataclass(frozen=True)
class ChatConfig:
    context_tokens: int = setting(6144, min=0)
    """Most prompt tokens (system, history, context, question); also capped by the model's
    context window less the answer's tokens."""
    history_tokens: int = setting(1536, min=0)
    """Most tokens of earlier turns; the oldest go first. An earlier turn that carries the
    very context of this question may use the context's share too (it is not sent again)."""
    repo_context_tokens: int = setting(1024, min=0)
    """Most tokens of repository snippets."""
    max_snippets: int = setting(6, min=0)
    """Most repository snippets."""
    file_context_lines: int = setting(80, min=0)
    """Lines of the current file shown before and after the selection (before trimming)."""
    max_selection_tokens: int = setting(3000, min=0)
    """A larger selection is refused with a message (select one function or class)."""
    max_answer_tokens: int = setting(1024, min=0)
    """Most tokens of a chat answer."""
    max_diagnostics: int = setting(20, min=0)
    """Most diagnostics quoted in the prompt."""
    temperature: float = setting(0.0, min=0)
    """0 is greedy (reproducible answers)."""
    generation_time_cap_s: float = setting(600.0, min=0)
    """Generation stops here (the answer so far is kept, marked as cut off)."""
    use_gguf_template: bool = True
    """Format with the chat template carried in the GGUF when there is one (else ChatML)."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> tuple[ChatConfig, list[str]]:
        """A config from untrusted keys, by the one settings converter (``assistant.settings_convert``)."""
        return settings_convert.from_mapping(cls, values)


@dataclass(frozen=True)
class ContextPiece:
    """One piece of a chat prompt and why it is there (``--explain``, the LSP's details)."""

    kind: str  # "snippet", "file", "selection", "diagnostics", "history"
    source: str  # "path:START-END" (1-based, inclusive) or a description
    tokens: int


@dataclass
class ChatContext:
    text: str  # the context part of the user message (may be "")
    pieces: list[ContextPiece] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Region:
    """The file part of a request: its display path, lines, and the selection (0-based,
    end exclusive) or None for the whole file."""

    rel_path: str
    lines: list[str]  # with their line ends
    selection: tuple[int, int] | None

    @property
    def language(self) -> str:
        lang = language_from_path(self.rel_path)
        return "" if lang == "text" else lang

    def selected_text(self) -> str:
        start, end = self.selection or (0, len(self.lines))
        return "".join(self.lines[start:end])


def split_lines(text: str) -> list[str]:
    """Lines with their ends; a final line without a newline counts, an empty tail does not."""
    return text.splitlines(keepends=True)


def fenced(code: str, language: str) -> str:
    fence = "```"
    while fence in code:
        fence += "`"
    body = code if code.endswith("\n") or not code else code + "\n"
    return f"{fence}{language}\n{body}{fence}"


def span(rel_path: str, start: int, end: int) -> str:
    """``path:START-END``, 1-based inclusive, from a 0-based end-exclusive range."""
    return f"{rel_path}:{start + 1}-{max(start + 1, end)}"


class ChatContextBuilder:
    """Packs snippets, the file around the selection and diagnostics into a token budget."""

    def __init__(self, count: CountTokens, config: ChatConfig) -> None:
        self.count = count
        self.config = config

    def build(
        self,
        region: Region | None,
        snippets: Sequence[Snippet],
        diagnostics: Sequence[str],
        budget: int,
        *,
        include_selection: bool = True,
    ) -> ChatContext:
        """The context part of the message. ``include_selection=False`` leaves the selection
        out (an edit shows it beside the instruction) but keeps the file around it."""
        ctx = ChatContext("")
        parts: list[str] = []
        used = 0
        selection_text = ""
        selection_piece = None
        if region is not None and region.selection is not None and include_selection:
            start, end = region.selection
            selection_text = (
                f"Selected lines {start + 1}-{end} of `{region.rel_path}`:\n"
                + fenced(region.selected_text(), region.language)
            )
            used += self.count(selection_text)
            selection_piece = ContextPiece("selection", span(region.rel_path, start, end), self.count(selection_text))
        notes = _diagnostics_text(diagnostics, self.config.max_diagnostics)
        used += self.count(notes) if notes else 0
        snippet_budget = min(self.config.repo_context_tokens, max(0, budget - used))
        snippet_text, used_snippets = self._snippets(snippets, snippet_budget, ctx)
        used += used_snippets
        if snippet_text:
            parts.append(snippet_text)
        if region is not None:
            file_text = self._file(region, max(0, budget - used), ctx)
            if file_text:
                parts.append(file_text)
        if selection_piece is not None:
            parts.append(selection_text)
            ctx.pieces.append(selection_piece)
        if notes:
            parts.append(notes)
            shown = min(len(diagnostics), self.config.max_diagnostics)
            ctx.pieces.append(ContextPiece("diagnostics", f"{shown} diagnostics", self.count(notes)))
        ctx.text = "\n\n".join(parts)
        return ctx

    def _snippets(self, snippets: Sequence[Snippet], budget: int, ctx: ChatContext) -> tuple[str, int]:
        blocks: list[str] = []
        used = 0
        for snip in list(snippets)[: self.config.max_snippets]:
            where = span(snip.path, snip.start_line, snip.end_line)
            why = snip.reason.split(";")[0]
            block = f"`{where}` ({why}):\n" + fenced(snip.text, _lang(snip.path))
            cost = self.count(block) + 2
            if used + cost > budget:
                ctx.pieces.append(ContextPiece("dropped", where, cost))
                continue
            used += cost
            blocks.append(block)
            ctx.pieces.append(ContextPiece("snippet", where, cost))
        if not blocks:
            return "", 0
        return "Code from the repository (path:lines):\n\n" + "\n\n".join(blocks), used + 12

    def _file(self, region: Region, budget: int, ctx: ChatContext) -> str:
        lines, lang, rel = region.lines, region.language, region.rel_path
        if region.selection is None:
            kept = _keep_head(lines, max(0, budget - 24), self.count)
            if not kept and lines:
                ctx.warnings.append(f"{rel} does not fit the prompt budget; the model sees none of it")
                return ""
            if len(kept) < len(lines):
                ctx.warnings.append(f"only lines 1-{len(kept)} of {len(lines)} of {rel} fit the prompt budget")
            ctx.pieces.append(ContextPiece("file", span(rel, 0, len(kept)), self.count("".join(kept))))
            return f"File `{rel}`, lines 1-{len(kept)} of {len(lines)}:\n" + fenced("".join(kept), lang)
        start, end = region.selection
        window = self.config.file_context_lines
        before = lines[max(0, start - window) : start]
        after = lines[end : end + window]
        half = max(0, budget - 48) // 2
        after = _keep_head(after, max(half, budget - 48 - self.count("".join(before))), self.count)
        before = _keep_tail(before, max(0, budget - 48 - self.count("".join(after))), self.count)
        out: list[str] = []
        if before:
            first = start - len(before)
            out.append(f"`{rel}` lines {first + 1}-{start}, before the selection:\n" + fenced("".join(before), lang))
            ctx.pieces.append(ContextPiece("file", span(rel, first, start), self.count("".join(before))))
        if after:
            out.append(f"`{rel}` lines {end + 1}-{end + len(after)}, after the selection:\n" + fenced("".join(after), lang))
            ctx.pieces.append(ContextPiece("file", span(rel, end, end + len(after)), self.count("".join(after))))
        return "\n\n".join(out)


def trim_history(history: Sequence[ChatMessage], budget: int, count: CountTokens) -> tuple[list[ChatMessage], int]:
    """The newest turns of ``history`` within ``budget`` tokens, starting on a user turn;
    returns (kept, how many turns were left out). A leading system message is kept."""
    turns = list(history)
    system = [turns.pop(0)] if turns and turns[0].role == "system" else []
    used = sum(count(m.content) + 5 for m in system)
    kept: list[ChatMessage] = []
    for message in reversed(turns):
        cost = count(message.content) + 5
        if used + cost > budget:
            break
        kept.insert(0, message)
        used += cost
    while kept and kept[0].role != "user":  # an answer without its question confuses models
        kept.pop(0)
    return system + kept, len(turns) - len(kept)


def _diagnostics_text(diagnostics: Sequence[str], limit: int) -> str:
    items = [d.strip() for d in diagnostics if d.strip()][:limit]
    if not items:
        return ""
    more = len([d for d in diagnostics if d.strip()]) - len(items)
    tail = f"\n- ... and {more} more" if more > 0 else ""
    return "Diagnostics the editor reports:\n" + "\n".join(f"- {d}" for d in items) + tail


def _lang(path: str) -> str:
    lang = language_from_path(path)
    return "" if lang == "text" else lang


def _keep_head(lines: list[str], budget: int, count: CountTokens) -> list[str]:
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = count(line)
        if used + cost > budget:
            break
        kept.append(line)
        used += cost
    return kept


def _keep_tail(lines: list[str], budget: int, count: CountTokens) -> list[str]:
    return list(reversed(_keep_head(list(reversed(lines)), budget, count)))


def relative_path(path: Path, root: Path | None) -> str:
    """``path`` relative to the workspace root with "/" separators; its name outside it."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name
