"""Filter: drop the text that repeats what already follows the cursor.

Models often regenerate the line(s) after the cursor: the rest of the current line, or the
next lines of the file (a block's closing ``}`` that the editor already inserted, the
``return`` below an empty line). The completion is cut where it starts repeating:

- lines: at the first completion line (stripped) equal to the next code line, when the
  following completion lines agree with the following code lines too — all of them, or at
  least two when the completion runs on past the lines compared (one common line such as
  ``}`` followed by new code is not a repetition). A line of closers alone (``}``, ``end``)
  must also sit at the same width: the ``}`` of an inner block is not the outer one's below.
  The line holding the closer of what the editor auto-closed *on the cursor's line*
  (``Config{‸}``) is that closer's replacement (``replace_range``), not a repetition of the
  next line's ``}``;
- the rest of the current line: a completion ending with the text after the cursor loses
  that ending, unless doing so would take away a bracket or quote the completion itself
  opened. Suffixes that are only closers are left to ``replace_range``.

The first line counts as a repeated line only when nothing but indentation precedes the
cursor: after typed code, a line equal to the next one is the user's own doing.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from assistant.postprocess.blocks import indent_width
from assistant.postprocess.lexer import ScanState, scan, string_at_end
from assistant.postprocess.replace_range import closer_run, unpaired_closers

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
    following = list(islice((_key(line) for line in ctx.next_lines if line.strip()), COMPARED_LINES))
    if not following:
        return text
    lines = text.split("\n")
    first = _after_own_closer_line(text, ctx)
    code = [(i, _key(line)) for i, line in enumerate(lines) if (i or not typed) and i >= first and line.strip()]
    for k, (i, key) in enumerate(code):
        if key != following[0]:
            continue
        rest = code[k:]
        compared = min(len(rest), len(following))
        if all(rest[j][1] == following[j] for j in range(compared)) and (
            len(rest) <= len(following) or compared >= 2
        ):
            return "\n".join(lines[:i])
    return text


def _key(line: str) -> str | tuple[int, str]:
    """What two lines must share to repeat each other: the code, and for a line of closers
    alone its width too."""
    stripped = line.strip()
    if stripped.strip(")]};,") and stripped not in _CLOSER_WORDS:
        return stripped
    return indent_width(line), stripped


#: Words that close a block alone on a line (Ruby, Lua, shell).
_CLOSER_WORDS = frozenset({"end", "end)", "end,", "until", "fi", "done", "esac"})


def _after_own_closer_line(text: str, ctx: CompletionContext) -> int:
    """The first line that may repeat the next lines: after the line where the completion
    closes what the editor auto-closed right after the cursor, if it does."""
    run = closer_run(ctx.line_suffix)
    if not run or "\n" not in text:
        return 0
    spans = unpaired_closers(text, ctx)
    if not spans or not run.startswith(text[spans[0][0] : spans[0][1]]):
        return 0
    return text.count("\n", 0, spans[0][0]) + 1


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
    quote = string_at_end(ctx.line_prefix, spec)
    before = scan(kept, spec, ScanState(quote=quote)).state
    # The ending may go only if it closes nothing the kept text opened: the kept text ends
    # where it started (in the cursor's string, if any, with no bracket of its own open).
    if before.stack or before.quote != quote or before.comment is not None:
        return text
    lead = ctx.line_suffix[: len(ctx.line_suffix) - len(ctx.line_suffix.lstrip())]
    if lead and kept.endswith(lead):
        kept = kept[: len(kept) - len(lead)]  # the line keeps its own space before the rest
    return kept
