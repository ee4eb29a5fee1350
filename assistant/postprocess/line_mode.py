"""Single-line or multi-line: decided before generation, enforced after it.

What it is: ``decide_line_mode`` — the engine calls it before generating, to pick the stop
strings and the token cap — and the filter ``keep_single_line`` that truncates a single-line
request's output to its first line (a backend may ignore or overshoot the ``"\\n"`` stop).

The rule (Copilot's and Tabby's, simplified):

- text after the cursor on the line -> single-line (mid-line edits stay on the line);
- the end of a line that opens a block (``def f():‸``, ``if (x) {‸``), or a blank line right
  under one (the editor already indented it), when the next code line is not indented deeper
  (the block is still empty) -> multi-line;
- anything else -> single-line.

What it is not: the block trimming itself (``block_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.postprocess.blocks import block_owner, indent_width, next_code_line

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext


@dataclass(frozen=True)
class ModeLimits:
    """Generation caps per mode; the engine's latency sizing may lower them further."""

    single_max_tokens: int = 48  # one line of code, with room for long identifiers
    multi_max_tokens: int = 128  # a short block body; the block-scope filter trims the rest


@dataclass(frozen=True)
class LineMode:
    """The decision, with what the engine needs to generate for it."""

    multiline: bool
    reason: str  # one short phrase, shown by --explain
    stop_texts: tuple[str, ...]  # extra stop strings for the backend
    max_tokens: int


DEFAULT_LIMITS = ModeLimits()


def decide_line_mode(ctx: CompletionContext, limits: ModeLimits = DEFAULT_LIMITS) -> LineMode:
    """Single- or multi-line for a request at ``ctx`` (``ctx.multiline`` itself is ignored)."""

    def single(reason: str) -> LineMode:
        return LineMode(False, reason, ("\n",), limits.single_max_tokens)

    if ctx.line_suffix.strip():
        return single("mid-line: text after the cursor")
    owner = block_owner(ctx)
    if not owner.opens:
        return single("end of a line that opens no block")
    following = next_code_line(ctx.next_lines)
    if following is not None and indent_width(following) > owner.width:
        return single("the block already has a body")
    reason = "end of a line that opens an empty block" if ctx.line_prefix.strip() else "blank line in an empty block"
    # No stop string: where a block ends depends on indentation and brackets, which the
    # block-scope filter judges; the token cap bounds the cost.
    return LineMode(True, reason, (), limits.multi_max_tokens)


def keep_single_line(text: str, ctx: CompletionContext) -> str:
    """A single-line request keeps only the first line of the output."""
    if ctx.multiline:
        return text
    return text.split("\n", 1)[0].rstrip("\r")
