"""Exact and near-duplicate removal.

Exact: a SHA-256 of the text with line endings normalised; the first copy wins.
Near: MinHash over word 5-gram shingles with datasketch's LSH index (BigCode's recipe:
5-grams, Jaccard threshold 0.85 by default); a document whose LSH buckets collide with an
earlier one is dropped. Both indexes hold only small hashes per kept document: the text
itself is never kept, so memory grows by a few hundred bytes per document, not its size.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from training.data.sources import Document

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True  # drop byte-identical documents (after \r\n -> \n)
    near: bool = True  # drop near-duplicates with MinHash LSH
    threshold: float = 0.85  # Jaccard similarity of shingle sets that counts as a duplicate
    num_perm: int = 128  # MinHash permutations (more: sharper, slower)
    shingle: int = 5  # words per shingle


@dataclass
class Deduplicator:
    """Keeps the first of each duplicate group; ``removed`` counts exact and near drops."""

    cfg: DedupConfig
    removed: Counter = field(default_factory=lambda: Counter({"exact": 0, "near": 0}))

    def __post_init__(self) -> None:
        self._seen: set[bytes] = set()
        self._lsh = None
        self._count = 0
        if self.cfg.near:
            from datasketch import MinHashLSH

            self._lsh = MinHashLSH(threshold=self.cfg.threshold, num_perm=self.cfg.num_perm)

    def keep(self, doc: Document) -> bool:
        if self.cfg.exact:
            digest = hashlib.sha256(doc.text.replace("\r\n", "\n").encode("utf-8")).digest()[:16]
            if digest in self._seen:
                self.removed["exact"] += 1
                return False
            self._seen.add(digest)
        if self._lsh is not None:
            mh = self.minhash(doc.text)
            if mh is not None:
                if self._lsh.query(mh):
                    self.removed["near"] += 1
                    return False
                self._lsh.insert(str(self._count), mh, check_duplication=False)
                self._count += 1
        return True

    def minhash(self, text: str):
        """The MinHash of a text's shingles, or None for texts shorter than one shingle."""
        from datasketch import MinHash

        words = _TOKEN.findall(text.lower())
        k = self.cfg.shingle
        if len(words) < k:
            return None
        shingles = {" ".join(words[i : i + k]).encode("utf-8") for i in range(len(words) - k + 1)}
        mh = MinHash(num_perm=self.cfg.num_perm, seed=1)
        mh.update_batch(list(shingles))
        return mh
