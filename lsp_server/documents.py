"""The open documents as the editor has them: full and incremental sync, versions checked.

The server keeps its own store rather than pygls' so that every bad input has one defined
outcome: a change for a document that was never opened, a version older than the one held,
or a range outside the text raises ``DocumentError`` (the server logs it and keeps the text
it has); a range past the end is clamped. Positions use the negotiated encoding.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

from assistant.document import forget_lines
from lsp_server.positions import to_offset

log = logging.getLogger(__name__)

#: Allocations from this size up get their own mapping, returned to the system when freed.
MMAP_THRESHOLD = 1 << 20
#: glibc heaps ("arenas") for all threads together (default: up to 8 per core, one per thread).
ARENAS = 2
#: CPU seconds of work after which freed memory is handed back once the server goes quiet,
#: the seconds of CPU in one ``TRIM_POLL_S`` that count as quiet, and the longest a busy
#: server waits for a trim.
TRIM_AFTER_CPU_S = 0.5
QUIET_CPU_S = 0.05
TRIM_POLL_S = 1.0
TRIM_BUSY_S = 30.0
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters
_M_ARENA_MAX = -8


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim, libc.mallopt  # glibc only (musl has neither)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def tune_allocator() -> None:
    """Make freed memory go back to the system (glibc).

    A closed document's text is freed, but glibc raises its mmap threshold after the first
    large free, so later texts of a few MB come from the heap, where freeing them rarely
    shrinks the process: 80 documents of 4 MB opened and closed left RSS 560 MB higher
    (issue 18 finding 3). A fixed threshold keeps large texts in their own mappings.

    The heap keeps what smaller allocations free (requests, chats, reindexes, model
    switches), in one heap per thread that allocated: in a 4-minute soak the free memory
    held rose from 143 to 369 MB and RSS by 33 %, while a ``malloc_trim`` brought RSS back
    to within 2 % of the start (bench/soak.py --trace). So the threads share ``ARENAS``
    heaps, and freed pages are handed back whenever the server goes quiet after work
    (``_Trimmer``)."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        _LIBC.mallopt(_M_ARENA_MAX, ARENAS)
        _Trimmer.start()


def release_memory() -> None:
    """Hand the heap's free pages back to the system (after a document closed)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class _Trimmer:
    """One daemon thread that calls ``release_memory`` once the process has used
    ``TRIM_AFTER_CPU_S`` of CPU since the last trim and then spent a ``TRIM_POLL_S`` second
    nearly idle, or after ``TRIM_BUSY_S`` of steady work: the trim (a few ms of walking the
    heaps) never competes with a request, and memory is back a second after the work."""

    _thread: threading.Thread | None = None
    _lock = threading.Lock()
    trims = 0

    @classmethod
    def start(cls) -> None:
        with cls._lock:
            if cls._thread is None or not cls._thread.is_alive():
                cls._thread = threading.Thread(target=cls._run, name="qwenpair-trim", daemon=True)
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        def cpu() -> float:
            t = os.times()
            return t.user + t.system

        last_cpu, worked, last_trim = cpu(), 0.0, time.monotonic()
        while True:
            time.sleep(TRIM_POLL_S)
            now = cpu()
            step, last_cpu = now - last_cpu, now
            worked += step
            quiet = step <= QUIET_CPU_S
            if worked >= TRIM_AFTER_CPU_S and (quiet or time.monotonic() - last_trim >= TRIM_BUSY_S):
                release_memory()
                cls.trims += 1
                worked, last_trim, last_cpu = 0.0, time.monotonic(), cpu()


class DocumentError(Exception):
    """A change the store refused; the message says why."""


@dataclass
class Document:
    uri: str
    text: str
    version: int
    language: str = ""


@dataclass(frozen=True)
class Change:
    """One content change: ``range`` None replaces the whole text."""

    text: str
    range: tuple[int, int, int, int] | None = None  # start line, start char, end line, end char


class DocumentStore:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        tune_allocator()
        self._docs: dict[str, Document] = {}

    def open(self, uri: str, text: str, version: int, language: str = "") -> Document:
        doc = Document(uri, text, version, language)
        self._docs[uri] = doc
        return doc

    def get(self, uri: str) -> Document | None:
        return self._docs.get(uri)

    def close(self, uri: str) -> Document | None:
        doc = self._docs.pop(uri, None)
        forget_lines()
        release_memory()
        return doc

    def uris(self) -> list[str]:
        return list(self._docs)

    def change(self, uri: str, version: int | None, changes: list[Change]) -> tuple[Document, int]:
        """Apply ``changes`` in order; returns the document and the first line touched."""
        doc = self._docs.get(uri)
        if doc is None:
            raise DocumentError(f"didChange for {uri}, which is not open (send didOpen first)")
        if version is not None and version <= doc.version:
            raise DocumentError(f"didChange for {uri} with version {version}, not newer than {doc.version}; ignored")
        text, first = doc.text, None
        for change in changes:
            if change.range is None:
                text, line = change.text, 0
            else:
                sl, sc, el, ec = change.range
                if (el, ec) < (sl, sc):
                    raise DocumentError(f"didChange for {uri}: range end {el}:{ec} is before its start {sl}:{sc}")
                start = to_offset(text, sl, sc, self.encoding)
                end = to_offset(text, el, ec, self.encoding)
                text = text[:start] + change.text + text[end:]
                line = text.count("\n", 0, start)
            first = line if first is None else min(first, line)
        doc.text = text
        if version is not None:
            doc.version = version
        return doc, first or 0
