"""Block geometry around the cursor: indentation widths and the line that owns the block.

What it is: the shared answer to "which line's block is the completion filling, and does that
line open a new block?", used both by the single/multi-line decision (before generation) and
by the block-scope filter (after it), so the two can never disagree.

What it is not: a parser; a line "opens a block" when its code (comment stripped) ends the way
its language's ``block_opener`` says (``:`` in Python, ``{`` ``(`` ``[`` in brace languages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.postprocess.languages import LanguageSpec, opener_pattern
from assistant.postprocess.lexer import scan

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext

#: Tabs count as this many columns when widths are compared. Any fixed value works as long as
#: a file is consistent, and indentation is normalised to the file's unit before comparing.
TAB_WIDTH = 4


def leading_ws(line: str) -> str:
    """The spaces and tabs ``line`` starts with."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_width(line: str) -> int:
    """The indentation of ``line`` in columns (a tab is ``TAB_WIDTH`` columns)."""
    ws = leading_ws(line)
    return len(ws.expandtabs(TAB_WIDTH)) if "\t" in ws else len(ws)


def opens_block(line: str, spec: LanguageSpec) -> bool:
    """``line`` ends (or, for keyword languages, starts) the way a block-opening line does."""
    result = scan(line, spec)
    if result.state.quote is not None or result.state.comment is not None:
        return False  # it ends inside a string or comment: `x = "a {`
    code = (line if result.comment_at < 0 else line[: result.comment_at]).strip()
    if code.endswith(":") and result.state.stack:
        return False  # a slice or a lambda inside brackets (`d[1:`), not a block
    return bool(code) and opener_pattern(spec).search(code) is not None


def next_code_line(lines: tuple[str, ...]) -> str | None:
    """The first non-blank line of ``lines``."""
    return next((line for line in lines if line.strip()), None)


@dataclass(frozen=True)
class BlockOwner:
    """The line whose block the cursor is in."""

    width: int  # its indentation, in columns
    opens: bool  # it opens a block that the completion is to fill (the body goes deeper)


def block_owner(ctx: CompletionContext) -> BlockOwner:
    """The owner of the cursor's block.

    The current line when it has code before the cursor (``def f():‸``); the previous code
    line when the cursor sits on a blank line right under a block opener (the editor already
    indented the new line); otherwise the cursor's own blank line, whose indentation then
    bounds the siblings the completion may add.
    """
    spec = ctx.spec
    if ctx.line_prefix.strip():
        return BlockOwner(indent_width(ctx.line_prefix), opens_block(ctx.line_prefix, spec))
    previous = next_code_line(ctx.prev_lines[::-1])
    if previous is not None and opens_block(previous, spec):
        return BlockOwner(indent_width(previous), True)
    return BlockOwner(indent_width(ctx.line_prefix), False)
