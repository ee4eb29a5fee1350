"""From documents to fixed-length token rows: the over-long rule, tokenizing, packing.

Over-long documents (more tokens than fit a sequence) are split at line boundaries into
pieces that fit (``overlong="split"``) or dropped (``"drop"``), and counted either way. A
formatted sample that still does not fit is cut into sequence-sized pieces or dropped by the
same rule, and counted.

Packing fills rows of exactly ``seq_len`` tokens:

- ``bestfit`` (default): whole samples per row, never cut across rows, chosen best-fit from a
  small look-ahead buffer; the rest of a row is ``<|fim_pad|>``, which training ignores in
  the loss. A FIM sample thus always has its prefix and suffix in the same row as its middle.
- ``concat``: samples back to back, cut wherever a row ends (nanoGPT style, no padding).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from model.text_tokens import encode_text
from model.tokens import FIM_PAD_ID
from training.data.sources import Document
from training.errors import DataError

PACKINGS = ("bestfit", "concat")
OVERLONG_RULES = ("split", "drop")
ROW_DTYPE = np.uint32  # token IDs reach 151,664: more than uint16 holds
PAD_ID = FIM_PAD_ID  # fills the rest of a best-fit row; masked out of the loss


@dataclass(frozen=True)
class PackConfig:
    seq_len: int = 8_192  # tokens per row (the training context)
    packing: str = "bestfit"  # bestfit | concat
    overlong: str = "split"  # what happens to a document longer than a row: split | drop
    buffer: int = 64  # samples the best-fit packer looks ahead

    def __post_init__(self) -> None:
        if self.packing not in PACKINGS:
            raise DataError(f"packing must be one of {', '.join(PACKINGS)}")
        if self.overlong not in OVERLONG_RULES:
            raise DataError(f"the over-long rule must be one of {', '.join(OVERLONG_RULES)}")
        if self.seq_len < 32:
            raise DataError("seq_len must be at least 32 tokens")


def sample_reserve(doc: Document, repo_level: bool) -> int:
    """Tokens a document's sample needs besides its own text (FIM tokens, EOS, repo header)."""
    extra = len(doc.path.encode()) + len(doc.repo.encode()) if repo_level else 0
    return 16 + extra


def split_overlong(docs: Iterator[Document], tokenizer, seq_len: int, rule: str, stats: Counter,
                   repo_level: bool = False) -> Iterator[Document]:
    """Apply the over-long rule to documents (see module docstring)."""
    for doc in docs:
        limit = seq_len - sample_reserve(doc, repo_level)
        if len(doc.text.encode("utf-8")) <= limit:  # a token covers at least one byte
            yield doc
            continue
        enc = encode_text(tokenizer, doc.text)
        if len(enc.ids) <= limit:
            yield doc
            continue
        if rule == "drop":
            stats["overlong_docs_dropped"] += 1
            continue
        pieces = split_at_lines(doc.text, enc.offsets, limit)
        stats["overlong_docs_split"] += 1
        stats["overlong_pieces"] += len(pieces)
        for piece in pieces:
            yield replace(doc, text=piece)


def split_at_lines(text: str, offsets: list[tuple[int, int]], limit: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` tokens, at line starts where possible."""
    pieces, tok, n = [], 0, len(offsets)
    start_char = 0
    while tok < n:
        end_tok = min(n, tok + limit)
        if end_tok == n:
            pieces.append(text[start_char:])
            break
        cut_char = offsets[end_tok][0]
        # the last line break in the second half of the window; else cut between tokens
        newline = text.rfind("\n", offsets[tok + limit // 2][0], cut_char)
        if newline >= 0:
            cut_char = newline + 1
        pieces.append(text[start_char:cut_char])
        start_char = cut_char
        while tok < n and offsets[tok][0] < cut_char:
            tok += 1
    return [p for p in pieces if p]


def fit_sample(ids: list[int], seq_len: int, rule: str, stats: Counter) -> list[list[int]]:
    """A formatted sample as pieces of at most ``seq_len`` tokens (or none, by the rule)."""
    if len(ids) <= seq_len:
        return [ids]
    if rule == "drop":
        stats["overlong_samples_dropped"] += 1
        return []
    stats["overlong_samples_split"] += 1
    return [ids[i : i + seq_len] for i in range(0, len(ids), seq_len)]


class Packer:
    """Turns token samples into rows of ``seq_len`` tokens."""

    def __init__(self, seq_len: int, packing: str = "bestfit", buffer: int = 64):
        self.seq_len, self.packing, self.buffer = seq_len, packing, max(1, buffer)
        self.pending: list[list[int]] = []
        self.row: list[int] = []
        self.stats = Counter(rows=0, tokens=0, pad=0, samples=0)

    def add(self, ids: list[int]) -> Iterator[np.ndarray]:
        """Add one sample (at most ``seq_len`` tokens); yields the rows it completes."""
        self.stats["samples"] += 1
        self.stats["tokens"] += len(ids)
        if self.packing == "concat":
            self.row.extend(ids)
            while len(self.row) >= self.seq_len:
                yield self._emit(self.row[: self.seq_len])
                self.row = self.row[self.seq_len :]
            return
        self.pending.append(ids)
        while len(self.pending) >= self.buffer:
            yield from self._place_one()

    def flush(self) -> Iterator[np.ndarray]:
        """Place everything pending and emit the last, padded row."""
        while self.pending:
            yield from self._place_one()
        if self.row:
            yield self._emit(self.row)
            self.row = []

    def _place_one(self) -> Iterator[np.ndarray]:
        space = self.seq_len - len(self.row)
        best = -1
        for i, ids in enumerate(self.pending):
            if len(ids) <= space and (best < 0 or len(ids) > len(self.pending[best])):
                best = i
        if best < 0:  # nothing fits what is left of this row: close it
            yield self._emit(self.row)
            self.row = []
            best = max(range(len(self.pending)), key=lambda i: len(self.pending[i]))
        self.row.extend(self.pending.pop(best))
        if len(self.row) == self.seq_len:
            yield self._emit(self.row)
            self.row = []

    def _emit(self, tokens: list[int]) -> np.ndarray:
        row = np.full(self.seq_len, PAD_ID, dtype=ROW_DTYPE)
        row[: len(tokens)] = tokens
        self.stats["rows"] += 1
        self.stats["pad"] += self.seq_len - len(tokens)
        return row
