"""The documents the engine keeps for cross-file context: open or recently edited ones, with
where they were last edited. Bounded (issue 18 finding 3): the oldest go first, a closed
document keeps only the lines around its last edit, a large one only a window. Split out of
engine.py; the engine decides which of them may enter a prompt."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from assistant import large_document

#: How many other documents (open or recently edited) may lend context.
OTHER_DOCUMENTS = 4
#: Lines of another document shown around its last edit.
DOCUMENT_WINDOW = 20
#: Bounds on the documents kept for that context, oldest dropped first (issue 18 finding 3:
#: every document ever opened used to stay whole). A closed document keeps only the lines
#: around its last edit; an open one shares its text with the editor's copy.
MAX_TRACKED_DOCUMENTS = 32
MAX_TRACKED_CHARS = 32_000_000
#: Closed documents remembered as closed (their background work is dropped), oldest forgotten.
MAX_CLOSED_REMEMBERED = 256


@dataclass
class Doc:
    text: str
    last_line: int = 0  # in ``text``
    first_line: int = 0  # the document's line that ``text`` starts with (a window of it)


class OpenDocuments:
    def __init__(self) -> None:
        self.docs: OrderedDict[Path, Doc] = OrderedDict()
        self._lock = threading.Lock()
        self._chars = 0
        self._closed: OrderedDict[Path, None] = OrderedDict()

    def changed(self, path: Path, text: str, line: int | None = None) -> None:
        """``path`` now holds ``text``, edited at ``line`` (None: where it was last)."""
        with self._lock:
            doc = self.docs.get(path)
            if line is None:
                line = doc.first_line + doc.last_line if doc is not None else 0
            self._track(path, text, line)
            self._closed.pop(path, None)

    def is_closed(self, path: Path) -> bool:
        """Whether the editor closed ``path`` (and has not opened or changed it since): work
        queued for it before the close is no longer wanted."""
        with self._lock:
            return path in self._closed

    def closed(self, path: Path) -> None:
        """A recently edited document still helps: keep its lines near the edit."""
        with self._lock:
            self._closed[path] = None
            self._closed.move_to_end(path)
            while len(self._closed) > MAX_CLOSED_REMEMBERED:
                self._closed.popitem(last=False)
            doc = self.docs.get(path)
            if doc is not None:
                self._track(path, doc.text, doc.first_line + doc.last_line, keep=DOCUMENT_WINDOW, offset=doc.first_line)

    def recent(self, current: Path) -> list[tuple[Path, Doc]]:
        """The most recent others, at most ``OTHER_DOCUMENTS``, in a stable order (by path)."""
        with self._lock:
            docs = [(p, d) for p, d in reversed(self.docs.items()) if p != current][:OTHER_DOCUMENTS]
        return sorted(docs, key=lambda pd: str(pd[0]))

    def _track(self, path: Path, text: str, line: int, keep: int | None = None, offset: int = 0) -> None:
        """Keep ``text`` (whose first line is the document's ``offset``) as ``path``'s, the most
        recent; only the ``keep`` lines on each side of ``line`` when given or when the text is
        over the size cap. The oldest go past the bounds. The caller holds the lock."""
        first = offset
        if keep is not None or large_document.is_large(text):
            start, text, _ = large_document.window(text, line - offset, 0, keep or DOCUMENT_WINDOW)
            first += start
        old = self.docs.pop(path, None)
        if old is not None:
            self._chars -= len(old.text)
        self.docs[path] = Doc(text, max(0, line - first), first)
        self._chars += len(text)
        while len(self.docs) > 1 and (len(self.docs) > MAX_TRACKED_DOCUMENTS or self._chars > MAX_TRACKED_CHARS):
            _, dropped = self.docs.popitem(last=False)
            self._chars -= len(dropped.text)
