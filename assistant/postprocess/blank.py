"""Filter (last): tidy the completion's outer whitespace; drop whitespace-only results.

- whitespace-only (or empty) -> "" : nothing to show;
- after typed code that ends with a space, leading spaces would double it (``return  x``);
- at the end of the line, trailing whitespace and blank lines are noise. Before closers the
  editor auto-closed (``{‸}``) one line end may stay, so that the ``}`` keeps a line of its
  own. Mid-line a trailing space may be what separates the completion from the text after
  the cursor, so it stays.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.postprocess.line_mode import only_closers

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext


def drop_blank(text: str, ctx: CompletionContext) -> str:
    """``text`` with its outer whitespace tidied, or "" when nothing else is left."""
    if not text.strip():
        return ""
    if ctx.line_prefix[-1:] in (" ", "\t") and ctx.line_prefix.strip():
        text = text.lstrip(" \t")
    if not ctx.line_suffix.strip():
        text = text.rstrip()
    elif only_closers(ctx.line_suffix):
        text = _TRAILING_BLANK.sub(lambda m: "\n" if "\n" in m.group() else "", text)
    return text


_TRAILING_BLANK = re.compile(r"\s+$")
