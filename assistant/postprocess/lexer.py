"""A tiny bracket-and-string scanner: just enough lexing to count brackets honestly.

What it is: one pass over a piece of code that skips strings, comments and char literals
(as a language's ``LanguageSpec`` describes them) and tracks the brackets still open. It
reports the *excess* closers: those that close a bracket opened before the scanned text,
which is how the filters tell "the completion closed something it did not open".

What it is not: a parser. It does not know regex literals, string interpolation, raw-string
hash fences or nested comments; on such input it can miscount a line, and says so when it
notices (``misread``: a one-line string ran into a newline), so that the block-scope filter
can ask tree-sitter instead (``syntax``). It is used first because it runs in microseconds on
the keystroke path and needs no parse at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from assistant.postprocess.languages import LanguageSpec

OPENERS = "([{"
CLOSERS = ")]}"
_MATCHING = {")": "(", "]": "[", "}": "{"}


@dataclass(slots=True)
class ScanState:
    """Where a scan stands: open brackets (innermost last), the string or comment it is in."""

    stack: list[str] = field(default_factory=list)
    quote: str | None = None  # the delimiter of the string being scanned
    comment: str | None = None  # the closing marker of the block comment being scanned

    def copy(self) -> ScanState:
        return ScanState(list(self.stack), self.quote, self.comment)


class ScanResult(NamedTuple):
    state: ScanState  # the state after the text
    excess: list[int]  # offsets of closers that closed a bracket opened before the text
    comment_at: int  # offset of the first line comment in code, -1 if none
    misread: bool  # a single-line string ran into a newline: likely a construct we do not lex


class _Patterns(NamedTuple):
    source: LanguageSpec
    code: re.Pattern[str]
    strings: dict[str, re.Pattern[str]]
    line_comments: frozenset[str]
    block_comments: dict[str, str]
    quotes: frozenset[str]


_CACHE: dict[str, _Patterns] = {}


def _patterns(spec: LanguageSpec) -> _Patterns:
    cached = _CACHE.get(spec.name)
    if cached is not None and cached.source is spec:
        return cached
    alternatives = []
    if spec.char_literals:
        # 'x' and '\n' are chars; a lone ' is a lifetime (Rust) or part of a name (Haskell).
        alternatives.append(r"'(?:\\.|[^\\'\n])'")
    markers = [o for o, _ in spec.block_comments] + list(spec.line_comments) + list(spec.quotes)
    alternatives += [re.escape(m) for m in sorted(markers, key=len, reverse=True)]
    alternatives.append(r"[()\[\]{}]")
    strings = {
        # An escape pair is skipped whole; a single-line string also ends at the newline,
        # so one unterminated string cannot swallow the rest of a completion.
        q: re.compile(r"\\.|" + re.escape(q) + ("" if q in spec.multiline_quotes else r"|\n"), re.S)
        for q in spec.quotes
    }
    patterns = _Patterns(
        spec,
        re.compile("|".join(alternatives)),
        strings,
        frozenset(spec.line_comments),
        dict(spec.block_comments),
        frozenset(spec.quotes),
    )
    _CACHE[spec.name] = patterns
    return patterns


def scan(text: str, spec: LanguageSpec, state: ScanState | None = None) -> ScanResult:
    """Scan ``text`` from ``state`` (outside any string, no brackets open, by default)."""
    p = _patterns(spec)
    st = state.copy() if state is not None else ScanState()
    excess: list[int] = []
    comment_at = -1
    misread = False
    pos, end = 0, len(text)
    while pos < end:
        if st.comment is not None:
            close = text.find(st.comment, pos)
            if close < 0:
                break
            pos = close + len(st.comment)
            st.comment = None
            continue
        if st.quote is not None:
            m = p.strings[st.quote].search(text, pos)
            if m is None:
                break
            pos = m.end()
            if m.group() == "\n":
                misread = True  # regex literal, raw string, nested f-string quote, ...
                st.quote = None
            elif m.group() == st.quote:
                st.quote = None
            continue
        m = p.code.search(text, pos)
        if m is None:
            break
        token, pos = m.group(), m.end()
        if token in OPENERS:
            st.stack.append(token)
        elif token in CLOSERS:
            want = _MATCHING[token]
            if st.stack and st.stack[-1] == want:
                st.stack.pop()
            elif want in st.stack:  # a missing closer in between: resynchronise on this one
                del st.stack[len(st.stack) - 1 - st.stack[::-1].index(want) :]
            elif not st.stack:
                excess.append(m.start())
            # else: a stray closer that matches nothing open; ignore it
        elif token in p.quotes:
            st.quote = token
        elif token in p.line_comments:
            if comment_at < 0:
                comment_at = m.start()
            newline = text.find("\n", pos)
            pos = end if newline < 0 else newline
        elif token in p.block_comments:
            st.comment = p.block_comments[token]
        # else: a char literal, skipped whole
    return ScanResult(st, excess, comment_at, misread)


def code_of(line: str, spec: LanguageSpec) -> str:
    """``line`` without its trailing line comment, right-stripped."""
    at = scan(line, spec).comment_at
    return (line if at < 0 else line[:at]).rstrip()


def string_at_end(text: str, spec: LanguageSpec) -> str | None:
    """The delimiter of the string ``text`` ends inside (e.g. the cursor is in a string), or None."""
    return scan(text, spec).state.quote


def string_end(text: str, quote: str, spec: LanguageSpec) -> int:
    """Where a ``quote`` string that ``text`` starts inside ends (offset past its end), or -1."""
    pattern = _patterns(spec).strings.get(quote)
    if pattern is None:
        return -1
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        if m.group() in (quote, "\n"):
            return m.end()
        pos = m.end()
    return -1
