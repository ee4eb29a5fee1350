"""One writer per index store across processes: an advisory lock file beside the store.

Two editors on one repository, or an editor and ``qwenpair index``, is normal use. SQLite
serialises single transactions, but a build is many transactions planned from one
process's in-memory view of the store: two builders interleaving would hand out the same
new file ids (``UNIQUE constraint failed``), and a store rebuilt by one process would be
deleted under another. So a process writes only while it holds ``writer.lock``
(``fcntl.flock``, which the kernel releases when the process dies, however it dies);
the others wait, polling so that a cancel (a server shutting down) ends the wait. Readers
need no lock: SQLite's write-ahead log gives them the last committed state.

This is not a lock between the threads of one process for a long wait: a thread of the
holder that asks for it again gets it at once (it is re-entrant), and other threads wait
on the in-process mutex first. Where there is no ``fcntl`` (Windows) only that mutex is
left: one process per workspace there.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

WRITER_LOCK_NAME = "writer.lock"
_POLL_S = 0.2


class WriterLock:
    """``acquire``/``release`` or ``with lock.held(...) as got:``; see the module docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True, cancel: Callable[[], bool] | None = None,
                on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock; False when ``wait`` is off and another holds it, or when ``cancel``
        says so while waiting. ``on_wait`` is called once, when this call starts to wait on
        another process."""
        while not self._mutex.acquire(timeout=_POLL_S if wait else 0):
            if not wait or (cancel is not None and cancel()):
                return False
        try:
            if self._depth == 0 and not self._lock_file(wait, cancel, on_wait):
                self._mutex.release()
                return False
        except BaseException:
            self._mutex.release()
            raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock
        self._mutex.release()

    @contextmanager
    def held(self, *, wait: bool = True, cancel: Callable[[], bool] | None = None,
             on_wait: Callable[[], None] | None = None) -> Iterator[bool]:
        got = self.acquire(wait=wait, cancel=cancel, on_wait=on_wait)
        try:
            yield got
        finally:
            if got:
                self.release()

    def _lock_file(self, wait: bool, cancel: Callable[[], bool] | None, on_wait: Callable[[], None] | None) -> bool:
        if fcntl is None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        told = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not wait or (cancel is not None and cancel()):
                        os.close(fd)
                        return False
                    if not told:
                        told = True
                        if on_wait is not None:
                            on_wait()
                    time.sleep(_POLL_S)
        except BaseException:
            os.close(fd)
            raise
        if told:
            log.info("got the index writer lock %s", self.path)
        self._fd = fd
        return True
