"""The index's state: the SQLite store plus what must be in memory to answer fast.

In memory: the table of indexed files (path -> row, id -> path) and the lexical index.
In SQLite only: symbols (looked up by name through an index: ~20 µs a query, nothing to
load at start), imports and the per-file window blobs.

``IndexState`` applies extraction results (``apply``), forgets files (``remove``), and loads
itself at start: the lexical snapshot when its generation matches the store's, else a
rebuild from the window blobs. Every method expects the caller to hold ``lock``.
"""

from __future__ import annotations

import logging
import threading
import time
import zipfile
from pathlib import Path
from typing import Iterable

from repo_index import chunking
from repo_index.facts import Definition, FileFacts, ImportStmt
from repo_index.lexical import LexicalIndex
from repo_index.store import IndexStore
from repo_index.store_rows import FileRecord, FileRow, SkipRow, StoredSymbol, definition_from, record_of

log = logging.getLogger(__name__)

#: Overlay (unsaved editor buffer) windows get file ids from here up, apart from store ids.
OVERLAY_ID_BASE = 1 << 30


class IndexState:
    def __init__(self, root: Path, store: IndexStore) -> None:
        self.root = root
        self.store = store
        self.lock = threading.RLock()
        self.files: dict[str, FileRow] = {}
        self.skips: dict[str, SkipRow] = {}  # files refused for their content (store_rows.CONTENT_SKIPS)
        self.paths_by_id: dict[int, str] = {}
        self.lexical = LexicalIndex()
        self.generation = 0
        self.snapshot_generation = -1
        self.load_seconds = 0.0
        self.loaded_from = ""
        #: Why the last snapshot could not be written (and its size), None after one was.
        self.snapshot_problem: tuple[OSError, int] | None = None
        self.overlay_ids: dict[str, int] = {}
        self._next_overlay = OVERLAY_ID_BASE
        self._fileset_version = 0
        self._next_id = 1

    # -- start ---------------------------------------------------------------------------

    def load(self) -> None:
        started = time.perf_counter()
        rows = self.store.files()
        self.files = {r.path: r for r in rows}
        self.skips = self.store.skips()
        self.paths_by_id = {r.id: r.path for r in rows}
        self.generation = self.store.generation()
        self._next_id = self.store.max_file_id() + 1
        snapshot = self.store.lexical_snapshot()
        lexical = None
        if snapshot is not None and snapshot[0] == self.generation:
            try:
                lexical = LexicalIndex.from_bytes(snapshot[1])
                if lexical.file_ids() - set(self.paths_by_id):
                    lexical = None  # refers to files the store no longer has
            except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
                log.warning("ignoring unreadable lexical snapshot: %s", exc)
                lexical = None
        if lexical is not None:
            self.lexical = lexical
            self.snapshot_generation = self.generation
            self.loaded_from = "snapshot"
        else:
            self.lexical = LexicalIndex()
            for file_id, blob in self.store.windows_blobs():
                try:
                    self.lexical.add(file_id, chunking.unpack_windows(bytes(blob)), bulk=True)
                except ValueError:
                    log.warning("bad window blob for file id %s; it will be re-indexed", file_id)
                    self._forget_row(file_id)
                    with self.store.transaction():
                        self.store.delete(file_id)
            self.lexical.flush()
            self.loaded_from = "window blobs" if rows else "empty"
        self._fileset_version += 1
        self.load_seconds = time.perf_counter() - started

    def reload(self) -> None:
        """Take the store's committed state, written by another process since ``load``
        (see ``writer_lock``). Open buffers' windows are dropped: the workspace lays them
        over again."""
        self.overlay_ids.clear()
        self.snapshot_generation = -1
        self.load()

    def changed_elsewhere(self) -> bool:
        """Whether another process committed to the store since this state was loaded."""
        return self.store.generation() != self.generation

    def _forget_row(self, file_id: int) -> None:
        path = self.paths_by_id.pop(file_id, None)
        if path is not None:
            self.files.pop(path, None)

    # -- updates (inside store.transaction()) -----------------------------------------------

    def apply(self, facts: FileFacts, *, bulk: bool = False) -> int:
        return self.apply_records([record_of(facts)], bulk=bulk)[0]

    def apply_records(self, records: list[FileRecord], *, bulk: bool = False) -> list[int]:
        """Store a batch of extracted files; returns their ids (a file keeps its id across
        updates). With ``bulk`` the lexical postings wait for ``lexical.flush``."""
        records = list({r.path: r for r in records}.values())  # the last result for a path wins
        now = time.time_ns()
        ids: list[int] = []
        replaced: list[int] = []
        for r in records:
            row = self.files.get(r.path)
            if row is None:
                file_id = self._next_id
                self._next_id += 1
                self._fileset_version += 1
            else:
                file_id = row.id
                replaced.append(file_id)
            ids.append(file_id)
            self.files[r.path] = FileRow(file_id, r.path, r.language, r.size, r.mtime_ns, r.digest, now,
                                         r.n_lines, r.package)
            self.paths_by_id[file_id] = r.path
        self.store.put_many(records, ids, replaced, now)
        # An open buffer shadows the disk's windows.
        self.lexical.add_many([(file_id, chunking.unpack_windows(r.windows)) for file_id, r in zip(ids, records)
                               if r.path not in self.overlay_ids], bulk=bulk)
        return ids

    def remember_skips(self, rows: list[tuple[str, SkipRow]]) -> None:
        if rows:
            self.store.put_skips(rows)
            self.skips.update(rows)

    def forget_skips(self, rels: Iterable[str]) -> None:
        gone = [rel for rel in rels if self.skips.pop(rel, None) is not None]
        if gone:
            self.store.delete_skips(gone)

    def touch(self, rel: str, mtime_ns: int) -> None:
        row = self.files[rel]
        self.store.touch(row.id, mtime_ns)
        self.files[rel] = row._replace(mtime_ns=mtime_ns, indexed_ns=time.time_ns())

    def remove(self, rel: str) -> bool:
        row = self.files.pop(rel, None)
        if row is None:
            return False
        self.store.delete(row.id)
        self.paths_by_id.pop(row.id, None)
        self.lexical.remove(row.id)
        self._fileset_version += 1
        return True

    def commit_generation(self) -> None:
        self.generation = self.store.bump_generation()

    def save_snapshot(self) -> bool:
        """Persist the lexical index if it changed since the last snapshot. Skipped while
        editor buffers overlay the disk: a snapshot must hold the disk's windows only (the
        workspace drops overlays before its final snapshot on close)."""
        blob = self.snapshot_blob()
        if blob is None:
            return False
        return self.write_snapshot(blob)

    def snapshot_blob(self) -> bytes | None:
        """What ``save_snapshot`` would write, or None when it would write nothing."""
        if self.snapshot_generation == self.generation or self.overlay_ids:
            return None
        return self.lexical.to_bytes()

    def write_snapshot(self, blob: bytes) -> bool:
        """Write a blob from ``snapshot_blob`` (the index must not have changed since)."""
        try:
            self.store.save_lexical(self.generation, blob)
        except OSError as exc:
            self.snapshot_problem = (exc, len(blob))
            raise
        self.snapshot_problem = None
        self.snapshot_generation = self.generation
        return True

    # -- overlays ------------------------------------------------------------------------

    def set_overlay_windows(self, rel: str, windows: chunking.Windows) -> None:
        overlay_id = self.overlay_ids.get(rel)
        if overlay_id is None:
            overlay_id = self.overlay_ids[rel] = self._next_overlay
            self._next_overlay += 1
        row = self.files.get(rel)
        if row is not None:
            self.lexical.remove(row.id)
        self.lexical.add(overlay_id, windows)
        self.paths_by_id[overlay_id] = rel

    def drop_overlay(self, rel: str) -> None:
        overlay_id = self.overlay_ids.pop(rel, None)
        if overlay_id is None:
            return
        self.lexical.remove(overlay_id)
        self.paths_by_id.pop(overlay_id, None)
        self._restore_disk_windows(rel)

    def _restore_disk_windows(self, rel: str) -> None:
        row = self.files.get(rel)
        if row is None:
            return
        blob = self.store.windows_of(row.id)
        if blob:
            self.lexical.add(row.id, chunking.unpack_windows(blob))

    # -- reads ---------------------------------------------------------------------------

    @property
    def fileset_version(self) -> int:
        return self._fileset_version

    def definitions_named(self, names: Iterable[str], *, skip_paths: Iterable[str] = (),
                          only_paths: Iterable[str] | None = None) -> list[Definition]:
        skip = set(skip_paths)
        file_ids = None
        if only_paths is not None:
            file_ids = [self.files[p].id for p in only_paths if p in self.files]
            if not file_ids:
                return []
        found = []
        for row in self.store.symbols_named(names, file_ids=file_ids):
            path = self.paths_by_id.get(row.file_id)
            if path is not None and path not in skip:
                found.append(definition_from(row, path))
        return found

    def definitions_with_prefix(self, prefix: str, limit: int, *, skip_paths: Iterable[str] = ()) -> list[Definition]:
        skip = set(skip_paths)
        # A range scan on the name index; the upper bound is the prefix with its last
        # character bumped, so "comp" covers "comp" up to (not including) "comq".
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.store.db.execute(
            "SELECT file_id, name, kind, parent, start_line, end_line, head_end, signature, doc_start, doc_end"
            " FROM symbols WHERE name >= ? AND name < ? ORDER BY name, file_id, start_line LIMIT ?",
            (prefix, upper, limit),
        ).fetchall()
        found = []
        for r in rows:
            row = StoredSymbol(*r)
            path = self.paths_by_id.get(row.file_id)
            if path is not None and path not in skip:
                found.append(definition_from(row, path))
        return found

    def name_counts(self, names: Iterable[str]) -> dict[str, int]:
        names = list(dict.fromkeys(names))
        counts: dict[str, int] = {}
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            marks = ",".join("?" * len(chunk))
            counts.update(self.store.db.execute(
                f"SELECT name, count(*) FROM symbols WHERE name IN ({marks}) GROUP BY name", chunk))
        return counts

    def symbols_of(self, rel: str) -> list[Definition]:
        row = self.files.get(rel)
        if row is None:
            return []
        return [definition_from(s, rel) for s in self.store.symbols_of(row.id)]

    def imports_of(self, rel: str) -> list[ImportStmt]:
        row = self.files.get(rel)
        return self.store.imports_of(row.id) if row else []

    def packages(self) -> dict[str, str]:
        return {path: row.package for path, row in self.files.items() if row.package}
