"""Code windows for lexical retrieval: where they start and end, and their terms.

A file is cut into consecutive, non-overlapping windows of ``window_min_lines`` to
``window_max_lines`` lines (CrossCodeEval uses 10, RepoCoder 20). A window ends on the best
syntax boundary in that range: the start or end of a top-level definition (with its doc
comment and decorators), else a blank line or the start or end of a member, the one nearest
the target length; plain text has blank lines only.

Terms are the distinct identifiers of a window as 32-bit ids (``tokens``), so worker
processes and later runs agree on them without sharing a vocabulary. A collision merges two
rare identifiers in the BM25 statistics, which is harmless for ranking. Term frequencies
are not kept: BM25 saturates them quickly, and sets are cheaper to build and store.

Windows of one file travel and persist as one packed blob (``pack_windows``).
"""

from __future__ import annotations

import bisect
import struct
from typing import Iterable, NamedTuple

import numpy as np

from repo_index.config import IndexConfig
from repo_index.tokens import query_terms, token_hashes

__all__ = ["Windows", "query_terms", "window_terms", "window_terms_many", "pack_windows", "unpack_windows"]
_MAGIC = b"QW3\0"
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


def definition_boundaries(spans: Iterable[tuple[int, int, bool]], found: dict[int, int]) -> dict[int, int]:
    """Add the start and end lines of definitions, (start, end, nested), to ``found``:
    depth 0 for top-level ones, 1 for members. Taken from the extracted symbols rather than a
    walk of the tree, which would cost as much again as the query that found them."""
    for start, end, nested in spans:
        depth = 1 if nested else 0
        for line in (start, end):
            if found.get(line, _NO_BOUNDARY) > depth:
                found[line] = depth
    return found


def blank_line_boundaries(data: bytes, starts: np.ndarray, base_depth: int) -> dict[int, int]:
    """Lines just after a blank line, at ``base_depth`` (vectorised: a line is blank when it
    has no byte but white space: tab, newline, vertical tab, form feed, carriage return or
    space, that is 9 to 13 and 32; a logical-or reduction per line is a third cheaper than
    counting through a lookup table)."""
    if not data:
        return {}
    a = np.frombuffer(data, dtype=np.uint8)
    solid = (a > 32) | (a < 9) | ((a > 13) & (a < 32))
    has_solid = np.logical_or.reduceat(solid, starts[:-1])  # every line has >= 1 byte
    return dict.fromkeys((np.flatnonzero(~has_solid) + 1).tolist(), base_depth)


def window_spans(n_lines: int, boundaries: dict[int, int], config: IndexConfig) -> list[tuple[int, int]]:
    """Consecutive windows covering all lines, each ending on the best boundary in range."""
    spans: list[tuple[int, int]] = []
    lo_len, hi_len, target = config.window_min_lines, config.window_max_lines, config.window_target_lines
    cuts = sorted(boundaries)  # visit only the boundaries in range (bisect), not every line
    start = 0
    while start < n_lines:
        if n_lines - start <= hi_len:
            end = n_lines
        else:
            best = None
            best_key = None
            i = bisect.bisect_left(cuts, start + lo_len)
            while i < len(cuts) and cuts[i] <= start + hi_len:
                cut = cuts[i]
                key = (boundaries[cut], abs(cut - start - target))
                if best_key is None or key < best_key:
                    best, best_key = cut, key
                i += 1
            end = best if best is not None else start + target
        spans.append((start, end))
        start = end
    if len(spans) >= 2 and spans[-1][1] - spans[-1][0] < lo_len // 2:
        # A tiny tail window is noise for BM25; fold it into its predecessor.
        (a, _), (_, d) = spans[-2], spans[-1]
        spans[-2:] = [(a, d)]
    return spans


def window_terms(data: bytes, starts: np.ndarray, spans: Iterable[tuple[int, int]]) -> Windows:
    return window_terms_many([(data, starts, list(spans))])[0]


def window_terms_many(files: list[tuple[bytes, np.ndarray, list[tuple[int, int]]]]) -> list[Windows]:
    """``window_terms`` of several files (content, ``line_starts``, window spans) at once:
    one tokenizing pass over their concatenation, with a newline between files so that no
    token spans two. Most files of a tree are small, and a pass per file cost several times
    its tokens in fixed numpy overhead."""
    if not files:
        return []
    buffer = b"\n".join(data for data, _, _ in files)
    sizes = np.array([len(data) for data, _, _ in files], dtype=np.int64)
    bases = np.concatenate(([0], np.cumsum(sizes[:-1] + 1)))
    line_counts = np.array([len(starts) for _, starts, _ in files], dtype=np.int64)
    span_counts = np.array([len(spans) for _, _, spans in files], dtype=np.int64)
    spans = np.array([span for _, _, file_spans in files for span in file_spans], dtype=np.int64).reshape(-1, 2)
    # Every window's first byte in the concatenation (a line past the end is the sentinel).
    all_starts = np.concatenate([starts for _, starts, _ in files]) + np.repeat(bases, line_counts)
    first_line = np.concatenate(([0], np.cumsum(line_counts)[:-1]))
    line = np.minimum(spans[:, 0], np.repeat(line_counts - 1, span_counts)) + np.repeat(first_line, span_counts)
    window_bytes = all_starts[line]
    positions, hashes = token_hashes(buffer)
    window = np.searchsorted(window_bytes, positions, side="right") - 1
    lengths = np.bincount(window, minlength=len(spans))
    # Distinct (window, term) pairs, sorted by window then term.
    keys = (window.astype(np.uint64) << np.uint64(32)) | hashes.astype(np.uint64)
    keys.sort()  # sort + neighbour test: cheaper than np.unique's hashing for these sizes
    if len(keys) > 1:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    key_windows = (keys >> np.uint64(32)).astype(np.int64)
    terms = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    kept = np.flatnonzero(lengths > 0)  # windows of blank lines or punctuation carry no terms
    offsets = np.append(np.searchsorted(key_windows, kept, side="left"), len(terms)).astype(np.int32)
    kept_starts = spans[kept, 0].astype(np.int32)
    kept_ends = spans[kept, 1].astype(np.int32)
    kept_lengths = lengths[kept].astype(np.int32)
    cuts = np.searchsorted(kept, np.concatenate(([0], np.cumsum(span_counts)))).tolist()
    result = []
    for a, b in zip(cuts, cuts[1:]):
        first, last = int(offsets[a]), int(offsets[b])
        result.append(Windows(kept_starts[a:b], kept_ends[a:b], kept_lengths[a:b], offsets[a:b + 1] - first,
                              terms[first:last]))
    return result


def pack_windows(w: Windows) -> bytes:
    n, m = len(w.starts), len(w.terms)
    return b"".join((
        _HEADER.pack(_MAGIC, n, m),
        w.starts.astype("<i4", copy=False).tobytes(),
        w.ends.astype("<i4", copy=False).tobytes(),
        w.lengths.astype("<i4", copy=False).tobytes(),
        w.offsets.astype("<i4", copy=False).tobytes(),
        w.terms.astype("<u4", copy=False).tobytes(),
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


