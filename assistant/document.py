"""Positions in a document: 0-based line and Unicode-character column, clamped safely.

The CLI speaks 1-based LINE:COL counting Unicode characters (docs/design.md §8); the language
server converts UTF-16 or UTF-8 positions before they get here. A position past the end of
a line or of the file is clamped, with a warning the caller can show.
"""

from __future__ import annotations

from dataclasses import dataclass

#: (text, its lines) of the last split; one tuple, replaced atomically, so threads share it.
_last_split: tuple[str, list[str]] | None = None


def lines_of(text: str) -> list[str]:
    """``text.split("\n")``, computed once per document text: one request asks for the lines
    several times, on two threads (cursor and cache key on the caller's, prompt window on the
    scheduler's), and on a 1 MB file each split costs about a millisecond. Keyed by the
    identity of the (immutable) text. Callers must not modify the list."""
    global _last_split
    last = _last_split
    if last is not None and last[0] is text:
        return last[1]
    lines = text.split("\n")
    _last_split = (text, lines)
    return lines


def forget_lines() -> None:
    """Drop the kept split: called when a document closes, whose text (4 MB and its 64,000
    line objects at the size cap) would otherwise stay alive until the next split."""
    global _last_split
    _last_split = None


@dataclass(frozen=True)
class Cursor:
    line: int  # 0-based
    col: int  # 0-based, in Unicode characters
    offset: int  # character offset into the text
    warning: str | None = None  # set when the requested position was clamped


def clamp_cursor(text: str, line: int, col: int) -> Cursor:
    """The cursor at (line, col), clamped into ``text``."""
    lines = lines_of(text)
    warning = None
    if line < 0 or col < 0:
        warning = f"position {line + 1}:{col + 1} is before the start of the file; using 1:1"
        line, col = 0, 0
    if line >= len(lines):
        warning = f"line {line + 1} is past the end of the file ({len(lines)} lines); using the last line"
        line, col = len(lines) - 1, len(lines[-1])
    if col > len(lines[line]):
        warning = warning or (
            f"column {col + 1} is past the end of line {line + 1} ({len(lines[line])} characters); "
            "using the end of the line"
        )
        col = len(lines[line])
    offset = sum(map(len, lines[:line])) + line + col
    return Cursor(line, col, offset, warning)
