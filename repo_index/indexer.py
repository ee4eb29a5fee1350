"""Bringing the index up to date with the disk: plan, extract (in worker processes), apply.

``sync`` is both the initial index and every later reconciliation: it scans the tree with
the path rules, compares each file with its stored (size, mtime) and, in doubt, its
content digest, extracts what changed in a process pool (one worker per core; small
batches stay in-process, where starting workers would cost more than they save), applies
results in batched transactions, and drops files that disappeared or became ignored.
Progress goes to a callback; a cancel token stops it between results, keeping what was
already applied (a later sync resumes from there). A large first build starts the workers
while it scans and hands them its first files before the scan ends (``_EarlyTasks``).

``update_paths`` is the watcher's cheaper path for a handful of known paths.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Union

from repo_index import orphans
from repo_index.config import IndexConfig
from repo_index.extract import digest, read_and_extract, read_and_extract_many, read_limited
from repo_index.facts import BuildStats, FileFacts, FileSkip
from repo_index.rules import PathRules, ScanEntry
from repo_index.state import IndexState
from repo_index.store import CONTENT_SKIPS, FileRecord, SkipRow, record_of

log = logging.getLogger(__name__)

#: Stat times within this much of the moment a file was indexed are not trusted alone
#: (coarse file-system timestamps: a second write in the same tick keeps the mtime).
RACY_NS = 2_000_000_000
_TASK_BYTES = 512 * 1024
_TASK_FILES = 64
_COMMIT_EVERY_S = 0.5
_COMMIT_EVERY_FILES = 500
_POOL_IDLE_S = 60.0
_BULK_LOAD_FILES = 1000
_EARLY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Progress:
    """A progress report: ``phase`` is "scanning", "indexing" or "saving"."""

    phase: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]
CancelToken = Union[threading.Event, Callable[[], bool], None]


def is_cancelled(cancel: CancelToken) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


# -- worker processes --------------------------------------------------------------------

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
        return [_record(result) for result in read_and_extract_many(_worker_root, rels, _worker_config)]
    finally:
        if collecting:
            gc.enable()


def _record(result: FileFacts | FileSkip) -> FileRecord | FileSkip:
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
                    yield _record(read_and_extract(self._root, rest, self._config))
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


class _EarlyTasks:
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


# -- planning and applying -----------------------------------------------------------------

@dataclass
class _Tally:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0


def _needs_index(state: IndexState, entry: ScanEntry, root: str, max_bytes: int) -> bool:
    row = state.files.get(entry.rel)
    if row is None or row.size != entry.size:
        return True
    if row.mtime_ns == entry.mtime_ns and entry.mtime_ns + RACY_NS < row.indexed_ns:
        return False
    # In doubt (touched, or modified in the same tick as indexed): compare content.
    data = read_limited(os.path.join(root, entry.rel), max_bytes)
    if isinstance(data, str) or digest(data) != row.digest:
        return True
    state.touch(entry.rel, entry.mtime_ns)
    return False


def _remembered_skip(state: IndexState, entry: ScanEntry) -> str:
    """The content verdict remembered for this file, while it is unchanged ("" if none)."""
    row = state.skips.get(entry.rel)
    if row is None or row.size != entry.size or row.mtime_ns != entry.mtime_ns:
        return ""
    return row.reason if entry.mtime_ns + RACY_NS < row.judged_ns else ""


def sync(
    state: IndexState,
    rules: PathRules,
    config: IndexConfig,
    pool: ExtractorPool,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken = None,
    skipped: dict[str, str] | None = None,
    snapshot: bool = True,
) -> BuildStats:
    """Make the index match the disk; see the module docstring. ``snapshot`` saves the
    lexical index afterwards (the watcher's reconciliations leave that to ``close``)."""
    started = time.perf_counter()
    report = progress or (lambda p: None)
    report(Progress("scanning", 0, 0))
    entries: list[ScanEntry] = []
    first_build = not state.files and config.worker_count() > 1
    early = _EarlyTasks(pool) if first_build and not state.skips else None
    for entry in rules.scan():
        entries.append(entry)
        if first_build and len(entries) == _BULK_LOAD_FILES:
            pool.start_soon()  # a large first build: the workers come up while the scan goes on
            if early is not None:
                early.extend(entries)
        elif early is not None and len(entries) > _BULK_LOAD_FILES:
            early.extend((entry,))
        if len(entries) % 2000 == 0:
            report(Progress("scanning", len(entries), 0))
            if is_cancelled(cancel):
                pool.drop_prefetched()
                return BuildStats(cancelled=True, seconds=time.perf_counter() - started)
    skips = dict(rules.skipped)
    root = str(rules.root)
    tally = _Tally()
    with state.lock, state.store.transaction():
        todo: list[ScanEntry] = []
        refused = 0  # files whose remembered content verdict still holds
        for e in entries:
            reason = _remembered_skip(state, e)
            if reason:
                skips[e.rel] = reason
                refused += 1
            elif _needs_index(state, e, root, config.max_bytes):
                todo.append(e)
        seen = {e.rel for e in entries}
        for rel in sorted(set(state.files) - seen):
            state.remove(rel)
            tally.removed += 1
        state.forget_skips([rel for rel in state.skips if rel not in seen])  # gone, or now excluded
        if tally.removed:
            state.commit_generation()
    tally.unchanged = len(entries) - len(todo) - refused
    report(Progress("indexing", 0, len(todo)))
    bulk_load = not state.files and len(todo) >= _BULK_LOAD_FILES
    if bulk_load:
        with state.lock:
            state.store.drop_name_index()
    collecting = gc.isenabled()
    try:
        if bulk_load:
            # The results of a large first build are hundreds of thousands of tuples,
            # unpickled and inserted and then dropped; cyclic collections only walked them
            # (0.3 CPU-s for the 31k-file tree here). Back on afterwards, whatever happens.
            gc.disable()
        cancelled = _extract_and_apply(state, config, pool, todo, root, report, cancel, skips, tally)
    except BaseException:
        if bulk_load:
            with state.lock:
                _ensure_name_index(state)  # may fail as the build did (a full disk): the next open retries
        raise
    finally:
        if collecting:
            gc.enable()
    report(Progress("saving", 0, 1))
    with state.lock:
        _save(state, name_index=bulk_load, snapshot=snapshot and not cancelled)
    report(Progress("saving", 1, 1))
    if skipped is not None:
        skipped.clear()
        skipped.update(skips)
    with state.lock:
        notes = state.store.notes_counts()
    return BuildStats(
        files_total=len(entries), files_indexed=tally.indexed, files_unchanged=tally.unchanged,
        files_removed=tally.removed, skipped=_count(skips.values()), notes=notes,
        seconds=time.perf_counter() - started, cancelled=cancelled,
    )


def _save(state: IndexState, *, name_index: bool, snapshot: bool) -> None:
    """After a build: the symbol name index (when a bulk load dropped it), the lexical
    merge, and its snapshot. SQLite builds the name index in a helper thread while this one
    merges (both release the GIL; they were the longest steps after the last file). The
    caller holds ``state.lock``, so nothing else touches the store or the lexical index."""
    helper = threading.Thread(target=_ensure_name_index, args=(state,), name="repo-index-names") if name_index else None
    if helper is not None:
        helper.start()
    try:
        state.lexical.flush()
        blob = state.snapshot_blob() if snapshot else None
    finally:
        if helper is not None:
            helper.join()
    if blob is not None:
        try:
            state.write_snapshot(blob)
        except OSError as exc:  # the index is whole; only the next start is slower
            log.warning("could not save the lexical index snapshot (%s); the next start rebuilds it", exc)


def _ensure_name_index(state: IndexState) -> None:
    try:
        state.store.ensure_name_index()
    except Exception as exc:  # lookups by name go slow; the store's next open builds it again
        log.info("could not build the symbol name index: %s", exc)


def _extract_and_apply(state, config, pool, todo, root, report, cancel, skips, tally, open_facts=None) -> bool:
    if len(todo) >= config.pool_min_files and config.worker_count() > 1:
        results = pool.run(todo, cancel)
    else:
        pool.drop_prefetched()
        results = (_record(read_and_extract(root, e.rel, config, open_facts)) for e in todo)
    bulk = len(todo) > config.pool_min_files
    done = 0
    batch: list[FileRecord | FileSkip] = []
    last_commit = time.perf_counter()
    step = max(1, len(todo) // 100)  # progress every 1%: cheap for a bar, fine-grained enough
    cancelled = False
    entries = {e.rel: e for e in todo}
    try:
        for result in results:
            batch.append(result)
            done += 1
            now = time.perf_counter()
            if len(batch) >= _COMMIT_EVERY_FILES or now - last_commit > _COMMIT_EVERY_S:
                _apply(state, batch, skips, tally, bulk, entries)
                batch, last_commit = [], now
            if done % step == 0:
                report(Progress("indexing", done, len(todo)))
            if is_cancelled(cancel):
                cancelled = True
                break
        _apply(state, batch, skips, tally, bulk, entries)
    finally:
        # Now, also when a commit failed (a full disk): a pool run left suspended was
        # finalised at interpreter exit, where its clean-up started a timer thread that
        # could never run, and the process hung (issue 18, finding 1).
        if hasattr(results, "close"):
            results.close()
    report(Progress("indexing", done, len(todo)))
    return cancelled or done < len(todo)


def _apply(state: IndexState, batch: list, skips: dict[str, str], tally: _Tally, bulk: bool,
           entries: dict[str, ScanEntry]) -> None:
    """Store a batch of results; content verdicts are remembered with the size and mtime
    the file had when it was planned (a later change of either has it judged again)."""
    if not batch:
        return
    records = []
    remembered: list[tuple[str, SkipRow]] = []
    now = time.time_ns()
    with state.lock, state.store.transaction():
        for result in batch:
            if isinstance(result, FileSkip):
                skips[result.rel] = result.reason
                if state.remove(result.rel):
                    tally.removed += 1
                entry = entries.get(result.rel)
                if result.reason in CONTENT_SKIPS and entry is not None:
                    remembered.append((result.rel, SkipRow(entry.size, entry.mtime_ns, now, result.reason)))
            else:
                skips.pop(result.path, None)
                records.append(result)
        kept = {rel for rel, _ in remembered}
        state.forget_skips([r.path for r in records]
                           + [r.rel for r in batch if isinstance(r, FileSkip) and r.rel not in kept])
        state.remember_skips(remembered)
        state.apply_records(records, bulk=bulk)
        tally.indexed += len(records)
        state.commit_generation()


def update_paths(
    state: IndexState,
    rules: PathRules,
    config: IndexConfig,
    pool: ExtractorPool,
    rels: Iterable[str],
    skipped: dict[str, str],
    open_facts: Callable | None = None,
) -> BuildStats:
    """Re-check known paths (from file events): index changed files, drop gone or newly
    excluded ones. Cheaper than ``sync``: no tree scan."""
    started = time.perf_counter()
    root = str(rules.root)
    tally = _Tally()
    todo: list[ScanEntry] = []
    with state.lock, state.store.transaction():
        for rel in sorted(set(rels)):
            verdict = rules.check(rel, sniff=False)
            if not verdict.allowed:
                if verdict.reason != "vanished":
                    skipped[rel] = verdict.reason
                else:
                    skipped.pop(rel, None)
                if state.remove(rel):
                    tally.removed += 1
                state.forget_skips([rel])
                continue
            try:
                st = os.stat(os.path.join(root, rel))
            except OSError:
                if state.remove(rel):
                    tally.removed += 1
                state.forget_skips([rel])
                continue
            entry = ScanEntry(rel, st.st_size, st.st_mtime_ns)
            remembered = _remembered_skip(state, entry)
            if remembered:
                skipped[rel] = remembered
            elif _needs_index(state, entry, root, config.max_bytes):
                todo.append(entry)
            else:
                tally.unchanged += 1
        if tally.removed:
            state.commit_generation()
    cancelled = _extract_and_apply(state, config, pool, todo, root, lambda p: None, None, skipped, tally,
                                   open_facts)
    with state.lock:
        state.lexical.flush()
    return BuildStats(
        files_total=len(todo) + tally.unchanged, files_indexed=tally.indexed,
        files_unchanged=tally.unchanged, files_removed=tally.removed,
        seconds=time.perf_counter() - started, cancelled=cancelled,
    )


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
