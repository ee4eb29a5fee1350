"""Filter: drop the text that repeats what already follows the cursor.

Models often regenerate the line(s) after the cursor: the rest of the current line, or the
next lines of the file (a block's closing ``}`` that the editor already inserted, the
``return`` below an empty line). The completion is cut where it starts repeating:

- lines: at the first completion line (stripped) equal to the next code line, when the
  following completion lines agree with the following code lines too — all of them, or at
  least two when the completion runs on past the lines compared (one common line such as
  ``}`` followed by new code is not a repetition);
- the rest of the current line: a completion ending with the text after the cursor loses
  that ending, unless doing so would take away a bracket or quote the completion itself
  opened. Suffixes that are only closers are left to ``closing_brackets``.

The first line counts as a repeated line only when nothing but indentation precedes the
cursor: after typed code, a line equal to the next one is the user's own doing.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from assistant.postprocess.lexer import ScanState, scan, string_at_end

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext

#: How many following code lines a repetition is compared with.
COMPARED_LINES = 3


def drop_suffix_repetition(text: str, ctx: CompletionContext) -> str:
    """``text`` without a tail that repeats the next lines or the rest of the current line."""
    return _drop_repeated_line_end(_drop_repeated_lines(text, ctx), ctx)


def _drop_repeated_lines(text: str, ctx: CompletionContext) -> str:
    typed = bool(ctx.line_prefix.strip())
    if typed and "\n" not in text:
        return text
    following = list(islice((line.strip() for line in ctx.next_lines if line.strip()), COMPARED_LINES))
    if not following:
        return text
    lines = text.split("\n")
    code = [(i, line.strip()) for i, line in enumerate(lines) if (i or not typed) and line.strip()]
    for k, (i, stripped) in enumerate(code):
        if stripped != following[0]:
            continue
        rest = code[k:]
        compared = min(len(rest), len(following))
        if all(rest[j][1] == following[j] for j in range(compared)) and (
            len(rest) <= len(following) or compared >= 2
        ):
            return "\n".join(lines[:i])
    return text


def _drop_repeated_line_end(text: str, ctx: CompletionContext) -> str:
    # Repeated until stable, so that filtering is idempotent ("00" before "0" -> "0" -> "").
    while (cut := _drop_line_end_once(text, ctx)) != text:
        text = cut
    return text


def _drop_line_end_once(text: str, ctx: CompletionContext) -> str:
    tail = ctx.line_suffix.strip()
    if not any(c.isalnum() or c == "_" for c in tail):
        return text
    body = text.rstrip()
    if not body.endswith(tail):
        return text
    kept = body[: len(body) - len(tail)]
    spec = ctx.spec
    start = ScanState(quote=string_at_end(ctx.line_prefix, spec))
    before, after = scan(kept, spec, start).state, scan(body, spec, start).state
    # The ending may go only if it closes nothing the kept text opened.
    if (before.stack, before.quote) != (after.stack, after.quote):
        return text
    return kept
