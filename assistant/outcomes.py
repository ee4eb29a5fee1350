"""The local record of how suggestions fared: one SQLite file under the cache directory.

For every suggestion shown the store keeps one row (``Shown``): its kind (``fim_line``,
``fim_block``, ``next_edit``), the document's language, a salted hash of the file's path (never
the path), a hash of its position, the shown text's length, the latency, the model and adapter
names; then its outcome (``accepted``, ``partial``, ``dismissed``, ``typed_over``, ``ignored``),
how many accepted characters were still in the document 30 s and 120 s after the accept, and
whether the accept was undone within 10 s. With ``StatsConfig.keep_text`` it also keeps the
suggestion's text and the exact prompt (once per distinct prompt), which
``OutcomeStore.preference_pairs`` turns into preference pairs for a local fine-tune.

Where: ``<cache>/stats/outcomes.sqlite3`` (``default_path``; ``$QWENPAIR_CACHE_DIR`` moves it),
beside the workspace indexes and never inside a repository. Nothing here sends anything
anywhere. The newest ``StatsConfig.max_suggestions`` rows are kept, the oldest dropped. A file
SQLite cannot read, or of another schema, is deleted and created empty, and ``rebuilt_reason``
says why (the caller shows it). A file deleted or replaced while open (``qwenpair stats
--purge`` beside a running server) is reopened before the next write.

Which outcome wins when several arrive (docs/stats.md, docs/lsp.md): a client's report
(accepted, partial, dismissed) outranks the server's inference (typed_over, ignored), except
that a dismiss does not undo "typed over"; among reports the first wins, but "accepted" after
"partial" upgrades it and a later "partial" may raise the accepted characters. Inferences
never replace an outcome.

What it is not: the inference of outcomes from document changes (``assistant.outcomes_tracker``)
and the figures (``assistant.outcomes_report``). Not thread-safe: one owner serialises calls.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from assistant.settings_convert import setting
from model.paths import cache_dir

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
KINDS = ("fim_line", "fim_block", "next_edit")
REPORTED = ("accepted", "partial", "dismissed")  # what a client says
INFERRED = ("typed_over", "ignored")  # what the server concludes from the document
OUTCOMES = REPORTED + INFERRED
#: Seconds after an accept at which the accepted characters still present are counted.
RETENTION_S = (30, 120)
#: An accept undone within this many seconds is a reversal.
REVERSAL_S = 10

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE suggestions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    shown_at REAL NOT NULL,
    kind TEXT NOT NULL,
    language TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    position TEXT NOT NULL,
    shown_chars INTEGER NOT NULL,
    latency_ms REAL,
    model TEXT NOT NULL,
    adapter TEXT NOT NULL,
    outcome TEXT,
    outcome_at REAL,
    accepted_chars INTEGER,
    retained_30 INTEGER,
    retained_120 INTEGER,
    reversed INTEGER,
    prompt_hash TEXT,
    text TEXT
);
CREATE INDEX suggestions_by_time ON suggestions (shown_at);
CREATE INDEX suggestions_by_position ON suggestions (position);
CREATE TABLE prompts (hash TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
"""
_COLUMNS = ("id", "shown_at", "kind", "language", "file_hash", "position", "shown_chars", "latency_ms", "model",
            "adapter", "outcome", "outcome_at", "accepted_chars", "retained_30", "retained_120", "reversed")


@dataclass(frozen=True)
class StatsConfig:
    enabled: bool = True
    """Record how suggestions fare (accepted, dismissed, typed over...) in
    `$QWENPAIR_CACHE_DIR/stats/outcomes.sqlite3`, for `qwenpair stats`; false records nothing
    (docs/stats.md). Nothing is ever sent anywhere."""
    keep_text: bool = True
    """Also keep each suggestion's text and its prompt (the code the model was shown, already
    filtered by the security rules): the preference pairs a local fine-tune learns from
    (docs/stats.md); false keeps figures only, and drops the texts kept before."""
    max_suggestions: int = setting(20000, min=100)
    """Suggestions kept; the oldest are dropped first."""


@dataclass(frozen=True)
class Shown:
    """One suggestion as it was shown."""

    id: str
    shown_at: float  # seconds since the epoch
    kind: str  # one of KINDS
    language: str
    file_hash: str  # ``OutcomeStore.file_hash`` of the document's path
    position: str  # ``OutcomeStore.position_hash`` of where it was shown
    text: str
    latency_ms: float | None
    model: str
    adapter: str | None = None
    prompt: str = ""  # the exact prompt ("" when unknown, e.g. a cache hit)


@dataclass(frozen=True)
class PreferencePair:
    """An accepted and a rejected (dismissed or typed-over) suggestion at the same position."""

    prompt: str  # the accepted suggestion's exact prompt
    chosen: str
    rejected: str
    kind: str
    language: str
    model: str
    adapter: str | None
    chosen_id: str
    rejected_id: str
    position: str


def default_path() -> Path:
    return cache_dir() / "stats" / "outcomes.sqlite3"


def purge(path: Path | None = None) -> bool:
    """Delete the store (and its journal files); whether there was one."""
    path = path or default_path()
    found = False
    for name in (path.name + suffix for suffix in ("", "-wal", "-shm", "-journal")):
        try:
            os.unlink(path.parent / name)
            found = True
        except FileNotFoundError:
            pass
    return found


class OutcomeStore:
    """Open with ``OutcomeStore.open(path)``."""

    def __init__(self, path: Path, *, max_suggestions: int = 20000, keep_text: bool = True) -> None:
        self.path = path
        self.max_suggestions = max_suggestions
        self.keep_text = keep_text
        self.rebuilt_reason = ""
        self.db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._salt = ""
        self._since_trim = 0
        #: called with the message when the store had to be reset (the server shows it)
        self.on_reset: Callable[[str], None] | None = None

    @classmethod
    def open(cls, path: Path | None = None, *, max_suggestions: int = 20000, keep_text: bool = True,
             on_reset: Callable[[str], None] | None = None) -> "OutcomeStore":
        store = cls(path or default_path(), max_suggestions=max_suggestions, keep_text=keep_text)
        store.on_reset = on_reset
        store._connect_checked()
        if not keep_text:
            store.forget_texts()
        return store

    # -- the file --------------------------------------------------------------------------
    def _connect_checked(self) -> None:
        """Connect, creating the store when new and rebuilding it when unusable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        reason = ""
        try:
            self._connect()
            reason = self._check()
        except sqlite3.OperationalError:  # cannot open or lock it (access, disk): the caller says so
            self.close()
            raise
        except sqlite3.DatabaseError as exc:
            reason = f"the file could not be read ({exc})"
        if reason == "new":
            self._create()
        elif reason:
            self._reset(reason)
        self._salt = self._meta("salt")

    def _connect(self) -> None:
        self.db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._identity = _identity(self.path)

    def _check(self) -> str:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return "new"
        if "meta" not in tables or "suggestions" not in tables:
            return "not a qwenpair statistics file"
        version = self._meta("schema_version")
        if version != str(SCHEMA_VERSION):
            return f"schema version {version} is not {SCHEMA_VERSION}"
        self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM suggestions ORDER BY seq DESC LIMIT 1").fetchall()
        if self.db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            return "the file is damaged"
        return ""

    def _create(self) -> None:
        with self.db:
            self.db.execute("BEGIN")
            for statement in _SCHEMA.strip().split(";\n"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                [("schema_version", str(SCHEMA_VERSION)), ("salt", secrets.token_hex(16))])

    def _meta(self, key: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else ""

    def _writable(self) -> sqlite3.Connection:
        """The connection, reopened first when the file was deleted or replaced meanwhile."""
        if self.db is None or _identity(self.path) != self._identity:
            self.close()
            self._connect_checked()
        return self.db

    def _run(self, sql: str, args: tuple | list = (), *, rows: bool = False) -> Any:
        """Run one statement: the rows read (``rows``) or the count changed. A store found
        damaged is rebuilt once (its rows are lost, and said so); a failure of the disk or of
        access (full, read-only, locked: ``OperationalError``) loses this write only, logged."""
        for attempt in (1, 2):
            try:
                cursor = self._writable().execute(sql, args)
                return cursor.fetchall() if rows else cursor.rowcount
            except (sqlite3.OperationalError, OSError) as exc:
                log.warning("suggestion statistics: %s", exc)
                break
            except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
                if attempt == 2:
                    log.warning("suggestion statistics: %s", exc)
                    break
                self._reset(str(exc))
        return [] if rows else 0

    def _reset(self, reason: str) -> None:
        """Delete the store and create it empty, saying why (``rebuilt_reason``, ``on_reset``)."""
        self.rebuilt_reason = f"the suggestion statistics in {self.path} were reset: {reason}"
        log.warning("%s", self.rebuilt_reason)
        if self.on_reset is not None:
            self.on_reset(self.rebuilt_reason)
        self.close()
        purge(self.path)
        self._connect()
        self._create()
        self._salt = self._meta("salt")

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    # -- hashing ---------------------------------------------------------------------------
    def file_hash(self, path: str) -> str:
        """The document's identity in the store: its path hashed with this store's own salt, so
        that rows group by file without naming it (a purge draws a new salt)."""
        return hashlib.sha256(f"{self._salt}\0{path}".encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def position_hash(self, file_hash: str, before: str, rest_of_line: str) -> str:
        """Where a suggestion was shown: the file, the text before the cursor (the tracker passes
        up to 8,192 characters) and the rest of its line. Two suggestions with the same hash
        were offered for the same context."""
        digest = hashlib.sha256(f"{self._salt}\0{file_hash}\0".encode())
        digest.update(before.encode("utf-8", "surrogatepass"))
        digest.update(b"\0" + rest_of_line.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:24]

    # -- writes ----------------------------------------------------------------------------
    def record_shown(self, shown: Shown) -> None:
        prompt_hash = None
        if self.keep_text and shown.prompt:
            prompt_hash = hashlib.sha256(shown.prompt.encode("utf-8", "surrogatepass")).hexdigest()
            self._run("INSERT OR IGNORE INTO prompts (hash, body) VALUES (?, ?)",
                        (prompt_hash, zlib.compress(shown.prompt.encode("utf-8", "surrogatepass"))))
        self._run(
            "INSERT OR IGNORE INTO suggestions (id, shown_at, kind, language, file_hash, position, shown_chars, "
            "latency_ms, model, adapter, prompt_hash, text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (shown.id, shown.shown_at, shown.kind, shown.language, shown.file_hash, shown.position, len(shown.text),
             shown.latency_ms, shown.model, shown.adapter or "", prompt_hash, shown.text if self.keep_text else None))
        self._since_trim += 1
        if self._since_trim >= max(1, self.max_suggestions // 100):
            self.trim()

    def record_outcome(self, id: str, outcome: str, at: float, accepted_chars: int | None = None) -> bool:
        """Record ``outcome`` for suggestion ``id`` under the precedence rules above; whether
        the row changed (False for an unknown id, or an outcome that does not win)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        found = self._run("SELECT outcome, accepted_chars, shown_chars FROM suggestions WHERE id = ?", (id,), rows=True)
        if not found:
            return False
        current, chars, shown_chars = found[0]
        if outcome == "accepted":
            accepted_chars = shown_chars
        elif outcome == "partial":
            accepted_chars = max(0, min(int(accepted_chars or 0), shown_chars))
        else:
            accepted_chars = None
        if not _wins(current, chars, outcome, accepted_chars):
            return False
        return self._run("UPDATE suggestions SET outcome = ?, outcome_at = ?, accepted_chars = ? WHERE id = ?",
                           (outcome, at, accepted_chars, id)) > 0

    def record_retained(self, id: str, after_s: int, chars: int | None) -> None:
        column = {RETENTION_S[0]: "retained_30", RETENTION_S[1]: "retained_120"}[after_s]
        self._run(f"UPDATE suggestions SET {column} = ? WHERE id = ?", (chars, id))

    def record_reversed(self, id: str, reversed_: bool) -> None:
        self._run("UPDATE suggestions SET reversed = ? WHERE id = ?", (int(reversed_), id))

    def forget(self, id: str) -> None:
        """Drop a suggestion that was never really offered on its own (a block's first line,
        replaced by the whole block)."""
        self._run("DELETE FROM suggestions WHERE id = ?", (id,))

    def forget_texts(self) -> None:
        """Drop every kept suggestion text and prompt (``keep_text`` turned off): figures only."""
        if self._run("SELECT 1 FROM suggestions WHERE text IS NOT NULL OR prompt_hash IS NOT NULL LIMIT 1", rows=True):
            self._run("UPDATE suggestions SET text = NULL, prompt_hash = NULL")
        self._run("DELETE FROM prompts")

    def trim(self) -> int:
        """Drop the oldest rows beyond ``max_suggestions`` and the prompts no row uses."""
        self._since_trim = 0
        found = self._run("SELECT max(seq) FROM suggestions", rows=True)
        newest = found[0][0] if found else None
        if newest is None:
            return 0
        dropped = self._run("DELETE FROM suggestions WHERE seq <= ?", (newest - self.max_suggestions,))
        if dropped:
            self._run("DELETE FROM prompts WHERE hash NOT IN "
                        "(SELECT prompt_hash FROM suggestions WHERE prompt_hash IS NOT NULL)")
        return dropped

    # -- reads -----------------------------------------------------------------------------
    def rows(self, since: float | None = None) -> list[dict[str, Any]]:
        """The rows shown at or after ``since`` (seconds since the epoch), oldest first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM suggestions"
        args: tuple = ()
        if since is not None:
            sql, args = sql + " WHERE shown_at >= ?", (since,)
        return [dict(zip(_COLUMNS, r)) for r in self._run(sql + " ORDER BY seq", args, rows=True)]

    def row(self, id: str) -> dict[str, Any] | None:
        found = self._run(f"SELECT {', '.join(_COLUMNS)} FROM suggestions WHERE id = ?", (id,), rows=True)
        return dict(zip(_COLUMNS, found[0])) if found else None

    def preference_pairs(self, since: float | None = None, kinds: tuple[str, ...] | None = None) -> list[PreferencePair]:
        """Accepted-versus-rejected pairs at the same position (docs/stats.md, "Preference pairs").

        Chosen: a suggestion accepted whole and not undone, with its prompt kept. Rejected: one
        dismissed or typed over at the same position (same file, same text before the cursor
        and rest of the line) with another, non-empty text. Neither side is ever empty."""
        sql = """
            SELECT c.id, r.id, c.text, r.text, c.kind, c.language, c.model, c.adapter, c.position, p.body
            FROM suggestions c
            JOIN suggestions r ON r.position = c.position AND r.kind = c.kind AND r.id != c.id
            JOIN prompts p ON p.hash = c.prompt_hash
            WHERE c.outcome = 'accepted' AND coalesce(c.reversed, 0) = 0
              AND r.outcome IN ('dismissed', 'typed_over')
              AND c.text IS NOT NULL AND r.text IS NOT NULL
              AND trim(c.text) != '' AND trim(r.text) != '' AND c.text != r.text"""
        args: list[Any] = []
        if since is not None:
            sql += " AND c.shown_at >= ? AND r.shown_at >= ?"
            args += [since, since]
        if kinds:
            sql += f" AND c.kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        pairs = []
        for cid, rid, chosen, rejected, kind, language, model, adapter, position, body in self._run(
                sql + " ORDER BY c.seq, r.seq", args, rows=True):
            pairs.append(PreferencePair(zlib.decompress(body).decode("utf-8", "surrogatepass"), chosen, rejected,
                                        kind, language, model, adapter or None, cid, rid, position))
        return pairs


def _wins(current: str | None, chars: int | None, new: str, new_chars: int | None) -> bool:
    """Whether outcome ``new`` replaces ``current`` (the precedence rules in the module docstring)."""
    if current is None:
        return True
    if new in INFERRED:
        return False
    if current in INFERRED:
        return not (current == "typed_over" and new == "dismissed")
    if current == "partial":
        return new == "accepted" or (new == "partial" and (new_chars or 0) > (chars or 0))
    return False


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
