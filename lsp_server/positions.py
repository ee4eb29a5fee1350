"""LSP positions <-> the engine's (line, column in Unicode code points).

LSP counts a position's ``character`` in the negotiated encoding's code units: UTF-16 by
default (an emoji is two units), UTF-8 bytes or UTF-32 code points when negotiated. The
engine and the index count code points. These pure functions convert one line at a time,
clamp what is out of range instead of failing, and move a position that falls inside a
surrogate pair (or inside a UTF-8 sequence) to the start of that character.
"""

from __future__ import annotations

from assistant.large_document import line_at, line_count, line_start

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def _width(ch: str, encoding: str) -> int:
    if encoding == UTF16:
        return 2 if ord(ch) > 0xFFFF else 1
    if encoding == UTF8:
        return len(ch.encode("utf-8", "surrogatepass"))
    return 1


def to_col(line: str, character: int, encoding: str) -> int:
    """Code-point column of ``character`` code units into ``line`` (clamped to the line)."""
    if character <= 0:
        return 0
    if encoding == UTF32:
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        units += _width(ch, encoding)
        if units > character:
            return i  # inside this character: its start
    return len(line)


def from_col(line: str, col: int, encoding: str) -> int:
    """Code units of the first ``col`` code points of ``line``."""
    head = line[: max(0, col)]
    if encoding == UTF32:
        return len(head)
    return sum(_width(ch, encoding) for ch in head)


def split_lines(text: str) -> list[str]:
    """Lines as the engine counts them (split on "\\n"; a "\\r" stays on its line)."""
    return text.split("\n")


def to_line_col(text: str, line: int, character: int, encoding: str) -> tuple[int, int]:
    """(line, code-point column) for an LSP position, clamped into ``text``. The line is
    found without splitting the text (a 50 MB document would make millions of line objects)."""
    if line >= line_count(text):
        last, body, _ = line_at(text, line)
        return last, len(body)
    line, body, _ = line_at(text, line)
    return line, to_col(body, character, encoding)


def to_offset(text: str, line: int, character: int, encoding: str) -> int:
    """Code-point offset into ``text`` of an LSP position (clamped)."""
    line, col = to_line_col(text, line, character, encoding)
    return line_start(text, line) + col


def to_position(text: str, line: int, col: int, encoding: str) -> tuple[int, int]:
    """LSP (line, character) of a code-point (line, col) in ``text``."""
    line, body, _ = line_at(text, line)
    return line, from_col(body, col, encoding)
