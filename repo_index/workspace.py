"""``Workspace``: the one object the engine, the CLI and the training pipeline hold.

It ties the pieces together: path rules, the store and in-memory state, the indexer and its
worker pool, open editor documents, the watcher, and retrieval. Methods are thread-safe:
the LSP thread may call ``retrieve`` while the watcher thread applies file changes.

Typical use::

    ws = Workspace.open("~/src/project")
    ws.build(progress=print)                 # cold: parses everything; warm: what changed
    ws.start_watching()
    ws.set_overlay("pkg/mod.py", unsaved_text)
    for s in ws.retrieve("pkg/mod.py", unsaved_text, line=41, col=8):
        print(s.path, s.start_line, s.reason)
    ws.close()
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from repo_index import disk_space, indexer, sharing
from repo_index.config import IndexConfig
from repo_index.documents import OpenDocuments
from repo_index.errors import WorkspaceError
from repo_index.extract_pool import CancelToken, ExtractorPool
from repo_index.facts import BuildStats, Definition, FileFacts, ResolvedImport, Snippet
from repo_index.file_read import read_limited
from repo_index.gathering import Retrieval, definition_of
from repo_index.indexer import ProgressCallback
from repo_index.rules import PathRules, contains_secret
from repo_index.state import IndexState
from repo_index.store import IndexStore, store_dir
from repo_index.tokens import term_of
from repo_index.watcher import Watcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStats:
    root: str
    store: str
    files: int
    languages: dict[str, int]
    symbols: int
    windows: int
    skipped: dict[str, int]
    notes: dict[str, int]
    open_documents: int
    watching: bool
    loaded_from: str
    load_seconds: float
    last_build: BuildStats | None = field(default=None)


class Workspace:
    """The index of one workspace root. Create with ``Workspace.open``."""

    def __init__(self, root: Path, config: IndexConfig, store: IndexStore) -> None:
        self.root = root
        self.config = config
        self.rules = PathRules(root, max_bytes=config.max_bytes, extra_ignores=config.extra_ignores)
        #: Bumped whenever the ignore rules are read again (every scan), so that a policy
        #: holding verdicts made under the old rules knows to forget them.
        self.rules_generation = 0
        self.state = IndexState(root, store)
        self.documents = OpenDocuments(config)
        self.skipped: dict[str, str] = {}
        self.last_build: BuildStats | None = None
        self._pool = ExtractorPool(str(root), config)
        self._watcher: Watcher | None = None
        self._sync_lock = threading.Lock()
        #: cross-file context for a cursor, with its caches (lines, imports, per-file facts)
        self.retrieval = Retrieval(root, config, self.rules, self.state, self.documents, self._read_text,
                                   self.skipped)
        self.notify: Callable[[str], None] = log.warning  # see open

    @classmethod
    def open(cls, root: Path | str, config: IndexConfig | None = None, *,
             notify: Callable[[str], None] | None = None) -> "Workspace":
        """Open (or create) the index of ``root`` and load what is persisted. Does not scan:
        call ``build`` to bring it up to date with the disk. ``notify`` gets messages for
        the user, such as waiting for another process that writes this index (default:
        the log); ``rebuild_notice`` tells whether the store had to be rebuilt."""
        config = config or IndexConfig()
        notify = notify or log.warning
        path = Path(os.path.abspath(os.path.expanduser(str(root))))
        if not path.is_dir():
            raise WorkspaceError(f"{root} is not a directory")
        cache = config.resolved_cache_dir()
        try:
            store = IndexStore.open(cache, path, on_wait=lambda: notify(sharing.waiting_notice(path)))
        except Exception as exc:
            if disk_space.is_out_of_space(exc):
                raise WorkspaceError(disk_space.explain(exc, store_dir(cache, path))) from exc
            if disk_space.is_not_writable(exc):  # a read-only cache directory (issue 18 fault matrix)
                raise WorkspaceError(disk_space.explain_not_writable(exc, store_dir(cache, path))) from exc
            raise
        workspace = cls(path, config, store)
        workspace.notify = notify
        with workspace.state.lock:
            workspace.state.load()
        return workspace

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexing -------------------------------------------------------------------------

    def build(self, progress: ProgressCallback | None = None, cancel: CancelToken = None) -> BuildStats:
        """Scan the tree and index what changed (everything, the first time). Reports
        ``Progress`` to ``progress``; stops early when ``cancel`` is set (an Event or a
        callable), keeping the work done so far."""
        return self._sync(progress, cancel, snapshot=True)

    def _sync(self, progress: ProgressCallback | None, cancel: CancelToken, *, snapshot: bool) -> BuildStats:
        with self._sync_lock, self._writing(cancel) as writing:
            if not writing:
                return BuildStats(cancelled=True)
            self.rules.reload()
            self.rules_generation += 1
            self.retrieval.forget_lines()  # the rules may have changed: re-check on next read
            stats = indexer.sync(self.state, self.rules, self.config, self._pool, progress=progress,
                                 cancel=cancel, skipped=self.skipped, snapshot=snapshot)
            self.last_build = stats
            return stats

    def refresh(self, paths: Iterable[Path | str]) -> BuildStats:
        """Re-check specific files (saved, created, deleted) without scanning the tree."""
        rels = [rel for rel in (self._rel(p) for p in paths) if rel]
        with self._sync_lock, self._writing(None):
            return indexer.update_paths(self.state, self.rules, self.config, self._pool, rels, self.skipped,
                                        self._open_facts)

    def _writing(self, cancel: CancelToken):
        """The store's writer lock, other processes' commits taken, failures explained (``sharing``)."""
        return sharing.writing(self.state, self.root, notify=self.notify, cancel=lambda: indexer.is_cancelled(cancel),
                               reload=self._take_committed_state,
                               source_bytes=lambda: sum(e.size for e in self.rules.scan()))

    def _take_committed_state(self) -> None:
        self.state.reload()
        self.retrieval.forget_overlays()  # the open buffers' windows are laid over again

    @property
    def rebuild_notice(self) -> str:
        """Why the store was rebuilt when opened, for the user ("" when it was not)."""
        return sharing.rebuild_notice(self.state, self.root)

    @property
    def save_problem(self) -> str:
        """Why the last build could not save the lexical snapshot ("" when it could): the
        index is whole, but the next start rebuilds that part (slower)."""
        return sharing.save_problem(self.state)

    def _open_facts(self, rel: str, data: bytes):
        """What an open document with exactly this content already knows (see refresh)."""
        doc = self.documents.get(rel)
        if doc is None or doc.data != data:
            return None
        facts = doc.extracted_facts()
        return facts if isinstance(facts, FileFacts) else doc.tree

    def start_watching(self) -> None:
        """Follow file changes from now on (debounced; see ``watcher``)."""
        if self._watcher is None:
            self._watcher = Watcher(self.rules, self.config, self._on_changes)
            self._watcher.start()

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def _on_changes(self, rels: set[str], rescan: bool) -> None:
        if rescan:
            self._sync(None, None, snapshot=False)  # close() saves the snapshot
        elif rels:
            self.refresh(rels)

    # -- open documents -------------------------------------------------------------------

    def set_overlay(self, path: Path | str, text: str) -> bool:
        """The editor's unsaved text for ``path`` (didOpen/didChange). Returns False (and
        keeps nothing) for a path the rules exclude."""
        rel = self._rel(path)
        if not rel:
            return False
        verdict = self.rules.check(rel, sniff=False)
        # "vanished": a new buffer not saved yet; the name and ignore rules passed already.
        if not verdict.allowed and verdict.reason != "vanished":
            return False
        if contains_secret(text):
            # A key pasted into the buffer: forget the buffer rather than let its text
            # reach a snippet (the disk version, if indexed, stays as it was).
            self.clear_overlay(rel)
            return False
        self.documents.set(rel, text)
        return True

    def clear_overlay(self, path: Path | str) -> None:
        """The editor closed ``path`` (didClose): the disk version counts again."""
        rel = self._rel(path)
        if rel and self.documents.close(rel):
            self.retrieval.forget_overlays(rel)
            with self.state.lock:
                self.state.drop_overlay(rel)

    # -- lookups --------------------------------------------------------------------------

    def definitions(self, name: str) -> list[Definition]:
        """Every definition of ``name`` (open documents' unsaved versions win)."""
        overlays = self.documents.paths()
        with self.state.lock:
            found = self.state.definitions_named([name], skip_paths=overlays)
        found += self.retrieval.overlay_definitions({name})
        return sorted(found, key=lambda d: (d.path, d.start_line))

    def symbols(self, path: Path | str) -> list[Definition]:
        """The definitions of one file, in order."""
        rel = self._rel(path)
        doc = self.documents.get(rel) if rel else None
        if doc is not None:
            facts = self.documents.facts(doc)
            return [definition_of(rel, s) for s in facts.symbols] if isinstance(facts, FileFacts) else []
        with self.state.lock:
            return self.state.symbols_of(rel) if rel else []

    def imports(self, path: Path | str, text: str | None = None) -> list[ResolvedImport]:
        """The import statements of a file and the workspace files they refer to."""
        rel = self._rel(path)
        if not rel:
            return []
        return self.retrieval.imports(rel, text)

    def references(self, name: str, limit: int = 200) -> list[tuple[str, int]]:
        """(path, line) of every use of the identifier ``name`` (definitions included),
        found through the lexical index and checked against the text."""
        term = term_of(name)
        if term is None:
            return []
        with self.state.lock:
            spans = [self.state.lexical.window(w) for w in self.state.lexical.windows_with(term)]
            located = sorted((self.state.paths_by_id.get(fid), start, end) for fid, start, end in spans)
        word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
        found: list[tuple[str, int]] = []
        texts: dict[str, list[str] | None] = {}
        for path, start, end in located:
            if path is None:
                continue
            if path not in texts:
                text = self._read_text(path)
                texts[path] = text.split("\n") if text is not None else None
            lines = texts[path] or []
            found += [(path, row) for row in range(start, min(end, len(lines))) if word.search(lines[row])]
            if len(found) >= limit:
                break
        return found[:limit]

    def stats(self) -> IndexStats:
        with self.state.lock:
            languages: dict[str, int] = {}
            for row in self.state.files.values():
                key = row.language or "text"
                languages[key] = languages.get(key, 0) + 1
            symbols = self.state.store.symbol_count()
            windows = self.state.lexical.window_count
            notes = self.state.store.notes_counts()
        skipped: dict[str, int] = {}
        for reason in self.skipped.values():
            skipped[reason] = skipped.get(reason, 0) + 1
        return IndexStats(
            root=str(self.root), store=str(self.state.store.path), files=len(self.state.files),
            languages=dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
            symbols=symbols, windows=windows,
            skipped=dict(sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))), notes=notes,
            open_documents=len(self.documents.paths()), watching=self._watcher is not None,
            loaded_from=self.state.loaded_from, load_seconds=round(self.state.load_seconds, 3),
            last_build=self.last_build,
        )

    # -- retrieval ------------------------------------------------------------------------

    def retrieve(
        self,
        path: Path | str,
        text: str | None = None,
        line: int = 0,
        col: int = 0,
        *,
        max_definitions: int | None = None,
        max_similar: int | None = None,
        explain: bool = False,
    ) -> list[Snippet]:
        """Cross-file context for a cursor at 0-based ``line`` and ``col`` (Unicode code
        points) in ``path``, whose current text is ``text`` (default: the open document's,
        else the disk's). Definitions first (best first by tier; see ``gather_defs``), then
        similar windows; with ``explain``, then the candidates left out ("dropped")."""
        return self.retrieval.retrieve(
            path, text, line, col,
            max_definitions=self.config.max_definitions if max_definitions is None else max_definitions,
            max_similar=self.config.max_similar if max_similar is None else max_similar, explain=explain)

    # -- helpers --------------------------------------------------------------------------

    def _rel(self, path: Path | str) -> str | None:
        return self.rules.relative(path)

    def _read_text(self, rel: str) -> str | None:
        doc = self.documents.get(rel)
        if doc is not None:
            return doc.text
        if not self.rules.check(rel, sniff=False).allowed:
            return None
        data = read_limited(os.path.join(str(self.root), rel), self.config.max_bytes)
        if isinstance(data, str) or contains_secret(data):
            # a key written since the file was indexed: the watcher drops it soon; until then
            # its text must not reach a snippet (callers cache the answer per (mtime, size))
            return None
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        """Stop watching, persist the lexical index and release the store and workers."""
        self.stop_watching()
        with self.state.lock:
            for rel in self.documents.paths():
                self.documents.close(rel)
                self.state.drop_overlay(rel)
            try:
                # Not while another process writes, nor once it has: this state is older.
                with self.state.store.writer.held(wait=False) as got:
                    if got and not self.state.changed_elsewhere():
                        self.state.save_snapshot()
            except Exception as exc:  # closing must not fail because the cache disk is full
                # (a full disk was told already, by the build that met it)
                level = logging.INFO if disk_space.is_out_of_space(exc) else logging.WARNING
                log.log(level, "could not save the lexical index snapshot: %s", exc)
            self.state.store.close()
        self._pool.close()
