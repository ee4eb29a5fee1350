"""The CrossCodeEval retrieval baseline: BM25 over fixed line windows of the other files.

CrossCodeEval (Ding et al., 2023) cuts every other file of the repository into windows of
10 lines sliding by 5, queries with the last 10 lines before the cursor, and puts the top 5
windows, each with the window that follows it (the next 10 lines), into the prompt. This
module is that recipe, self-contained (no ``rank_bm25`` dependency): Okapi BM25 with
k1 = 1.5, b = 0.75 and the non-negative idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``, over
identifier and number tokens. It is the baseline the engine is compared with, not
something the engine uses.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

WINDOW = 10
STRIDE = 5
TOP = 5
QUERY_LINES = 10
K1, B = 1.5, 0.75
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Window:
    path: str
    start: int  # 0-based first line; the window is [start, start + WINDOW)


class BM25Index:
    """Windows of every file, searchable with one file left out (the one being edited)."""

    def __init__(self, files: dict[str, list[str]]) -> None:
        self.windows: list[Window] = []
        self.lengths: list[int] = []
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for path in sorted(files):
            lines = files[path]
            starts = range(0, max(1, len(lines) - WINDOW + STRIDE), STRIDE)
            for start in starts:
                counts = Counter(tokens("\n".join(lines[start : start + WINDOW])))
                wid = len(self.windows)
                self.windows.append(Window(path, start))
                self.lengths.append(sum(counts.values()))
                for term, tf in counts.items():
                    self.postings[term].append((wid, tf))
        n = len(self.windows)
        self.avg = (sum(self.lengths) / n) if n else 0.0
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def search(self, query: str, exclude_path: str, top: int = TOP) -> list[Window]:
        """The ``top`` windows of other files by BM25 score (ties: path, then line)."""
        scores: dict[int, float] = defaultdict(float)
        for term, qtf in Counter(tokens(query)).items():
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = self.idf[term]
            for wid, tf in postings:
                norm = K1 * (1 - B + B * self.lengths[wid] / self.avg)
                scores[wid] += qtf * idf * tf * (K1 + 1) / (tf + norm)
        ranked = sorted((-s, self.windows[w].path, self.windows[w].start, w) for w, s in scores.items()
                        if s > 0 and self.windows[w].path != exclude_path)
        return [self.windows[w] for *_, w in ranked[:top]]


def query_for(lines: list[str], line: int, col: int) -> str:
    """The last ``QUERY_LINES`` lines up to the cursor (the cursor's line cut at it)."""
    first = max(0, line - QUERY_LINES + 1)
    return "\n".join(lines[first:line] + [lines[line][:col]])


def retrieved_spans(hits: list[Window]) -> list[tuple[str, int, int]]:
    """(path, first, end) of what enters the prompt: each window and the window after it."""
    return [(w.path, w.start, w.start + 2 * WINDOW) for w in hits]


def covers(spans: list[tuple[str, int, int]], path: str, line: int) -> bool:
    return any(p == path and a <= line < b for p, a, b in spans)
