"""Documents open in the editor: their unsaved text and a parse tree kept up to date.

The only parse trees the index keeps (docs/design.md §4). Each new text is diffed against the
previous one (common prefix and suffix), the tree is edited and reparsed incrementally,
which costs a few milliseconds even for a 200 KB file. Facts of an open document are
extracted lazily from its current tree, when retrieval first needs them.

Not here: deciding whether the path may be indexed (the workspace asks ``rules`` first).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tree_sitter import Point, Tree

from repo_index import languages
from repo_index.config import IndexConfig
from repo_index.extract import extract
from repo_index.facts import FileFacts, FileSkip


@dataclass
class OpenDocument:
    rel: str
    text: str
    data: bytes
    tree: Tree | None
    version: int = 0
    _facts: FileFacts | FileSkip | None = field(default=None, repr=False)
    stale_facts: FileFacts | FileSkip | None = field(default=None, repr=False)
    """Facts of an earlier version: good enough for imports while the user types."""
    _lines: list[str] | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.split("\n")
        return self._lines

    def extracted_facts(self) -> FileFacts | FileSkip | None:
        """This version's facts when they were extracted already (``OpenDocuments.facts``)."""
        return self._facts

    def known_facts(self) -> FileFacts | FileSkip | None:
        """This version's facts, else an earlier version's (good enough for imports and
        same-file names while the user types), else None: extracts nothing."""
        return self._facts or self.stale_facts


def common_prefix(a: bytes | str, b: bytes | str) -> int:
    """Length of the common prefix of two byte strings or two texts, by binary search over
    slice comparisons (memcmp)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, min(len(a), len(b), limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _point(data: bytes, offset: int) -> Point:
    row = data.count(b"\n", 0, offset)
    line_start = data.rfind(b"\n", 0, offset) + 1
    return Point(row, offset - line_start)


class OpenDocuments:
    """Overlays keyed by root-relative path. Thread-safe."""

    def __init__(self, config: IndexConfig) -> None:
        self._config = config
        self._docs: dict[str, OpenDocument] = {}
        self._lock = threading.Lock()

    def set(self, rel: str, text: str) -> OpenDocument:
        data = text.encode("utf-8", "surrogatepass")
        with self._lock:
            old = self._docs.get(rel)
        spec = languages.language_for(rel)
        tree = None
        if spec is not None:
            parser = languages.parser_for(spec.grammar)
            if old is not None and old.tree is not None:
                if old.data == data:
                    return old
                start = common_prefix(old.data, data)
                suffix = common_suffix(old.data, data, min(len(old.data), len(data)) - start)
                old_end, new_end = len(old.data) - suffix, len(data) - suffix
                edited = old.tree.copy()  # a reader may still hold the old document's tree
                edited.edit(
                    start_byte=start, old_end_byte=old_end, new_end_byte=new_end,
                    start_point=_point(data, start), old_end_point=_point(old.data, old_end),
                    new_end_point=_point(data, new_end),
                )
                tree = parser.parse(data, edited)
            else:
                tree = parser.parse(data)
        doc = OpenDocument(rel, text, data, tree, (old.version + 1) if old else 1)
        if old is not None:
            doc.stale_facts = old._facts or old.stale_facts
        with self._lock:
            self._docs[rel] = doc
        return doc

    def close(self, rel: str) -> bool:
        with self._lock:
            return self._docs.pop(rel, None) is not None

    def get(self, rel: str) -> OpenDocument | None:
        with self._lock:
            return self._docs.get(rel)

    def paths(self) -> list[str]:
        with self._lock:
            return sorted(self._docs)

    def facts(self, doc: OpenDocument) -> FileFacts | FileSkip:
        """The document's facts, extracted from its current tree on first use."""
        if doc._facts is None:
            doc._facts = extract(doc.rel, doc.data, config=self._config, tree=doc.tree)
        return doc._facts
