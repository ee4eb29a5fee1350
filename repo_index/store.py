"""The SQLite store of one workspace index: files and symbols, plus a snapshot file of the lexical index.

Symbols are clustered by file (a WITHOUT ROWID table keyed by file and position), so a
file's symbols are replaced with one range delete and there is a single secondary index,
by name. One database per workspace root, under ``<cache>/index/<name>-<hash of root>/``. A file row
is keyed by its path and remembers size, mtime and a content digest, so a restart re-reads
only what changed (and hashes when mtime alone changed, to avoid re-indexing a touched
file). The lexical index is saved whole as a snapshot tagged with the store's identity and
generation (a counter bumped by every write): a snapshot of another store or generation is
ignored and the lexical index is rebuilt from the per-file window blobs instead, which are
the source of truth. The blobs are the last column: SQLite reads a row's columns in order,
through the overflow pages of a large value, so the columns that scans need (notes) come
before them.

The snapshot is a file beside the database, not a row in it: SQLite wrote its 55 MB (the
31k-file tree here) twice, into the write-ahead log and then the database, in 0.6 s after
the last file of a cold build; a file written whole and renamed into place takes a tenth
of that, and a torn or foreign one is simply not trusted.

A store with another schema version, another root, or that SQLite cannot read is deleted
and recreated empty, its snapshot with it; the caller then re-indexes. Several processes
may use one store: one writes at a time, holding ``writer`` (see ``writer_lock``), and
the others read the last committed state. Not thread-safe: the owner serialises calls.
The rows it reads and writes are plain tuples defined in ``store_rows``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import struct
import time
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

from repo_index.facts import ImportStmt
from repo_index.store_rows import FileRecord, FileRow, SkipRow, StoredSymbol
from repo_index.writer_lock import WRITER_LOCK_NAME, WriterLock

log = logging.getLogger(__name__)

SCHEMA_VERSION = 8

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    language TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest BLOB NOT NULL,
    indexed_ns INTEGER NOT NULL,
    n_lines INTEGER NOT NULL,
    package TEXT NOT NULL,
    notes TEXT NOT NULL,
    imports TEXT NOT NULL,
    windows BLOB NOT NULL
);
CREATE TABLE symbols (
    file_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    head_end INTEGER NOT NULL,
    signature TEXT NOT NULL,
    doc_start INTEGER NOT NULL,
    doc_end INTEGER NOT NULL,
    PRIMARY KEY (file_id, seq)
) WITHOUT ROWID;
CREATE INDEX symbols_by_name ON symbols (name);
CREATE TABLE skips (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    judged_ns INTEGER NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;
"""

#: Skip reasons that come from a file's content and hold until the file changes: remembered
#: (with size and mtime) so that a restart does not read every binary or minified file again.
#: ("too large" is the scan's to judge, from the size it lists.)
SNAPSHOT_NAME = "lexical.snapshot"
#: magic, store id (16 bytes), generation, payload length, payload CRC-32.
_SNAPSHOT_HEADER = struct.Struct("<8s16sQQI")
_SNAPSHOT_MAGIC = b"QWLEX\x001\x00"


def store_dir(cache_dir: Path, root: Path) -> Path:
    key = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in root.name)[:40] or "root"
    return cache_dir / "index" / f"{name}-{key}"


class IndexStore:
    """Open with ``IndexStore.open(cache_dir, root)``; ``rebuilt`` tells whether the store
    had to be (re)created, and why in ``rebuilt_reason``."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.root = root
        self.rebuilt_reason = ""
        self.writer = WriterLock(path.parent / WRITER_LOCK_NAME)
        self.db: sqlite3.Connection = self._connect()
        self._identity = self._file_identity()

    @classmethod
    def open(cls, cache_dir: Path, root: Path, *, on_wait: Callable[[], None] | None = None) -> "IndexStore":
        """Open the store of ``root``, rebuilding it when it cannot be used. A rebuild deletes
        files another process may have open, so it happens only under the writer lock, and
        only if the store still needs it once the lock is held (the process that held it
        may have just rebuilt it); ``on_wait`` is called if that means waiting."""
        directory = store_dir(cache_dir, root)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "index.sqlite3"
        writer = WriterLock(directory / WRITER_LOCK_NAME)
        store, reason = cls._open_checked(path, root)
        if reason:
            with writer.held(on_wait=on_wait):
                if store is not None:
                    store.db.close()
                store, reason = cls._open_checked(path, root)
                if reason:
                    store = cls._rebuild(store, path, root, reason)
                store.writer = writer
                store.ensure_name_index()  # a bulk load that was killed midway left it dropped
        else:
            store.writer = writer
            store.ensure_name_index_if_free()
        store._forget_stale_snapshot_temps()
        return store

    @classmethod
    def _open_checked(cls, path: Path, root: Path) -> tuple["IndexStore | None", str]:
        """The store at ``path`` and why it cannot be used ("" when it can)."""
        store = None
        try:
            store = cls(path, root)
            return store, store._check()
        except sqlite3.DatabaseError as exc:
            if store is not None:
                store.close()
            return None, f"unreadable store ({exc})"

    @classmethod
    def _rebuild(cls, store: "IndexStore | None", path: Path, root: Path, reason: str) -> "IndexStore":
        """Delete the store and its snapshot and create it empty (the writer lock is held)."""
        directory = path.parent
        log.info("rebuilding index store %s: %s", path, reason)
        if store is not None:
            store.db.close()
        for name in (path.name + suffix for suffix in ("", "-wal", "-shm", "-journal")):
            try:
                os.unlink(directory / name)
            except FileNotFoundError:
                pass
        try:
            os.unlink(directory / SNAPSHOT_NAME)
        except FileNotFoundError:
            pass
        except OSError as exc:  # the new store id keeps it from being trusted anyway
            log.warning("could not remove the old lexical snapshot: %s", exc)
        store = cls(path, root)
        try:
            store._create()
        except BaseException:
            store.close()  # a full disk: the empty file left is rebuilt on the next open
            raise
        store.rebuilt_reason = reason
        return store

    @property
    def rebuilt(self) -> bool:
        return bool(self.rebuilt_reason)

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def replaced(self) -> bool:
        """Whether the database file is no longer the one this connection opened: another
        process rebuilt the store (``open``), and this one would write into a deleted file."""
        return self._file_identity() != self._identity

    def reconnect(self) -> str:
        """Connect to the database file now at ``path`` (after ``replaced``; the writer lock
        held); returns why it cannot be used, "" when it can."""
        self.close()
        self.db = self._connect()
        self._identity = self._file_identity()
        try:
            return self._check()
        except sqlite3.DatabaseError as exc:
            return f"unreadable store ({exc})"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses the last commits, never consistency
        db.execute("PRAGMA temp_store=MEMORY")
        return db

    def _check(self) -> str:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return "new store"
        if "meta" not in tables:
            return "not a qwenpair index"
        meta = dict(self.db.execute("SELECT key, value FROM meta"))
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            return f"schema version {meta.get('schema_version')} != {SCHEMA_VERSION}"
        if meta.get("root") != str(self.root):
            return "store belongs to another root"
        self.db.execute("SELECT id, path, size, mtime_ns, digest FROM files LIMIT 1").fetchall()
        return ""

    def _create(self) -> None:
        with self.transaction():
            for statement in _SCHEMA.strip().split(";\n"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("root", str(self.root)), ("generation", "0"),
                 ("store_id", secrets.token_hex(16))],
            )

    def drop_name_index(self) -> None:
        """Before a bulk load into an empty store: one index build at the end is cheaper than
        hundreds of thousands of random insertions into it."""
        self.db.execute("DROP INDEX IF EXISTS symbols_by_name")

    def ensure_name_index(self) -> None:
        self.db.execute("CREATE INDEX IF NOT EXISTS symbols_by_name ON symbols (name)")

    def ensure_name_index_if_free(self) -> None:
        """``ensure_name_index`` unless another process is writing: its bulk load dropped
        the index on purpose and builds it at its end."""
        try:
            got = self.writer.acquire(wait=False)
        except OSError:  # a read-only cache directory: nothing can be written anyway
            return
        if got:
            try:
                self.ensure_name_index()
            except sqlite3.OperationalError as exc:  # read-only or full: lookups by name go slow
                log.warning("could not build the symbol name index of %s: %s", self.path, exc)
            finally:
                self.writer.release()

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    # -- transactions -------------------------------------------------------------------

    class _Transaction:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")
            return self

        def __exit__(self, kind, value, tb):
            if kind is None:
                try:
                    self.db.execute("COMMIT")
                except sqlite3.Error:  # a full disk: nothing of this transaction is kept
                    self._rollback()
                    raise
            else:
                self._rollback()
            return False

        def _rollback(self) -> None:
            if not self.db.in_transaction:  # SQLite rolls back by itself after some errors
                return
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error as exc:  # the error that got here is the one to report
                log.warning("rollback failed: %s", exc)

    def transaction(self) -> "_Transaction":
        return IndexStore._Transaction(self.db)

    # -- reads --------------------------------------------------------------------------

    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def files(self) -> list[FileRow]:
        return [FileRow(*r) for r in self.db.execute(
            "SELECT id, path, language, size, mtime_ns, digest, indexed_ns, n_lines, package FROM files"
        )]

    def skips(self) -> dict[str, SkipRow]:
        return {r[0]: SkipRow(*r[1:]) for r in self.db.execute("SELECT path, size, mtime_ns, judged_ns, reason FROM skips")}

    def windows_blobs(self) -> Iterator[tuple[int, bytes]]:
        yield from self.db.execute("SELECT id, windows FROM files")

    def _store_id(self) -> bytes:
        row = self.db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        return bytes.fromhex(row[0]) if row else b""

    @property
    def snapshot_path(self) -> Path:
        return self.path.parent / SNAPSHOT_NAME

    def lexical_snapshot(self) -> tuple[int, bytes] | None:
        """(generation, data) of the saved lexical snapshot; None when there is none, or it
        is torn, corrupt or another store's."""
        try:
            with open(self.snapshot_path, "rb") as f:
                blob = f.read()
        except OSError:
            return None
        if len(blob) < _SNAPSHOT_HEADER.size:
            return None
        magic, store_id, generation, length, crc = _SNAPSHOT_HEADER.unpack_from(blob)
        data = memoryview(blob)[_SNAPSHOT_HEADER.size:]
        if magic != _SNAPSHOT_MAGIC or store_id != self._store_id() or len(data) != length or zlib.crc32(data) != crc:
            log.info("ignoring a lexical snapshot that is not this store's, or is damaged")
            return None
        return generation, bytes(data)

    def symbols_named(self, names: Iterable[str], file_ids: list[int] | None = None) -> list[StoredSymbol]:
        names = list(dict.fromkeys(names))
        found: list[StoredSymbol] = []
        where_file = ""
        if file_ids is not None:
            where_file = f" AND file_id IN ({','.join(str(int(i)) for i in file_ids)})"
        for i in range(0, len(names), 500):  # SQLite's bound-parameter limit
            chunk = names[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found += [StoredSymbol(*r) for r in self.db.execute(
                f"SELECT file_id, name, kind, parent, start_line, end_line, head_end, signature, doc_start, doc_end"
                f" FROM symbols WHERE name IN ({marks}){where_file}", chunk)]
        return found

    def symbols_of(self, file_id: int) -> list[StoredSymbol]:
        return [StoredSymbol(*r) for r in self.db.execute(
            "SELECT file_id, name, kind, parent, start_line, end_line, head_end, signature, doc_start, doc_end"
            " FROM symbols WHERE file_id = ? ORDER BY seq", (file_id,))]

    def symbol_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM symbols").fetchone()[0])

    def imports_of(self, file_id: int) -> list[ImportStmt]:
        row = self.db.execute("SELECT imports FROM files WHERE id = ?", (file_id,)).fetchone()
        if not row:
            return []
        return [ImportStmt(line, module, tuple(names), bool(rel)) for line, module, names, rel in json.loads(row[0])]

    def windows_of(self, file_id: int) -> bytes | None:
        row = self.db.execute("SELECT windows FROM files WHERE id = ?", (file_id,)).fetchone()
        return bytes(row[0]) if row else None

    def notes_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (notes,) in self.db.execute("SELECT notes FROM files WHERE notes != ''"):
            for note in notes.split(","):
                counts[note] = counts.get(note, 0) + 1
        return counts

    # -- writes (call inside a transaction) ----------------------------------------------

    def max_file_id(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(id), 0) FROM files").fetchone()[0])

    def put_many(self, records: list[FileRecord], ids: list[int], replaced: list[int], indexed_ns: int) -> None:
        """Insert or replace files under the ids the caller chose (``replaced``: those that
        had rows, whose symbols go first). A few statements per batch, not per file: a cold
        index writes tens of thousands of files and hundreds of thousands of symbols."""
        for i in range(0, len(replaced), 500):  # SQLite's bound-parameter limit
            chunk = replaced[i:i + 500]
            self.db.execute(f"DELETE FROM symbols WHERE file_id IN ({','.join('?' * len(chunk))})", chunk)
        self.db.executemany(
            "INSERT OR REPLACE INTO files (id, path, language, size, mtime_ns, digest, indexed_ns, n_lines,"
            " package, imports, windows, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(file_id, r.path, r.language, r.size, r.mtime_ns, r.digest, indexed_ns, r.n_lines, r.package,
              r.imports, r.windows, r.notes) for file_id, r in zip(ids, records)],
        )
        self.db.executemany(
            "INSERT INTO symbols VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(file_id, *row) for file_id, r in zip(ids, records) for row in r.symbols],
        )

    def put_skips(self, rows: list[tuple[str, SkipRow]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO skips (path, size, mtime_ns, judged_ns, reason) VALUES (?,?,?,?,?)",
                            [(path, *row) for path, row in rows])

    def delete_skips(self, paths: list[str]) -> None:
        self.db.executemany("DELETE FROM skips WHERE path = ?", [(p,) for p in paths])

    def touch(self, file_id: int, mtime_ns: int) -> None:
        """Same content, new mtime: remember it so the next start need not hash again."""
        self.db.execute("UPDATE files SET mtime_ns = ?, indexed_ns = ? WHERE id = ?", (mtime_ns, time.time_ns(), file_id))

    def delete(self, file_id: int) -> None:
        self.db.execute("DELETE FROM symbols WHERE file_id = ?", (file_id,))
        self.db.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def bump_generation(self) -> int:
        row = self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation' RETURNING value"
        ).fetchone()
        return int(row[0])

    def save_lexical(self, generation: int, data: bytes) -> None:
        """Write the lexical snapshot whole to a temporary file and rename it into place, so
        a reader sees the old snapshot or the new one (no transaction needed)."""
        header = _SNAPSHOT_HEADER.pack(_SNAPSHOT_MAGIC, self._store_id(), generation, len(data), zlib.crc32(data))
        temp = self.snapshot_path.with_name(f"{SNAPSHOT_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
        try:
            with open(temp, "wb") as f:
                f.write(header)
                f.write(data)
            os.replace(temp, self.snapshot_path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _forget_stale_snapshot_temps(self) -> None:
        """Temporary snapshot files of writers that died mid-write (not of live ones)."""
        for temp in self.path.parent.glob(f"{SNAPSHOT_NAME}.*.tmp"):
            try:
                pid = int(temp.name.split(".")[-2].split("-")[0])
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError):
                temp.unlink(missing_ok=True)
            except OSError:
                pass  # alive, another user's process: leave it
