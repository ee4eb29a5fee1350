"""The last step: which auto-closed characters after the cursor the completion replaces.

The editor has often closed what the user opened: ``foo(‸)``, ``print("‸")``, ``{‸}``. A
completion that closes them too (``a, b)``) must not double them. Rather than cut the
model's closers off, the item *replaces* the ones after the cursor: its range runs from the
cursor over them (LSP ``InlineCompletionItem.range``), so ``foo(‸)`` + ``a, b);`` gives
``foo(a, b);`` — the completion may also go further than the editor's closers did.

The closers that count are the completion's *unpaired* ones: the quote that ends the string
the cursor is in, and brackets that close one opened before the cursor (``foo(‸)`` +
``bar(x)`` closes nothing of the line's). Against the run of closers right after the cursor
(``)]}"'``, then ``;`` and ``,``):

- they are a prefix of the run: the range covers that much, plus the ``;``/``,`` that
  follow in both (``foo(‸);`` + ``a);`` replaces ``);``);
- they go beyond the run and the line ends there: the range covers the whole run (the
  completion extends the closers: ``[foo(‸)`` + ``a)]``);
- they diverge, or the line has real text after the run: the completion is trimmed right
  after the last unpaired closer the run holds — scoped to the string or bracket the cursor
  is in (``println!("{‸}", x);`` stops at the string's end);
- none of them matches: no range, the text stays as it is. A completion is never dropped
  for its closers.

In a string, the run starts with the string's rest when the completion reproduces it right
before its closing quote (``printf("a=%d ‸\\n", a);`` + ``b=%d\\n", a, b);`` replaces
``\\n"`` and stops there).

A completion that only reproduces the closers (``foo(x‸)`` + ``)``) changes nothing: "".
What it is not: repetition of the rest of the line (``suffix_repeat``), which runs before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from assistant.postprocess.lexer import scan, string_at_end, string_end

if TYPE_CHECKING:
    from assistant.postprocess.context import CompletionContext

#: What an editor auto-closes (brackets, quotes) ...
_CLOSERS = frozenset(")]}\"'`")
#: ... and what may follow them in the run that a completion can replace.
_TRAILERS = frozenset(";,")


class Shown(NamedTuple):
    """A post-processed completion: its text and how much of the line after the cursor it
    replaces (0: a plain insertion at the cursor)."""

    text: str
    replace: int = 0


def closer_run(line_suffix: str) -> str:
    """The auto-closed run right after the cursor: closers and quotes, then ``;``/``,``."""
    end = 0
    while end < len(line_suffix) and line_suffix[end] in _CLOSERS:
        end += 1
    while end < len(line_suffix) and line_suffix[end] in _TRAILERS:
        end += 1
    return line_suffix[:end]


def unpaired_closers(text: str, ctx: CompletionContext) -> list[tuple[int, int]]:
    """(start, end) of each closer in ``text`` that closes something opened before the cursor."""
    spec = ctx.spec
    quote = string_at_end(ctx.line_prefix, spec)
    spans: list[tuple[int, int]] = []
    start = 0
    if quote is not None:
        end = string_end(text, quote, spec)
        if end < 0 or text[end - 1] == "\n":
            return []  # the string goes on past the completion (or breaks at its newline)
        spans.append((end - len(quote), end))
        start = end
    spans += [(start + at, start + at + 1) for at in scan(text[start:], spec).excess]
    return spans


def cover_closers(text: str, ctx: CompletionContext) -> Shown:
    """``text``, possibly trimmed, and how many characters after the cursor it replaces."""
    if not text:
        return Shown(text)
    spans = unpaired_closers(text, ctx)
    run = _string_rest(text, spans, ctx) or closer_run(ctx.line_suffix)
    if not run:
        return Shown(text)
    covered, matched = 0, 0
    for start, end in spans:
        if not run.startswith(text[start:end], covered):
            break
        covered += end - start
        matched += 1
    if not matched:
        return Shown(text)
    cut = spans[matched - 1][1]
    if ctx.line_suffix[len(run) :].strip():
        text = text[:cut]  # real text follows: stay inside the string or bracket
    elif matched < len(spans):
        if covered < len(run.rstrip(";,")):
            text = text[:cut]  # it closes something else than the line does next
        else:
            cut = spans[-1][1]  # it extends the line's closers
    # The ``;``/``,`` both have after the closers are replaced too.
    while covered < len(run) and cut < len(text) and text[cut] == run[covered] and run[covered] in _TRAILERS:
        covered += 1
        cut += 1
    return _nothing_new(text, covered, ctx)


def _string_rest(text: str, spans: list[tuple[int, int]], ctx: CompletionContext) -> str:
    """When the cursor is in a string whose rest on the line (``\\n"`` in
    ``printf("a=%d ‸\\n", a)``) the completion reproduces right before its own closing
    quote: that rest, then the closers after it. The completion's quote span is widened to
    cover it (``spans[0]`` is replaced). Otherwise ""."""
    quote = string_at_end(ctx.line_prefix, ctx.spec)
    if quote is None or not spans:
        return ""
    end = string_end(ctx.line_suffix, quote, ctx.spec)
    if end <= len(quote) or ctx.line_suffix[end - 1] == "\n":
        return ""  # the quote comes first (closer_run covers it), or the string does not end
    rest = ctx.line_suffix[:end]
    start, stop = spans[0]
    if stop < len(rest) or not text.endswith(rest, 0, stop):
        return ""
    spans[0] = (stop - len(rest), stop)
    return rest + closer_run(ctx.line_suffix[end:])


def _nothing_new(text: str, replace: int, ctx: CompletionContext) -> Shown:
    if text == ctx.line_suffix[:replace]:
        return Shown("")  # it only retypes what is there
    if not ctx.line_suffix[replace:].strip():
        text = text.rstrip()  # it replaces the rest of the line: nothing to keep apart
    return Shown(text, replace)
