"""Single-line or multi-line: decided before generation, enforced after it.

What it is: ``decide_line_mode`` — the engine calls it before generating, to pick the stop
strings and the token cap — and the filter ``keep_single_line`` that truncates a single-line
request's output to its first line (a backend may ignore or overshoot the ``"\\n"`` stop).

The rule (what Copilot and Tabby do):

- real text after the cursor on the line -> single-line (mid-line edits stay on the line).
  Closers and quotes alone (``)``, ``}``, ``");``, ``}()``: what the editor auto-closed)
  are not real text: ``foo(‸)`` counts as the end of the line;
- the end of a line that opens a block (``def f():‸``, ``if (x) {‸}``, ``def fib(‸)``) ->
  multi-line, even when the block already has a body below (the model may add a first
  statement; repeating the body is cut by the suffix-repetition filter);
- a blank or whitespace-only line inside a block (right under a block opener, or indented)
  -> multi-line;
- the end of a signature whose body is missing (``fn main()‸``, ``def f(x)‸``) -> multi-line;
- anything else (the end of an ordinary statement, a blank line at the top level) ->
  single-line.

What it is not: the block trimming itself (``block_scope``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.postprocess.blocks import block_owner, indent_width, next_code_line

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext

#: What an editor auto-closes or a statement ends with: after the cursor they are not "text".
CLOSER_ONLY = frozenset(")]}\"'`;, \t")


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


def only_closers(text: str) -> bool:
    """``text`` holds nothing but closers, quotes, ``;``/``,``, empty calls and blanks
    (``}()`` after ``go func() {‸``), or nothing."""
    return all(c in CLOSER_ONLY for c in text.replace("()", ""))


def decide_line_mode(ctx: CompletionContext, limits: ModeLimits = DEFAULT_LIMITS) -> LineMode:
    """Single- or multi-line for a request at ``ctx`` (``ctx.multiline`` itself is ignored)."""

    def single(reason: str) -> LineMode:
        return LineMode(False, reason, ("\n",), limits.single_max_tokens)

    def multi(reason: str) -> LineMode:
        # No stop string: where a block ends depends on indentation and brackets, which the
        # block-scope filter judges; the token cap bounds the cost.
        return LineMode(True, reason, (), limits.multi_max_tokens)

    if not only_closers(ctx.line_suffix):
        return single("mid-line: text after the cursor")
    owner = block_owner(ctx)
    typed = bool(ctx.line_prefix.strip())
    if owner.opens:
        following = next_code_line(ctx.next_lines)
        has_body = following is not None and indent_width(following) > owner.width
        where = "end of a line that opens a block" if typed else "blank line under a block opener"
        return multi(f"{where}{' with a body' if has_body else ' (empty block)'}")
    if not typed:
        if owner.width > 0:
            return multi("blank line inside a block")
        return single("blank line at the top level")
    if signature_without_body(ctx):
        return multi("end of a signature whose body is missing")
    return single("end of a line that opens no block")


def signature_without_body(ctx: CompletionContext) -> bool:
    """The line before the cursor is a declaration's signature and no body follows it."""
    pattern = ctx.spec.signature
    if pattern is None or not re.search(pattern, ctx.line_prefix.rstrip()):
        return False
    following = next_code_line(ctx.next_lines)
    return following is None or indent_width(following) <= indent_width(ctx.line_prefix)


def keep_single_line(text: str, ctx: CompletionContext) -> str:
    """A single-line request keeps only the first line of the output."""
    if ctx.multiline:
        return text
    return text.split("\n", 1)[0].rstrip("\r")
