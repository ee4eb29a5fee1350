"""Next-edit prompt formats: the Sweep layout (default) and a Zeta-style variant.

A next-edit prompt shows a model the user's recent edits and a window of the file around the
cursor, as it was when the session started ("original") and as it is now ("current"); the
model answers with the window rewritten ("updated"). docs/next-edit.md describes both
layouts, the budgets and the cursor mapping; this module only builds and parses the text.
Choosing the edits and context files, generating and diffing are the engine's
(``assistant.next_edit``).

Trust (docs/security.md, "control tokens"): prompts are ``model.prompt.Prompt``s. The Sweep
layout's ``<|file_sep|>`` is a marker piece; paths, file text, diffs and windows are text
pieces, so a file that spells a control token gets ordinary tokens. The Zeta-style markers
(``<|editable_region_start|>`` ...) are not tokens of the Qwen vocabulary: they are plain text
that we write, so a window whose text already spells one is refused (``NesPromptError``)
rather than sent, since the answer could not be parsed unambiguously.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from model.prompt import Prompt, RepoFile, as_text, header_line, marker
from model.registry import DEFAULT_FORMAT, PromptFormat

NesFormat = Literal["sweep", "zeta"]

#: Lines above and below the cursor line in a window: 21 lines in all.
WINDOW_RADIUS = 10

EDITABLE_START = "<|editable_region_start|>"
EDITABLE_END = "<|editable_region_end|>"
CURSOR = "<|user_cursor_is_here|>"
START_OF_FILE = "<|start_of_file|>"
ZETA_MARKERS = (EDITABLE_START, EDITABLE_END, CURSOR, START_OF_FILE)

ZETA_INSTRUCTION = (
    "You are a code completion assistant and your task is to analyze user edits and then rewrite an "
    "excerpt that the user provides, suggesting the appropriate edits within the excerpt, taking into "
    "account the cursor location."
)


class NesPromptError(ValueError):
    """The inputs cannot make a prompt (a window spelling a Zeta marker)."""


@dataclass(frozen=True)
class EditBlock:
    """One recent edit as the prompt shows it: the changed lines before and after."""

    path: str
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class NesBudget:
    """Token budgets of a next-edit prompt (docs/next-edit.md, "Budgets")."""

    total: int = 7_000  # the whole prompt, about
    edits: int = 3_500  # recent-edit blocks, newest first
    max_edits: int = 15  # at most this many edit blocks
    context: int = 3_500  # context files, newest first


@dataclass(frozen=True)
class NesPrompt:
    """A built prompt and what the engine needs to read its answer."""

    prompt: Prompt
    format: NesFormat
    window_start: int  # first line of the current window (0-based, in the current text)
    current_window: tuple[str, ...]
    original_window: tuple[str, ...]
    tokens: int  # counted with the model's tokenizer
    edits_used: int
    edits_dropped: int
    context_used: int
    context_dropped: int


def window_bounds(n_lines: int, line: int, radius: int = WINDOW_RADIUS) -> tuple[int, int]:
    """[start, end) of the window around ``line``: ``radius`` lines above and below, cut at the
    ends of the text (a window near the top has fewer lines above)."""
    line = max(0, min(line, max(0, n_lines - 1)))
    return max(0, line - radius), min(n_lines, line + radius + 1)


def map_to_original(original: Sequence[str], current: Sequence[str], line: int) -> int:
    """The line of ``original`` that ``line`` of ``current`` corresponds to, through the one
    edited region between them (their common head and tail skipped): the same line above the
    region, shifted by the change in line count below it, proportional inside it."""
    limit = min(len(original), len(current))
    head = 0
    while head < limit and original[head] == current[head]:
        head += 1
    tail = 0
    while tail < limit - head and original[len(original) - 1 - tail] == current[len(current) - 1 - tail]:
        tail += 1
    cur_end, orig_end = len(current) - tail, len(original) - tail
    if line < head:
        return line
    if line >= cur_end:
        return line - (len(current) - len(original))
    span_cur, span_orig = cur_end - head, orig_end - head
    return head + (line - head) * span_orig // span_cur if span_cur else head


def _count(prompt: Prompt, count_tokens: Callable[[str], int]) -> int:
    """Tokens of ``prompt``: a marker is one token, text pieces as the tokenizer counts them."""
    return sum(1 if i is not None else count_tokens(t) for t, i in prompt.pieces)


def _lines(lines: Sequence[str]) -> str:
    return "".join(f"{s}\n" for s in lines)


def _fit_file(f: RepoFile, room: int, count: Callable[[str], int]) -> RepoFile | None:
    """``f`` cut at a line break to fit ``room`` tokens (its head), or None when nothing fits."""
    content = f.content
    while content:
        if count(f"{header_line(f.path)}\n{content}\n") + 1 <= room:
            return RepoFile(f.path, content)
        lines = content.split("\n")
        keep = len(lines) * 3 // 4  # shrink by a quarter until it fits: a few tokenizer calls
        content = "\n".join(lines[:keep])
    return None


def _select(blocks: Sequence, cost: Callable, room: int, most: int) -> tuple[list, int]:
    """Newest-first choice of ``blocks`` (given oldest first) within ``room`` tokens and ``most``
    blocks; returned oldest first, with the tokens they use."""
    chosen, used = [], 0
    for block in reversed(blocks):
        if len(chosen) == most:
            break
        c = cost(block)
        if used + c > room:
            continue  # a smaller, older one may still fit
        chosen.append(block)
        used += c
    return list(reversed(chosen)), used


def build_nes_prompt(
    path: str,
    original: Sequence[str] | None,
    current: Sequence[str],
    cursor_line: int,
    *,
    edits: Sequence[EditBlock] = (),
    context: Sequence[RepoFile] = (),
    count_tokens: Callable[[str], int],
    budget: NesBudget = NesBudget(),
    cursor_col: int = 0,
    nes_format: NesFormat = "sweep",
    fmt: PromptFormat = DEFAULT_FORMAT,
) -> NesPrompt:
    """The next-edit prompt for the cursor at ``cursor_line`` (0-based) of ``current``.

    ``original``: the lines when the session started (None: the same as ``current``).
    ``edits``: recent edits, oldest first. ``context``: context files, oldest first (the newest
    are kept when the budget is short). ``count_tokens``: the model's tokenizer, on text."""
    original = list(current) if original is None else list(original)
    start, end = window_bounds(len(current), cursor_line)
    cur_win = tuple(current[start:end])
    o_start, o_end = window_bounds(len(original), map_to_original(original, current, cursor_line))
    orig_win = tuple(original[o_start:o_end])
    if nes_format == "zeta":
        for text in cur_win:
            spelled = next((m for m in ZETA_MARKERS if m in text), None)
            if spelled:
                raise NesPromptError(f"the window spells {spelled}, a marker of the Zeta-style format; "
                                     "use the sweep format for this file")
        window = _zeta_window(cur_win, cursor_line - start, cursor_col, at_file_start=start == 0, path=path)
    else:
        if not fmt.repo_level:
            raise NesPromptError(f"the {fmt.family} family has no <|file_sep|>; use the zeta next-edit format")
        window = _sweep_window(path, orig_win, cur_win, fmt)
    # the window (for Zeta with the instruction and headers around it) is always sent
    frame = _zeta_prompt([], [], window) if nes_format == "zeta" else window
    window_tokens = _count(frame, count_tokens)
    edit_room = max(0, min(budget.edits, budget.total - window_tokens))
    edit_cost = (lambda e: 1 + count_tokens(_sweep_edit_text(e))) if nes_format == "sweep" else (
        lambda e: count_tokens(_zeta_edit_text(e)))
    chosen_edits, edits_tokens = _select(list(edits), edit_cost, edit_room, budget.max_edits)
    ctx_room = max(0, min(budget.context, budget.total - window_tokens - edits_tokens))
    chosen_ctx: list[RepoFile] = []
    used = 0
    for f in reversed(list(context)):  # newest first
        fitted = _fit_file(f, ctx_room - used, count_tokens)
        if fitted is None:
            continue
        chosen_ctx.insert(0, fitted)
        used += 1 + count_tokens(f"{header_line(fitted.path)}\n{fitted.content}\n")
    if nes_format == "zeta":
        prompt = _zeta_prompt(chosen_edits, chosen_ctx, window)
    else:
        head = Prompt()
        for f in chosen_ctx:
            head += marker(fmt.file_sep) + f"{header_line(f.path)}\n{f.content}\n"
        for e in chosen_edits:
            head += marker(fmt.file_sep) + _sweep_edit_text(e)
        prompt = head + window
    return NesPrompt(prompt, nes_format, start, cur_win, orig_win, _count(prompt, count_tokens),
                     len(chosen_edits), len(edits) - len(chosen_edits), len(chosen_ctx), len(context) - len(chosen_ctx))


# -- Sweep -------------------------------------------------------------------------------
def _sweep_edit_text(e: EditBlock) -> str:
    return f"{header_line(e.path)}.diff\noriginal:\n{_lines(e.before)}updated:\n{_lines(e.after)}"


def _sweep_window(path: str, orig_win: Sequence[str], cur_win: Sequence[str], fmt: PromptFormat) -> Prompt:
    sep, name = marker(fmt.file_sep), header_line(path)
    return (sep + f"original/{name}\n{_lines(orig_win)}" + sep + f"current/{name}\n{_lines(cur_win)}"
            + sep + f"updated/{name}\n")


# -- Zeta-style --------------------------------------------------------------------------
def _zeta_edit_text(e: EditBlock) -> str:
    body = "".join(f"-{s}\n" for s in e.before) + "".join(f"+{s}\n" for s in e.after)
    return f'User edited "{header_line(e.path)}":\n```diff\n{body}```\n\n'


def _zeta_window(cur_win: Sequence[str], row: int, col: int, *, at_file_start: bool, path: str) -> Prompt:
    lines = list(cur_win) or [""]
    line = lines[row] if row < len(lines) else ""
    col = max(0, min(col, len(line)))
    if row < len(lines):
        lines[row] = line[:col] + CURSOR + line[col:]
    start = f"{START_OF_FILE}\n" if at_file_start else ""
    return as_text(f"```{header_line(path)}\n{start}{EDITABLE_START}\n{_lines(lines)}{EDITABLE_END}\n```\n")


def _zeta_prompt(edits: Sequence[EditBlock], context: Sequence[RepoFile], window: Prompt) -> Prompt:
    events = "".join(_zeta_edit_text(e) for e in edits)
    files = "".join(f"```{header_line(f.path)}\n{f.content}\n```\n\n" for f in context)
    return as_text(f"### Instruction:\n{ZETA_INSTRUCTION}\n\n### User Edits:\n\n{events}"
                   f"### Related Files:\n\n{files}### User Excerpt:\n\n") + window + "\n### Response:\n"


# -- answers -----------------------------------------------------------------------------
def parse_answer(text: str, nes_format: NesFormat) -> tuple[list[str] | None, str]:
    """(the updated window's lines, "") or (None, why the answer is not a window)."""
    if nes_format == "zeta":
        at = text.find(EDITABLE_START)
        if at == -1:
            return None, f"the answer has no {EDITABLE_START}"
        end = text.find(EDITABLE_END, at)  # absent: generation stopped at it (stop_texts)
        text = text[at + len(EDITABLE_START) : len(text) if end == -1 else end].replace(CURSOR, "")
        text = text[1:] if text.startswith("\n") else text
    if not text.strip():
        return None, "the answer is empty"
    return text.removesuffix("\n").split("\n"), ""


def stop_texts(nes_format: NesFormat) -> tuple[str, ...]:
    """Stop strings of an answer (besides the model's stop tokens, ``<|file_sep|>`` among them)."""
    return (EDITABLE_END,) if nes_format == "zeta" else ()
