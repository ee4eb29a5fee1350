"""Code windows for lexical retrieval: where they start and end, and their terms.

A file is cut into consecutive, non-overlapping windows of ``window_min_lines`` to
``window_max_lines`` lines (CrossCodeEval uses 10, RepoCoder 20). Where the parse tree is
known, a window ends just before a statement, preferring shallow ones (a top-level
``def`` over a line inside a loop); plain text ends windows after blank lines.

Terms are the distinct identifiers (two or more characters) of a window, hashed with CRC-32
so worker processes and later runs agree on them without sharing a vocabulary. A collision
merges two rare identifiers in the BM25 statistics, which is harmless for ranking. Term
frequencies are not kept: BM25 saturates them quickly, and a set costs half a Counter on the
indexing hot path.

Windows of one file travel and persist as one packed blob (``pack_windows``).
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Iterable, NamedTuple

import numpy as np

from repo_index.config import IndexConfig

IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]+")
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*(?=\n)")
_MAGIC = b"QW2\0"
_HEADER = struct.Struct("<4sII")
_NO_BOUNDARY = 1 << 20


class Windows(NamedTuple):
    """The windows of one file as arrays; window i's terms are terms[offsets[i]:offsets[i+1]]."""


    starts: np.ndarray  # int32, first line
    ends: np.ndarray  # int32, exclusive
    lengths: np.ndarray  # int32, number of identifier tokens (BM25 document length)
    offsets: np.ndarray  # int32, n + 1
    terms: np.ndarray  # uint32 term hashes, distinct within a window

    def __len__(self) -> int:
        return len(self.starts)


def line_starts(data: bytes) -> np.ndarray:
    """Byte offset of every line start, plus len(data) as a sentinel."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.empty(len(newlines) + 2, dtype=np.int64)
    starts[0] = 0
    starts[1:-1] = newlines + 1
    starts[-1] = len(data)
    if len(newlines) and newlines[-1] == len(data) - 1:
        starts = starts[:-1]  # a final newline does not start another line
    return starts


def count_lines(starts: np.ndarray) -> int:
    return len(starts) - 1


def syntax_boundaries(root, max_lines: int) -> dict[int, int]:
    """Line -> depth of the shallowest statement starting on that line, descending only into
    nodes too long for one window (so the walk stays small)."""
    boundaries: dict[int, int] = {}
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.named_children:
            row = child.start_point[0]
            if boundaries.get(row, _NO_BOUNDARY) > depth:
                boundaries[row] = depth
            if child.end_point[0] - row > max_lines:
                stack.append((child, depth + 1))
    return boundaries


def blank_line_boundaries(data: bytes, starts: np.ndarray, base_depth: int) -> dict[int, int]:
    """Lines just after a blank line, at ``base_depth`` (text has no other structure)."""
    # A blank line is a newline followed by optional spaces and another newline; the regex
    # runs in C, which matters on large text files.
    offsets = [m.end() for m in _BLANK_LINE.finditer(data)]
    if not offsets:
        return {}
    lines = np.searchsorted(starts, np.asarray(offsets), side="right")
    return {int(line): base_depth for line in lines}


def window_spans(n_lines: int, boundaries: dict[int, int], config: IndexConfig) -> list[tuple[int, int]]:
    """Consecutive windows covering all lines, each ending on the best boundary in range."""
    spans: list[tuple[int, int]] = []
    lo_len, hi_len, target = config.window_min_lines, config.window_max_lines, config.window_target_lines
    start = 0
    while start < n_lines:
        if n_lines - start <= hi_len:
            end = n_lines
        else:
            best = None
            best_key = None
            for cut in range(start + lo_len, start + hi_len + 1):
                depth = boundaries.get(cut)
                if depth is None:
                    continue
                key = (depth, abs(cut - start - target))
                if best_key is None or key < best_key:
                    best, best_key = cut, key
            end = best if best is not None else start + target
        spans.append((start, end))
        start = end
    if len(spans) >= 2 and spans[-1][1] - spans[-1][0] < lo_len // 2:
        # A tiny tail window is noise for BM25; fold it into its predecessor.
        (a, _), (_, d) = spans[-2], spans[-1]
        spans[-2:] = [(a, d)]
    return spans


def window_terms(data: bytes, starts: np.ndarray, spans: Iterable[tuple[int, int]]) -> Windows:
    crc = zlib.crc32
    findall = IDENTIFIER.findall
    w_starts: list[int] = []
    w_ends: list[int] = []
    lengths: list[int] = []
    offsets: list[int] = [0]
    terms: list[int] = []
    for a, b in spans:
        tokens = findall(data, int(starts[a]), int(starts[b]) if b < len(starts) else len(data))
        if not tokens:
            continue
        w_starts.append(a)
        w_ends.append(b)
        lengths.append(len(tokens))
        terms.extend(map(crc, set(tokens)))
        offsets.append(len(terms))
    return Windows(
        np.asarray(w_starts, dtype=np.int32),
        np.asarray(w_ends, dtype=np.int32),
        np.asarray(lengths, dtype=np.int32),
        np.asarray(offsets, dtype=np.int32),
        np.asarray(terms, dtype=np.uint32),
    )


def query_terms(text: str) -> list[int]:
    """Distinct term hashes of a query text, sorted (the same tokens as the windows)."""
    return sorted(set(map(zlib.crc32, IDENTIFIER.findall(text.encode("utf-8", "surrogatepass")))))


def pack_windows(w: Windows) -> bytes:
    n, m = len(w.starts), len(w.terms)
    return b"".join((
        _HEADER.pack(_MAGIC, n, m),
        w.starts.astype("<i4").tobytes(),
        w.ends.astype("<i4").tobytes(),
        w.lengths.astype("<i4").tobytes(),
        w.offsets.astype("<i4").tobytes(),
        w.terms.astype("<u4").tobytes(),
    ))


def unpack_windows(blob: bytes) -> Windows:
    magic, n, m = _HEADER.unpack_from(blob)
    if magic != _MAGIC:
        raise ValueError("not a packed window blob")
    pos = _HEADER.size
    arrays = []
    for dtype, count in (("<i4", n), ("<i4", n), ("<i4", n), ("<i4", n + 1), ("<u4", m)):
        arr = np.frombuffer(blob, dtype=dtype, count=count, offset=pos)
        pos += arr.nbytes
        arrays.append(arr)
    if pos != len(blob):
        raise ValueError("packed window blob has the wrong length")
    return Windows(*arrays)


EMPTY_WINDOWS = pack_windows(window_terms(b"", np.zeros(1, dtype=np.int64), ()))
