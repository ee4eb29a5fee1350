"""Positions in a document: 0-based line and Unicode-character column, clamped safely.

The CLI speaks 1-based LINE:COL counting Unicode characters (DESIGN.md §8); the language
server converts UTF-16 or UTF-8 positions before they get here. A position past the end of
a line or of the file is clamped, with a warning the caller can show.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cursor:
    line: int  # 0-based
    col: int  # 0-based, in Unicode characters
    offset: int  # character offset into the text
    warning: str | None = None  # set when the requested position was clamped


def clamp_cursor(text: str, line: int, col: int) -> Cursor:
    """The cursor at (line, col), clamped into ``text``."""
    lines = text.split("\n")
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
    offset = sum(len(s) + 1 for s in lines[:line]) + col
    return Cursor(line, col, offset, warning)
