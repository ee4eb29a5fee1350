"""Filter: re-indent the completion's lines with the file's indent unit (tabs vs spaces).

The model mostly copies the file's style, but it drifts: spaces in a Go file, tabs in a
Python file indented with spaces. Lines after the first have their leading tabs/spaces
converted; the first line continues the current line, so it is never re-indented. Lines
that start inside a multi-line string are left alone: their whitespace is string content.

What it is not: a formatter. A file indented with two spaces and a completion indented
with four keep their widths; only the tab/space kind is converted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.postprocess.blocks import leading_ws
from assistant.postprocess.lexer import ScanState, scan, string_at_end

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext


def normalise_indentation(text: str, ctx: CompletionContext) -> str:
    """``text`` with lines 2.. indented in ``ctx.indent_unit``'s kind."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    if ctx.indent_unit == "\t":
        if not any(line[:1] == " " for line in lines[1:]):
            return text
        step = _space_step(lines[1:])

        def convert(ws: str) -> str:
            width = len(ws.expandtabs(step))
            return "\t" * (width // step) + " " * (width % step)

    else:
        if not any("\t" in leading_ws(line) for line in lines[1:]):
            return text
        unit = len(ctx.indent_unit) or 4

        def convert(ws: str) -> str:
            return ws.expandtabs(unit)

    spec = ctx.spec
    state = scan(lines[0] + "\n", spec, ScanState(quote=string_at_end(ctx.line_prefix, spec))).state
    out = [lines[0]]
    for line in lines[1:]:
        ws = leading_ws(line)
        if ws and state.quote is None:
            line = convert(ws) + line[len(ws) :]
        out.append(line)
        state = scan(line + "\n", spec, state).state
    return "\n".join(out)


def _space_step(lines: list[str]) -> int:
    """How many spaces the completion uses per level: 4 unless its indents say 2."""
    widths = [len(ws) for ws in map(leading_ws, lines) if ws and ws.strip(" ") == ""]
    if all(w % 4 == 0 for w in widths):
        return 4
    if all(w % 2 == 0 for w in widths):
        return 2
    return 4
