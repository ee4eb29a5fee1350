"""Filter: do not double the closing brackets and quotes already after the cursor.

``foo(‸)`` completed with ``a, b)`` would give ``foo(a, b))``: the editor (or the user)
already closed the call. The longest ending of the completion made of closers, quotes,
``;`` and ``,`` that the current line continues with is removed — but only when none of it
is needed by the completion itself: each bracket must close one opened *before* the cursor
(``foo(‸)`` + ``bar(x)`` keeps its ``)``), each quote must close the string the cursor is in.

What it is not: repetition of whole lines (``suffix_repeat``), which runs before this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.postprocess.languages import LanguageSpec
from assistant.postprocess.lexer import CLOSERS, ScanState, scan, string_at_end, string_end

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext

#: Characters a completion can end with that the line after the cursor may already hold.
CLOSING_CHARS = frozenset(")]}\"'`;,")


def reconcile_closers(text: str, ctx: CompletionContext) -> str:
    """``text`` without a closing ending that the line after the cursor already has."""
    after = ctx.line_suffix
    if not after or not text or text[-1] not in CLOSING_CHARS:
        return text
    run = 0
    while run < min(len(after), len(text)) and text[-1 - run] in CLOSING_CHARS:
        run += 1
    spec = ctx.spec
    quote = string_at_end(ctx.line_prefix, spec)
    for k in range(run, 0, -1):
        if after.startswith(text[-k:]) and _removable(text[:-k], text[-k:], spec, quote):
            return text[:-k]
    return text


def _removable(kept: str, tail: str, spec: LanguageSpec, cursor_quote: str | None) -> bool:
    """Nothing in ``tail`` closes a bracket or string that ``kept`` opened."""
    if cursor_quote is not None and string_end(kept, cursor_quote, spec) < 0:
        stack: list[str] = []  # all of kept is inside the string the cursor is in
        quote: str | None = cursor_quote
    else:
        state = scan(kept, spec, ScanState(quote=cursor_quote)).state
        if state.quote is not None or state.comment is not None:
            return False  # the tail would close the completion's own string or comment
        stack, quote = state.stack, None
    for ch in tail:
        if quote is not None:
            if ch != quote:
                return False
            quote = None  # closes the string the cursor is in, as the line after it does
        elif ch in CLOSERS:
            if stack:
                return False  # closes a bracket the completion opened
        elif ch in spec.quotes:
            return False  # would open a string
    return True
