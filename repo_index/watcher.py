"""Keeping the index live: file events from watchdog, debounced and batched.

Events are collected per path and handed over in one batch once the tree has been quiet for
``debounce_s`` (300-500 ms), or every ``debounce_ceiling_s`` during a continuous stream.
A batch asks for a full reconciliation (rescan) instead of per-path updates when:

- ``.git/HEAD`` changed (a checkout or rebase rewrites many files at once),
- a directory was created, moved or deleted (inotify reports no events for its contents),
- an ignore file changed (the set of indexed files changes),
- the batch is larger than ``burst_events``, or watchdog logged an inotify queue overflow:
  watchdog recovers from an overflow without telling its user (docs/design.md §4), so the lost
  events can only be made up for by comparing the tree with the index.

On Linux, ignored directories (node_modules, build outputs, .gitignore'd trees) are not
watched at all: inotify watches are a per-user budget, and their events would only be
dropped. This hooks watchdog's inotify watch group (watchdog 5+); elsewhere, or with an
older watchdog, the whole tree is watched and ignored paths are filtered.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from repo_index.config import IndexConfig
from repo_index.rules import PathRules

log = logging.getLogger(__name__)

BatchCallback = Callable[[set[str], bool], None]


def _pruned_observer(allowed_dir: Callable[[str], bool]) -> BaseObserver | None:
    """An inotify observer that does not descend into directories ``allowed_dir`` rejects."""
    try:
        from watchdog.observers.inotify import InotifyEmitter, InotifyWatchGroup
    except ImportError:
        return None

    class PrunedWatchGroup(InotifyWatchGroup):
        def _add_all_callbacks(self, path: bytes) -> None:  # watchdog 5+ internals
            if not allowed_dir(os.fsdecode(path)):
                return
            self._add_callback(path)
            if not (self.is_recursive and os.path.isdir(path)):
                return
            for top, dirnames, _ in os.walk(path, followlinks=False):
                dirnames[:] = [d for d in sorted(dirnames) if allowed_dir(os.fsdecode(os.path.join(top, d)))]
                for name in dirnames:
                    full = os.path.join(top, name)
                    if not os.path.islink(full):
                        self._add_callback(full)

    class PrunedEmitter(InotifyEmitter):
        def on_thread_start(self) -> None:
            self._inotify = PrunedWatchGroup(
                self._inotify_fd, os.fsencode(self.watch.path), is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(), follow_symlink=self.watch.follow_symlink,
            )

    try:
        return BaseObserver(emitter_class=PrunedEmitter, timeout=1.0)
    except TypeError:
        return None


class _OverflowSpy(logging.Handler):
    """Turns watchdog's "queue overflow" log line into a rescan request."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._on_overflow()


class Watcher(FileSystemEventHandler):
    """Watches ``rules.root``; calls ``on_batch(rel_paths, rescan)`` from its own thread."""

    def __init__(self, rules: PathRules, config: IndexConfig, on_batch: BatchCallback) -> None:
        self._rules = rules
        self._config = config
        self._on_batch = on_batch
        self._root = str(rules.root)
        self._git_dir = os.path.join(self._root, ".git")
        self._cond = threading.Condition()
        self._pending: set[str] = set()
        self._events = 0
        self._rescan = False
        self._first = 0.0
        self._last = 0.0
        self._stopping = False
        self._observer: BaseObserver | None = None
        self._thread: threading.Thread | None = None
        self._spy = _OverflowSpy(self.request_rescan)
        self.pruned = False
        self.batches = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        observer = None
        if sys.platform.startswith("linux"):
            observer = _pruned_observer(self._dir_allowed)
        self.pruned = observer is not None
        self._observer = observer or Observer()
        self._observer.schedule(self, self._root, recursive=True)
        if os.path.isdir(self._git_dir):
            self._observer.schedule(self, self._git_dir, recursive=False)
        logging.getLogger("watchdog").addHandler(self._spy)
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="repo-index-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        logging.getLogger("watchdog").removeHandler(self._spy)
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _dir_allowed(self, path: str) -> bool:
        rel = self._rules.relative(path)
        if rel is None:
            return False
        if rel == "" or path == self._git_dir:
            return True
        parts = rel.split("/")
        return all(self._rules.check_dir("/".join(parts[:i])).allowed for i in range(1, len(parts) + 1))

    # -- events -------------------------------------------------------------------------

    def request_rescan(self) -> None:
        with self._cond:
            self._rescan = True
            self._touch()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        paths = [event.src_path]
        if getattr(event, "dest_path", ""):
            paths.append(event.dest_path)
        with self._cond:
            for raw in paths:
                path = os.fsdecode(raw)
                if path == self._git_dir or path.startswith(self._git_dir + os.sep):
                    if os.path.basename(path) == "HEAD":
                        self._rescan = True
                        self._touch()
                    continue
                rel = self._rules.relative(path)
                if rel is None or rel == "":
                    continue
                if event.is_directory:
                    if event.event_type != "modified":  # a directory's mtime changes with its entries
                        self._rescan = True
                        self._touch()
                    continue
                if self._rules.is_ignore_file(rel):
                    self._rescan = True
                self._pending.add(rel)
                self._touch()

    def _touch(self) -> None:
        now = time.monotonic()
        if not self._events:
            self._first = now
        self._events += 1
        self._last = now
        self._cond.notify_all()

    # -- batching -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._events and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                while not self._stopping:
                    now = time.monotonic()
                    quiet_at = self._last + self._config.debounce_s
                    ceiling_at = self._first + self._config.debounce_ceiling_s
                    due = min(quiet_at, ceiling_at)
                    if now >= due:
                        break
                    self._cond.wait(due - now)
                if self._stopping:
                    return
                paths, rescan = self._pending, self._rescan or self._events > self._config.burst_events
                self._pending, self._rescan, self._events = set(), False, 0
            try:
                self.batches += 1
                self._on_batch(paths, rescan)
            except Exception:  # a failed batch must not end watching
                log.exception("applying file changes failed; next batch rescans")
                with self._cond:
                    self._rescan = True
                    self._touch()
