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

- after an arrow (``(x) =>‸``), at the end of a first line that is a whole statement
  (`` x * 2;``): the body was an expression, not a block;
- when the first line closes the cursor's bracket and opens a block (``def fib(‸)`` +
  ``n):``, ``if (‸)`` + ``x) {``), the completion goes on into that block's body, which
  ends where that block closes (brace languages) or dedents (indentation languages);
- when the completion writes a declaration of its own — on a signature line, or on a blank
  line among members (a class, impl or object body, the top level; ``syntax.cursor_scope``
  asks tree-sitter) — at the line that starts the next sibling: a line back at the
  cursor's width after the body went deeper (``set foo()`` after ``get foo()``). Among
  statements (a function body) further statements stay.

Lines that start inside a string or comment are not judged by their indentation.
Brackets are counted by ``lexer.scan``; only when it reports a misread (a regex literal, a raw
string) is the completion — the completion alone — parsed with tree-sitter (``syntax``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from assistant.postprocess.blocks import block_owner, indent_width, leading_ws
from assistant.postprocess.languages import LanguageSpec, opener_pattern
from assistant.postprocess.lexer import OPENERS, ScanState, code_of, scan, string_at_end
from assistant.postprocess.line_mode import signature_without_body
from assistant.postprocess.syntax import cursor_scope, snippet_structure

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
    shape = _shape(lines, spec, string_at_end(ctx.line_prefix, spec))
    if _expression_body_ends(lines[0], ctx, spec, owner.opens):
        return lines[0]  # `(x) =>` + ` x * 2;`: the arrow's body was one expression
    start = indent_width(ctx.line_prefix)
    one_member: bool | None = None  # decided when first needed: it may parse the window
    reopened = deeper = False
    for i, line in enumerate(lines):
        excess = shape.excess[i]
        code_line = i > 0 and shape.in_code[i] and bool(line.strip())
        if code_line and not (unindented and unindented.match(line)):
            width = indent_width(line)
            closing = excess == len(leading_ws(line)) or _first_word(line) in spec.closer_words
            if width < bound:
                if closing:
                    return "\n".join([*lines[:i], _closing_part(line, excess, spec)])
                return "\n".join(lines[:i])
            if deeper and width <= start and not closing and line.lstrip()[0] not in ")]}":
                if one_member is None:
                    one_member = _writes_one_member(ctx, owner.opens)
                if one_member:
                    return "\n".join(lines[:i])  # the next sibling member
            deeper = deeper or width > start
        if excess >= 0:
            if i == 0 and _opens_after(line, excess, spec):
                reopened = True  # `def fib(‸)` + `n):`: on into the body
                continue
            return "\n".join([*lines[:i], _closing_part(line, excess, spec)])
        if reopened and i > 0 and shape.depth[i] == 0 and not spec.indent_blocks:
            return "\n".join(lines[: i + 1])  # the block the first line opened is closed
    return text


def _expression_body_ends(first: str, ctx: CompletionContext, spec: LanguageSpec, owner_opens: bool) -> bool:
    """After an arrow (``=>``) the body may be an expression; its statement ends the block."""
    if not owner_opens or spec.indent_blocks or not code_of(ctx.line_prefix, spec).endswith("=>"):
        return False
    result = scan(first, spec)
    code = first if result.comment_at < 0 else first[: result.comment_at]
    return not result.state.stack and result.state.quote is None and code.rstrip().endswith(";")


def _writes_one_member(ctx: CompletionContext, owner_opens: bool) -> bool:
    """The completion declares one member of its own: it started on a signature, or on a
    blank line among members. Typed code that opens a block (``class A {‸``) is filled whole."""
    if ctx.line_prefix.strip():
        return not owner_opens and signature_without_body(ctx)
    before = "\n".join((*ctx.prev_lines, ctx.line_prefix))
    after = "\n".join((ctx.line_suffix, *ctx.next_lines))
    return cursor_scope(before, after, ctx.spec.name) == "members"


def _opens_after(line: str, excess: int, spec: LanguageSpec) -> bool:
    """After the closers at ``excess``, the line opens a block (``x) {``, ``n) -> int:``)."""
    end = excess
    while end < len(line) and line[end] in ")]}":
        end += 1
    rest = code_of(line[end:], spec).strip()
    return bool(rest) and opener_pattern(spec).search(rest) is not None


class _Shape(NamedTuple):
    in_code: list[bool]  # per line: it starts in code (not inside a string or comment)
    excess: list[int]  # per line: offset of its first closer of a bracket opened before the text, or -1
    depth: list[int]  # per line: brackets the text opened still open at its end (-1: unknown)


def _shape(lines: list[str], spec: LanguageSpec, quote: str | None) -> _Shape:
    """The shape per the lexer; per tree-sitter instead when the lexer misread something."""
    in_code, excess, depth = [], [], []
    misread = False
    state = ScanState(quote=quote)
    for line in lines:
        in_code.append(state.quote is None and state.comment is None)
        result = scan(line + "\n", spec, state)  # the newline ends single-line strings
        excess.append(result.excess[0] if result.excess else -1)
        misread = misread or result.misread
        state = result.state
        depth.append(len(state.stack))
    if misread and quote is None:
        return _parsed_shape(lines, spec) or _Shape(in_code, excess, depth)
    return _Shape(in_code, excess, depth)


def _parsed_shape(lines: list[str], spec: LanguageSpec) -> _Shape | None:
    structure = snippet_structure("\n".join(lines), spec.name)
    if structure is None:
        return None
    excess = [-1] * len(lines)
    line, line_start = 0, 0
    for at in structure.excess:
        while at > line_start + len(lines[line]):
            line_start += len(lines[line]) + 1
            line += 1
        if excess[line] < 0:
            excess[line] = at - line_start
    return _Shape([i not in structure.inside for i in range(len(lines))], excess, [-1] * len(lines))


def _first_word(line: str) -> str:
    words = line.split(None, 1)
    return words[0] if words else ""


def _closing_part(line: str, excess: int, spec: LanguageSpec) -> str:
    """What to keep of the line that closes the block: all of it, unless it opens a new block."""
    if excess < 0:
        return line  # an end word such as ``end``
    end = excess
    while end < len(line) and line[end] in ")]};, \t":
        end += 1
    rest = code_of(line[end:], spec)
    if rest and rest[-1] in OPENERS:  # `} else {`, `}).then(() => {`: a new block we do not fill
        return line[:end].rstrip()
    return line
