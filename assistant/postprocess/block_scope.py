"""Filter: trim a multi-line completion to the block it started in.

Models rarely stop at the end of the block: after the body of ``def f():`` they go on to
write the next function, or repeat the code that follows the cursor. The completion ends:

- at a line that dedents out of the block — in indentation languages to the owner line's
  width or less, in brace languages strictly less (there the braces decide, and styles such
  as ``case`` aligned with ``switch`` sit at the owner's width);
- after the line that closes more brackets than the completion opened — the block's own
  closing line (``}``, ``)``, ``end``). It is kept: only the text after the cursor can tell
  whether it is already there, and the suffix-repetition filter, next in the chain, drops it
  when it is. A closing line that opens a new block (``} else {``) keeps only its closers.

Lines that start inside a string or comment are not judged by their indentation.
What it is not: a parser; brackets are counted by ``lexer.scan``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from assistant.postprocess.blocks import block_owner, indent_width, leading_ws
from assistant.postprocess.languages import LanguageSpec
from assistant.postprocess.lexer import OPENERS, ScanResult, ScanState, code_of, scan, string_at_end

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext


def trim_to_block(text: str, ctx: CompletionContext) -> str:
    """``text`` cut where it leaves the cursor's block."""
    if not ctx.multiline or "\n" not in text:
        return text
    spec = ctx.spec
    owner = block_owner(ctx)
    if owner.opens and spec.indent_blocks:
        bound = owner.width + 1  # the body must be deeper than its owner
    else:
        bound = owner.width  # braces delimit the block; siblings share the cursor's width
    unindented = re.compile(spec.unindented_lines) if spec.unindented_lines else None
    lines = text.split("\n")
    state = ScanState(quote=string_at_end(ctx.line_prefix, spec))
    for i, line in enumerate(lines):
        in_code = state.quote is None and state.comment is None
        result = scan(line + "\n", spec, state)  # the newline ends single-line strings
        if (
            i > 0
            and in_code
            and line.strip()
            and indent_width(line) < bound
            and not (unindented and unindented.match(line))
        ):
            if _closes_block(line, result, spec):
                return "\n".join([*lines[:i], _closing_part(line, result, spec)])
            return "\n".join(lines[:i])
        if result.excess:
            return "\n".join([*lines[:i], _closing_part(line, result, spec)])
        state = result.state
    return text


def _closes_block(line: str, result: ScanResult, spec: LanguageSpec) -> bool:
    """The dedented ``line`` is the block's closing line: it starts with an excess closer or an end word."""
    start = len(leading_ws(line))
    if result.excess and result.excess[0] == start:
        return True
    word = line[start:].split(None, 1)[0] if line.strip() else ""
    return word in spec.closer_words


def _closing_part(line: str, result: ScanResult, spec: LanguageSpec) -> str:
    """What to keep of the line that closes the block: all of it, unless it opens a new block."""
    if not result.excess:
        return line  # an end word such as ``end``
    end = result.excess[0]
    while end < len(line) and line[end] in ")]};, \t":
        end += 1
    rest = code_of(line[end:], spec)
    if rest and rest[-1] in OPENERS:  # `} else {`, `}).then(() => {`: a new block we do not fill
        return line[:end].rstrip()
    return line
