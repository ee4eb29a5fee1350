"""Documents over the size cap: file-level context from a window of lines around the cursor.

A document over ``LARGE_DOCUMENT_CHARS`` (4 MB; docs/configuration.md, "Large documents")
is never split into lines, copied whole or handed to the index: a completion in it sees the
lines around the cursor only (``window``), and its items are moved back to the document's
line numbers (``shift``). ``line_start`` finds a line without splitting the text, so a
position in a 50 MB document costs no per-line objects. ``read_window`` is the same for a
file on disk, read line by line: ``qwenpair complete`` in a 200 MB file holds only the window.
A chat or an edit in a large document sees the selection and the lines around it
(``chat_window``); an edit made on that window is moved back with ``moved_proposal``.

What it is not: the completion pipeline itself (``engine``), which runs unchanged on the window.
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from assistant.chat_errors import Refused
from assistant.request import CompletionItem, CompletionRequest
from assistant.streaming import settle

#: Documents (and files) over this many characters get file-level context around the cursor only.
LARGE_DOCUMENT_CHARS = 4_000_000
#: Lines kept before and after the cursor in a large document's window.
WINDOW_LINES = 400
#: Characters kept on either side of the cursor in the window (a minified file is one line).
WINDOW_CHARS = 64_000
_STEP = 4096


def is_large(text: str) -> bool:
    return len(text) > LARGE_DOCUMENT_CHARS


def line_count(text: str) -> int:
    return text.count("\n") + 1


def line_start(text: str, line: int) -> int:
    """Offset of the start of ``line`` (0-based; clamped to the last line), found by counting
    newlines in steps: no list of lines is made."""
    if line <= 0:
        return 0
    pos = _skip_lines(text, 0, line)
    return text.rfind("\n") + 1 if pos is None else pos


def offset_after(text: str, pos: int, lines: int) -> int:
    """Offset of the start of the ``lines``-th line after the one holding ``pos`` (``len(text)``
    when the text ends first), counted in steps like ``line_start``."""
    if lines <= 0:
        return pos
    end = _skip_lines(text, pos, lines)
    return len(text) if end is None else end


def _skip_lines(text: str, pos: int, lines: int) -> int | None:
    """Offset just after the ``lines``-th newline from ``pos``, or None when the text has fewer:
    ``str.count`` over steps of ``_STEP`` characters, then ``index`` within the last step."""
    seen, n = 0, len(text)
    while pos < n:
        end = min(n, pos + _STEP)
        found = text.count("\n", pos, end)
        if seen + found >= lines:
            for _ in range(lines - seen):
                pos = text.index("\n", pos) + 1
            return pos
        seen, pos = seen + found, end
    return None


def line_at(text: str, line: int) -> tuple[int, str, int]:
    """(line clamped into ``text``, its text, its start offset)."""
    line = max(0, line)
    start = line_start(text, line)
    if start == text.rfind("\n") + 1:  # the last line: clamp the number too
        line = min(line, line_count(text) - 1)
    end = text.find("\n", start)
    return line, text[start : end if end != -1 else len(text)], start


def window(text: str, line: int, col: int, lines: int = WINDOW_LINES) -> tuple[int, str, int]:
    """(first line, window text, column shift) around (line, col): up to ``lines`` lines on
    each side, cut to ``WINDOW_CHARS`` characters on each side of the cursor. The column
    shift is non-zero only when the cursor's own line was cut before the cursor; the window
    then starts on the cursor's line that many characters in."""
    line, body, start = line_at(text, line)
    first = max(0, line - lines)
    lo = line_start(text, first)
    hi, pos = len(text), start
    for _ in range(lines + 1):  # the cursor's line and ``lines`` more
        end = text.find("\n", pos)
        if end == -1:
            hi = len(text)
            break
        hi, pos = end, end + 1
    cursor = start + min(max(0, col), len(body))
    shift_col = 0
    if cursor - lo > WINDOW_CHARS:
        nl = text.find("\n", cursor - WINDOW_CHARS, cursor)
        if nl != -1:  # a line start is near enough: the window starts there
            lo = nl + 1
            first = line - text.count("\n", lo, start)
        else:  # the cursor's own line is longer: cut inside it
            lo, first, shift_col = cursor - WINDOW_CHARS, line, cursor - WINDOW_CHARS - start
    hi = min(hi, cursor + WINDOW_CHARS)
    return first, text[lo:hi], shift_col


def windowed(request: CompletionRequest) -> tuple[CompletionRequest, int, int]:
    """The request on the window around its cursor, the window's first line and column shift."""
    first, text, shift_col = window(request.text, request.line, request.col)
    line, _, _ = line_at(request.text, request.line)
    return dataclasses.replace(request, text=text, line=line - first, col=max(0, request.col - shift_col)), first, shift_col


def shift(items: list[CompletionItem], first: int, shift_col: int = 0) -> list[CompletionItem]:
    """Items in window coordinates moved to the document's (the window starts at ``first``;
    its first line starts ``shift_col`` characters into the document's line)."""
    out = []
    for item in items:
        col = item.col + (shift_col if item.line == 0 else 0)
        end_col = item.end_col + (shift_col if item.end_line == 0 else 0)
        out.append(dataclasses.replace(item, line=item.line + first, col=col,
                                       end_line=item.end_line + first, end_col=end_col))
    return out


def too_large_note(chars: int) -> str:
    return (f"the document is {chars / 1e6:.1f} MB, over the {LARGE_DOCUMENT_CHARS / 1e6:.0f} MB cap: "
            f"file-level context from the {WINDOW_LINES} lines on each side of the cursor only "
            "(docs/configuration.md, \"Large documents\")")


def chat_window(text: str, selection: tuple[int, int] | None) -> tuple[int, str, str]:
    """(first line, window, note) of a large document for a chat or an edit: the selected lines
    [start, end) whole (the start of the file without one) and up to ``WINDOW_LINES`` lines,
    at most ``WINDOW_CHARS`` characters, on each side, cut at line breaks. A selection itself
    over the size cap is refused: no prompt could hold it."""
    last = line_count(text) - 1
    start, end = selection or (0, 0)
    start = min(max(0, start), last)
    end = max(start, end)
    s_off = line_start(text, start)
    e_off = offset_after(text, s_off, end - start)
    if e_off - s_off > LARGE_DOCUMENT_CHARS:
        raise Refused(f"the selection is {(e_off - s_off) / 1e6:.1f} MB, too much for one request; "
                      "select less (one function or class at a time)")
    first = max(0, start - WINDOW_LINES)
    lo = line_start(text, first)
    if s_off - lo > WINDOW_CHARS:  # long lines before: keep the whole lines nearest the selection
        nl = text.find("\n", s_off - WINDOW_CHARS, s_off)
        lo = nl + 1 if nl != -1 else s_off
        first = start - text.count("\n", lo, s_off)
    hi = offset_after(text, e_off, WINDOW_LINES)
    if hi - e_off > WINDOW_CHARS:
        nl = text.rfind("\n", e_off, e_off + WINDOW_CHARS)
        hi = nl + 1 if nl != -1 else e_off
    window = text[lo:hi]
    shown = window.count("\n") + (0 if window.endswith("\n") else 1)
    note = (f"the document is {len(text) / 1e6:.1f} MB, over the {LARGE_DOCUMENT_CHARS / 1e6:.0f} MB cap: "
            f"only its lines {first + 1}-{first + shown} were used (docs/configuration.md, \"Large documents\")")
    return first, window, note


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", re.MULTILINE)


def shift_diff(diff: str, first: int) -> str:
    """A unified diff of a window whose first line is the document's ``first``, with its hunk
    headers moved to the document's line numbers."""
    if not first:
        return diff
    return _HUNK.sub(lambda m: f"@@ -{int(m[1]) + first}{m[2] or ''} +{int(m[3]) + first}{m[4] or ''} @@", diff)


def read_window(path: Path, line: int, lines: int = WINDOW_LINES) -> tuple[str, int, int]:
    """(window text, first line, file size in bytes) of a file read line by line: only the
    lines around ``line`` are kept, whatever the file's size (a line past the end gets the
    last lines). Bytes that are not UTF-8 are replaced, as ``read_text`` does."""
    first = max(0, line - lines)
    kept: list[bytes] = []
    tail: deque[bytes] = deque(maxlen=lines + 1)
    size = path.stat().st_size
    number = -1
    with path.open("rb") as f:
        for number, raw in enumerate(f):
            if number > line + lines:
                break
            (kept if number >= first else tail).append(raw)
    if not kept:
        kept, first = list(tail), number + 1 - len(tail)
    data = b"".join(kept)
    if number > line + lines:  # stopped early: the last kept line's newline is not the file's end
        data = data[:-1]
    return data.decode("utf-8", errors="replace"), first, size


def complete_in_window(complete_streamed: Callable[[CompletionRequest], tuple[Future, Future]],
                       request: CompletionRequest) -> tuple[Future, Future]:
    """``CompletionEngine.complete_streamed`` for a large document: run on the window, the
    results moved back to the document's lines and carrying the note why the context is
    file-level only."""
    small, first, shift_col = windowed(request)
    note = too_large_note(len(request.text))
    head, final = complete_streamed(small)
    mapped = _moved(head, first, shift_col, note)
    return mapped, (mapped if final is head else _moved(final, first, shift_col, note))


def _moved(source: Future, first: int, shift_col: int, note: str) -> Future:
    out: Future = Future()

    def move(result):
        return dataclasses.replace(result, items=shift(result.items, first, shift_col),
                                   warnings=[note, *result.warnings])

    source.add_done_callback(lambda done: settle(out, done, move))
    return out
