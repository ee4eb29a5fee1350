"""Bringing the index up to date with the disk: plan, extract (in worker processes), apply.

``sync`` is both the initial index and every later reconciliation: it scans the tree with
the path rules, compares each file with its stored (size, mtime) and, in doubt, its
content digest, extracts what changed in a process pool (one worker per core; small
batches stay in-process, where starting workers would cost more than they save), applies
results in batched transactions, and drops files that disappeared or became ignored.
Progress goes to a callback; a cancel token stops it between results, keeping what was
already applied (a later sync resumes from there). A large first build starts the workers
while it scans and hands them its first files before the scan ends (``EarlyTasks``). The
worker processes themselves are ``extract_pool``'s.

``update_paths`` is the watcher's cheaper path for a handful of known paths.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from repo_index.config import IndexConfig
from repo_index.extract import digest, read_and_extract
from repo_index.extract_pool import CancelToken, EarlyTasks, ExtractorPool, is_cancelled, record
from repo_index.facts import BuildStats, FileSkip
from repo_index.file_read import read_limited
from repo_index.rules import PathRules, ScanEntry
from repo_index.state import IndexState
from repo_index.store_rows import CONTENT_SKIPS, FileRecord, SkipRow

log = logging.getLogger(__name__)

#: Stat times within this much of the moment a file was indexed are not trusted alone
#: (coarse file-system timestamps: a second write in the same tick keeps the mtime).
RACY_NS = 2_000_000_000
_COMMIT_EVERY_S = 0.5
_COMMIT_EVERY_FILES = 500
_BULK_LOAD_FILES = 1000


@dataclass(frozen=True)
class Progress:
    """A progress report: ``phase`` is "scanning", "indexing" or "saving"."""

    phase: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


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
    early = EarlyTasks(pool) if first_build and not state.skips else None
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
        results = (record(read_and_extract(root, e.rel, config, open_facts)) for e in todo)
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
