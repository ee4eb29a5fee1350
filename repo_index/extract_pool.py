"""The worker processes that read and extract files for the indexer, and how work is cut up.

``ExtractorPool`` starts its workers on first use (forkserver, one per core given to the
index, at lower priority), hands them tasks of files (big files first, about 512 KB or 64
files each), yields their results in submission order, and closes after a minute idle. A
worker that dies (a crash inside a grammar) is found by redoing its files one at a time; the
file that kills a worker is skipped as "extraction crashed". ``EarlyTasks`` feeds a large
first build's files to the workers while the tree is still being scanned.

What it is not: planning what to index or storing results (``indexer``), or extraction
itself (``extract``).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import threading
from collections import deque
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterable, Iterator, Union

from repo_index import orphans
from repo_index.config import IndexConfig
from repo_index.extract import read_and_extract, read_and_extract_many
from repo_index.facts import FileFacts, FileSkip
from repo_index.rules import ScanEntry
from repo_index.store_rows import FileRecord, record_of

log = logging.getLogger(__name__)

_TASK_BYTES = 512 * 1024
_TASK_FILES = 64
_POOL_IDLE_S = 60.0
_EARLY_BYTES = 8 * 1024 * 1024

CancelToken = Union[threading.Event, Callable[[], bool], None]


def is_cancelled(cancel: CancelToken) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


_worker_root = ""
_worker_config = IndexConfig()


def _init_worker(root: str, config: IndexConfig, owner_pid: int) -> None:
    global _worker_root, _worker_config
    _worker_root, _worker_config = root, config
    orphans.guard(owner_pid)  # end with the indexing process, even when it is SIGKILLed
    if config.worker_nice:
        try:
            os.nice(config.worker_nice)  # background work: the user's programs keep priority
        except (AttributeError, OSError):
            pass
    gc.freeze()  # modules and grammars: later collections need not walk them


def _extract_task(rels: list[str]) -> list[FileRecord | FileSkip]:
    # No cyclic collections during a task: it allocates millions of short-lived objects
    # (nodes, match dicts, symbol tuples) that reference counting frees, and the collector
    # only walked them, 0.5 CPU-s over the 31k-file tree here. Any cycle waits for the next.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return [record(result) for result in read_and_extract_many(_worker_root, rels, _worker_config)]
    finally:
        if collecting:
            gc.enable()


def record(result: FileFacts | FileSkip) -> FileRecord | FileSkip:
    return record_of(result) if isinstance(result, FileFacts) else result


class ExtractorPool:
    """Worker processes, started on first use and stopped after a minute idle."""

    def __init__(self, root: str, config: IndexConfig) -> None:
        self._root = root
        self._config = config
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._idle_timer: threading.Timer | None = None
        self._runs = 0  # runs in progress: the idle timer must not close the pool under them
        self._ready = threading.Event()  # the workers are up (start_soon)
        self._prefetched: deque[tuple[Future, list[str]]] = deque()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            if self._executor is None:
                # forkserver, not fork: the parent has threads (watcher, LSP) and forking
                # a threaded process can deadlock the child.
                method = "forkserver" if sys.platform.startswith("linux") else "spawn"
                context = multiprocessing.get_context(method)
                if method == "forkserver":
                    context.set_forkserver_preload(["repo_index.extract", "repo_index.worker_preload"])
                self._executor = ProcessPoolExecutor(
                    max_workers=self._config.worker_count(), mp_context=context,
                    initializer=_init_worker, initargs=(self._root, self._config, os.getpid()),
                )
            return self._executor

    def start_soon(self) -> None:
        """Start the workers in the background, e.g. while a cold build scans the tree:
        starting the fork server and the workers costs about a second of wall time."""
        threading.Thread(target=self._start, name="repo-index-pool-start", daemon=True).start()

    def _start(self) -> None:
        try:
            executor = self._get()
            for future in [executor.submit(_extract_task, []) for _ in range(self._config.worker_count())]:
                future.result()  # one empty task per worker: each submit starts one
            self._ready.set()
        except Exception as exc:  # run() meets the same problem and falls back
            log.debug("could not start index workers early: %s", exc)
        self._schedule_idle_close()

    @property
    def ready(self) -> bool:
        """Whether the workers are up (``start_soon`` started them)."""
        return self._ready.is_set()

    def prefetch(self, rels: list[str]) -> bool:
        """Hand the workers a task ahead of ``run`` (a large first build, while the scan is
        still going and a core would idle); ``run`` then yields its results first and skips
        those files. False when the workers are not up yet: the files are the caller's."""
        if not self._ready.is_set():
            return False
        with self._lock:
            executor = self._executor
        if executor is None:
            return False
        try:
            self._prefetched.append((executor.submit(_extract_task, rels), rels))
        except Exception:  # a broken pool: run() meets it and deals with those files
            return False
        return True

    def drop_prefetched(self) -> None:
        """Forget tasks handed out by ``prefetch`` that no ``run`` will collect."""
        while self._prefetched:
            future, _ = self._prefetched.popleft()
            future.cancel()

    def run(self, entries: list[ScanEntry], cancel: CancelToken) -> Iterator[FileRecord | FileSkip]:
        with self._lock:
            self._runs += 1
        try:
            yield from self._run(entries, cancel)
        finally:
            with self._lock:
                self._runs -= 1

    def _run(self, entries: list[ScanEntry], cancel: CancelToken) -> Iterator[FileRecord | FileSkip]:
        executor = self._get()
        # Results are taken in submission order: the workers take tasks in that order, so
        # they also finish about in it, and waiting on the oldest costs nothing per task
        # (waiting for the first of all pending futures installs a waiter on each of them,
        # hundreds of times over in a large build).
        pending, self._prefetched = self._prefetched, deque()
        handed = {rel for _, task in pending for rel in task}
        tasks = list(_tasks([e for e in entries if e.rel not in handed] if handed else entries))
        try:
            for i, task in enumerate(tasks):
                try:
                    pending.append((executor.submit(_extract_task, task), task))
                except BrokenProcessPool:
                    # A worker died while the tasks were handed out (e.g. one that could not
                    # start): redo the lot one file at a time, as when a result says so.
                    leftover = [rel for _, sent in pending for rel in sent] + [rel for rest in tasks[i:] for rel in rest]
                    pending.clear()
                    yield from self._isolate(leftover, cancel)
                    return
            while pending and not is_cancelled(cancel):
                future, task = pending[0]
                try:
                    results = future.result(timeout=0.2)
                except TimeoutError:
                    continue
                except CancelledError:
                    # Handed out ahead of this run (prefetch) by workers since closed: again.
                    pending[0] = (executor.submit(_extract_task, task), task)
                    continue
                except BrokenProcessPool:
                    # A worker died (a crash inside a grammar): every task in flight failed
                    # with it. Redo them one file at a time to find and skip the culprit.
                    leftover = [rel for _, task in pending for rel in task]
                    pending.clear()
                    yield from self._isolate(leftover, cancel)
                    continue
                pending.popleft()
                yield from results
        finally:
            for future, _ in pending:
                future.cancel()
            if not sys.is_finalizing():  # a thread started now never runs: start() would wait forever
                self._schedule_idle_close()

    def _isolate(self, rels: list[str], cancel: CancelToken) -> Iterator[FileRecord | FileSkip]:
        self.close()
        suspects: list[str] = []  # files whose single-file task died, in a row
        for i, rel in enumerate(rels):
            if is_cancelled(cancel):
                return
            if len(suspects) >= 3:
                # Three different files in a row: the workers cannot start at all (e.g. an
                # unguarded __main__ that forkserver re-imports), it is not the files. Go on
                # here, suspects included.
                log.warning("worker processes keep dying; indexing the rest in-process")
                for rest in suspects + rels[i:]:
                    if is_cancelled(cancel):
                        return
                    yield record(read_and_extract(self._root, rest, self._config))
                return
            try:
                results = self._get().submit(_extract_task, [rel]).result()
            except BrokenProcessPool:
                suspects.append(rel)
                self.close()
                continue
            for suspect in suspects:  # a worker ran after them: they did crash it
                log.error("indexing %s crashed a worker process; skipping it", suspect)
                yield FileSkip(suspect, "extraction crashed")
            suspects = []
            yield from results
        for suspect in suspects:
            yield FileSkip(suspect, "extraction crashed")

    def _schedule_idle_close(self) -> None:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
            self._idle_timer = threading.Timer(_POOL_IDLE_S, self._close_if_idle)
            self._idle_timer.daemon = True
            self._idle_timer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._runs or self._prefetched:
                return  # the run in progress (or to come) schedules the next idle close when it ends
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
            executor, self._executor = self._executor, None
            self._ready.clear()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class EarlyTasks:
    """Files handed to the workers while a large first build is still scanning: the scan
    takes one core for most of a second (31k files here) and the workers would otherwise
    wait for its end. Only the first ``_EARLY_BYTES``, in scan order: the rest still goes
    out big files first, so that the workers finish together."""

    def __init__(self, pool: ExtractorPool) -> None:
        self.pool = pool
        self.waiting: list[ScanEntry] = []
        self.waiting_bytes = 0
        self.handed = 0

    def extend(self, entries: Iterable[ScanEntry]) -> None:
        if self.handed >= _EARLY_BYTES:
            return
        for entry in entries:
            self.waiting.append(entry)
            self.waiting_bytes += entry.size
        if (self.waiting_bytes < _TASK_BYTES and len(self.waiting) < _TASK_FILES) or not self.pool.ready:
            return
        sizes = {e.rel: e.size for e in self.waiting}
        handed: set[str] = set()
        for task in _tasks(self.waiting):
            if not self.pool.prefetch(task):
                break  # the workers are not up yet: the rest waits for the next entries
            handed.update(task)
            self.handed += sum(sizes[rel] for rel in task)
        if handed:
            self.waiting = [e for e in self.waiting if e.rel not in handed]
            self.waiting_bytes = sum(e.size for e in self.waiting)


def _tasks(entries: list[ScanEntry]) -> Iterator[list[str]]:
    # Big files first: the longest tasks start early, so the workers finish together.
    task: list[str] = []
    size = 0
    for entry in sorted(entries, key=lambda e: (-e.size, e.rel)):
        task.append(entry.rel)
        size += entry.size
        if size >= _TASK_BYTES or len(task) >= _TASK_FILES:
            yield task
            task, size = [], 0
    if task:
        yield task
