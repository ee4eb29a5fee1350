"""``Retrieval``: gathering the cross-file context for a cursor, and the caches it needs.

This is the keystroke path (target: p50 under 5 ms on 30k windows). Per request: a text
scan of the code around the cursor (``usage``), the current file's import bindings
(``bindings``), resolution through them (``lookup``) over per-file caches keyed by content
hash, one or two indexed SQLite queries for the names that did not resolve, one BM25 search
in numpy, and reading the few files the snippets come from.

The object owns the caches the workspace used to keep: file lines, resolved imports, the
facts of unopened texts, the file set for resolution, per-file symbols and bindings, and
which open documents the lexical index has seen. The ranking rules are in ``ranking``
(pure functions); the text a definition enters as is ``skeleton``'s.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from repo_index import bindings as _bindings
from repo_index import chunking, languages, resolve, skeleton
from repo_index.config import IndexConfig
from repo_index.documents import OpenDocuments
from repo_index.extract import extract
from repo_index.facts import Definition, FileFacts, ImportStmt, ResolvedImport, Snippet
from repo_index.gather_defs import definitions_for
from repo_index.ranking import Cursor, query_span, similar_snippet
from repo_index.rules import PathRules
from repo_index.state import IndexState

_LINE_CACHE_FILES = 128
_FILE_CACHE = 512
#: Similar plain text (docs, configuration) counts this much next to code of the cursor's
#: language; code of another language family is left out (it does not help completion).
PLAIN_TEXT = 0.5


class Retrieval:
    """Cross-file context for one workspace; thread-safe like the ``Workspace`` holding it."""

    def __init__(self, root: Path, config: IndexConfig, rules: PathRules, state: IndexState,
                 documents: OpenDocuments, read_text: Callable[[str], str | None],
                 skipped: dict[str, str] | None = None) -> None:
        self.root = root
        self.config = config
        self.rules = rules
        self.state = state
        self.documents = documents
        self.read_text = read_text
        self.skipped = skipped if skipped is not None else {}  # rel -> why the indexer left it out
        #: the root's own package name when the root directory is a Python package
        self.root_package = root.name if (root / "__init__.py").is_file() else ""
        self._fileset: tuple[int, resolve.FileSet] | None = None
        self._resolved: dict[tuple, tuple] = {}
        self._unopened: dict[tuple, object] = {}
        self._overlay_applied: dict[str, int] = {}  # open document -> version in the lexical index
        self._lines: OrderedDict[str, tuple[tuple[int, int], list[str] | None]] = OrderedDict()
        self._files: OrderedDict[str, _FileEntry] = OrderedDict()
        self._modules: tuple[object, dict] = (None, {})
        self._current: tuple[object, str, list[Definition]] = (None, "", [])
        self._lock = threading.Lock()

    # -- the request ------------------------------------------------------------------

    def retrieve(self, path: Path | str, text: str | None, line: int, col: int, *, max_definitions: int,
                 max_similar: int, explain: bool = False) -> list[Snippet]:
        rel = self.rules.relative(path)
        current = rel or str(path)
        doc = self.documents.get(rel) if rel else None
        if text is None:
            text = doc.text if doc is not None else ((rel and self.read_text(rel)) or "")
        # The open document's lines are split once per version, not once per keystroke query.
        lines = doc.lines() if doc is not None and (text is doc.text or text == doc.text) else text.split("\n")
        line = max(0, min(line, len(lines) - 1))
        col = max(0, min(col, len(lines[line])))
        cursor = Cursor(current, line, col, lines)
        self.sync_overlays(rel)
        cache = _Lines(self, current, lines)
        definitions, dropped = definitions_for(self, rel, cursor, text, cache, max_definitions) \
            if max_definitions > 0 else ([], [])
        similar = self._similar(rel, cursor, cache, definitions, max_similar) if max_similar > 0 else []
        return definitions + similar + (dropped if explain else [])

    def _similar(self, rel: str | None, cursor: Cursor, cache: "_Lines", definitions: list[Snippet],
                 limit: int) -> list[Snippet]:
        query, first = query_span(cursor, self.config.query_lines)
        terms = chunking.query_terms(query)
        if not terms:
            return []
        state = self.state
        with state.lock:
            exclude = -1
            if rel:
                exclude = state.overlay_ids.get(rel, -1)
                if exclude < 0 and rel in state.files:
                    exclude = state.files[rel].id
            hits = state.lexical.search(terms, limit * 3, exclude_file=exclude, exclude_lines=(first, cursor.line + 1))
            located = [(score, state.paths_by_id.get(fid), start, end)
                       for score, wid in hits for fid, start, end in [state.lexical.window(wid)]]
        taken = [(s.path, s.start_line, s.end_line) for s in definitions]
        kin = kin_of(cursor.path)
        located = [(score * (1.0 if not kin or kin_of(path) == kin else PLAIN_TEXT), path, start, end)
                   for score, path, start, end in located
                   if path is not None and (not kin or kin_of(path) in (kin, ""))]
        located.sort(key=lambda h: (-round(h[0], 6), h[1], h[2]))
        snippets: list[Snippet] = []
        for score, path, start, end in located:
            if any(p == path and a < end and start < b for p, a, b in taken):
                continue
            lines = cache.get(path)
            if lines is None or start >= len(lines):
                continue
            snippet = similar_snippet(path, start, min(end, len(lines)), score, lines, query, self.config.continuation_lines)
            snippets.append(snippet)
            taken.append((path, snippet.start_line, snippet.end_line))
            if len(snippets) >= limit:
                break
        return snippets

    # -- per-file facts, cached by content ----------------------------------------------

    def _file_entry(self, rel: str) -> "_FileEntry":
        doc = self.documents.get(rel)
        facts = None
        if doc is not None:
            # an earlier version's facts while the user types (extracting each keystroke's
            # text of every open document was most of a request's cost)
            facts = doc.known_facts() or self.documents.facts(doc)
            key: object = ("open", id(facts))
        else:
            row = self.state.files.get(rel)
            key = row.digest if row is not None else None
        with self._lock:
            hit = self._files.get(rel)
            if hit is not None and hit.key == key:
                self._files.move_to_end(rel)
                return hit
        if doc is not None:
            symbols = [definition_of(rel, s) for s in facts.symbols] if isinstance(facts, FileFacts) else []
        else:
            with self.state.lock:
                symbols = self.state.symbols_of(rel)
        language = kind_name(rel)
        if language == "python" and doc is None:
            # the index's import statements: reading (and secret-scanning) every module an
            # import passes through was most of a cold request's cost
            with self.state.lock:
                binds = _bindings.from_statements(self.state.imports_of(rel))
        else:
            lines = self.lines_of(rel) if language in ("python", "javascript", "typescript", "tsx") else None
            binds = _bindings.parse(language, lines) if lines else []
        entry = _FileEntry(key, symbols, binds)
        entry.facts = facts  # holds the object whose id is in the key
        with self._lock:
            self._files[rel] = entry
            while len(self._files) > _FILE_CACHE:
                self._files.popitem(last=False)
        return entry

    def file_symbols(self, rel: str) -> list[Definition]:
        return self._file_entry(rel).symbols

    def top_level(self, rel: str, name: str) -> list[Definition]:
        """The definitions named ``name`` at the top of a file."""
        return self._file_entry(rel).top.get(name, [])

    def members(self, rel: str, cls: str) -> list[Definition]:
        return self._file_entry(rel).members.get(cls, [])

    def file_bindings(self, rel: str) -> list:
        return self._file_entry(rel).bindings

    def snippet_text(self, d: Definition, lines: list[str], members: list[Definition], used: frozenset[str]) -> str:
        """``skeleton.definition_text``, cached with the file's content key."""
        entry = self._file_entry(d.path)
        key = (d.start_line, d.name, used)
        text = entry.texts.get(key)
        if text is None:
            if len(entry.texts) > 256:
                entry.texts.clear()
            text = entry.texts[key] = skeleton.definition_text(d, lines, members, self.config.max_definition_lines, used)
        return text

    def refused_module(self, importer: str, language: str, module: str) -> tuple[str, str] | None:
        """(path, why) when ``module`` names a file on disk that the rules refuse."""
        if language == "python":
            if module.startswith("."):
                level = len(module) - len(module.lstrip("."))
                base = importer.rsplit("/", level)[0] if importer.count("/") >= level else ""
                stem = "/".join(p for p in (base, module[level:].replace(".", "/")) if p)
            else:
                stem = module.replace(".", "/")
            tries = [stem + ".py", stem + "/__init__.py"]
        elif language in ("javascript", "typescript", "tsx") and module.startswith("."):
            stem = os.path.normpath(os.path.join(os.path.dirname(importer), module)).replace(os.sep, "/")
            tries = [stem] + [stem + e for e in (".ts", ".tsx", ".js", ".jsx", ".mjs")]
        else:
            return None
        for rel in tries:
            if rel.startswith("..") or not os.path.isfile(os.path.join(str(self.root), rel)):
                continue
            verdict = self.rules.check(rel, sniff=False)
            if not verdict.allowed:
                return rel, verdict.reason
            if rel in self.skipped:
                return rel, self.skipped[rel]
        return None

    def module_memo(self, files: resolve.FileSet) -> dict:
        """(importer, language, module, name) -> what it resolves to, for this file set:
        resolution tries many candidate paths, and the same imports recur every keystroke.
        (A refused file is a verdict of the rules, reloaded with every scan, and every scan
        makes a new file set.)"""
        with self._lock:
            if self._modules[0] is not files:
                self._modules = (files, {})
            return self._modules[1]

    def fileset(self) -> resolve.FileSet:
        with self.state.lock:
            version = self.state.fileset_version
            if self._fileset is None or self._fileset[0] != version:
                fileset = resolve.FileSet(self.state.files.keys(), self.state.packages(), self.read_text)
                self._fileset = (version, fileset)
            return self._fileset[1]

    # -- imports ----------------------------------------------------------------------

    def imports(self, rel: str, text: str | None) -> list[ResolvedImport]:
        statements, language = self.imports_of(rel, text)
        files = self.fileset()
        return [ResolvedImport(s.line, s.module, s.names, resolve.resolve(language, rel, s, files)) for s in statements]

    def resolved_imports(self, rel: str, text: str | None) -> list[tuple[ImportStmt, tuple[str, ...]]]:
        """The file's imports with their targets, cached until the set of files changes
        (resolution tries many candidate paths; the keystroke path must not)."""
        statements, language = self.imports_of(rel, text)
        files = self.fileset()
        key = (rel, language, tuple(statements))
        cached = self._resolved.get(key)
        if cached is None or cached[0] is not files:
            if len(self._resolved) > 256:
                self._resolved.clear()
            cached = (files, [(s, resolve.resolve(language, rel, s, files)) for s in statements])
            self._resolved[key] = cached
        return cached[1]

    def current_facts(self, rel: str, text: str | None) -> FileFacts | None:
        """Facts of the file being edited: an open document's (an earlier version's while
        typing is good enough), else extracted once per distinct text."""
        doc = self.documents.get(rel)
        facts = None
        if doc is not None and (text is None or text == doc.text):
            facts = doc.known_facts() or self.documents.facts(doc)
        elif text is not None:
            # A document the editor did not open (a CLI query, an engine call without
            # set_overlay): parse it once per distinct text, not once per call.
            key = (rel, len(text), hash(text))
            facts = self._unopened.get(key)
            if facts is None:
                facts = extract(rel, text.encode("utf-8", "surrogatepass"), config=self.config)
                # at most 32 texts and 16 M characters of them (each key holds its length):
                # 4 MB documents opened one after another filled this (issue 18 finding 3)
                while self._unopened and (len(self._unopened) >= 32 or
                                          sum(k[1] for k in self._unopened) + len(text) > 16_000_000):
                    self._unopened.pop(next(iter(self._unopened)))
                self._unopened[key] = facts
        return facts if isinstance(facts, FileFacts) else None

    def current_symbols(self, rel: str, text: str | None) -> list[Definition]:
        """The definitions of the file being edited (from ``current_facts``), converted once
        per facts object rather than once per keystroke."""
        facts = self.current_facts(rel, text)
        if facts is None:
            return []
        with self._lock:
            if self._current[0] is facts and self._current[1] == rel:
                return self._current[2]
        symbols = [definition_of(rel, s) for s in facts.symbols]
        with self._lock:
            self._current = (facts, rel, symbols)
        return symbols

    def imports_of(self, rel: str, text: str | None) -> tuple[list[ImportStmt], str]:
        facts = self.current_facts(rel, text)
        if facts is not None:
            return list(facts.imports), facts.language
        with self.state.lock:
            row = self.state.files.get(rel)
            return self.state.imports_of(rel), (row.language if row else "")

    # -- open documents -----------------------------------------------------------------

    def sync_overlays(self, current: str | None) -> None:
        """Bring the lexical index up to date with open documents other than ``current``
        (which changes with every keystroke and is excluded near the cursor anyway)."""
        for rel in self.documents.paths():
            doc = self.documents.get(rel)
            if doc is None or rel == current or self._overlay_applied.get(rel) == doc.version:
                continue
            facts = self.documents.facts(doc)
            if isinstance(facts, FileFacts):
                with self.state.lock:
                    self.state.set_overlay_windows(rel, chunking.unpack_windows(facts.windows))
            self._overlay_applied[rel] = doc.version

    def forget_overlays(self, rel: str | None = None) -> None:
        """The lexical index lost the open buffers' windows (all, or ``rel``'s)."""
        if rel is None:
            self._overlay_applied.clear()
        else:
            self._overlay_applied.pop(rel, None)

    def overlay_definitions(self, names: set[str], prefix: str = "") -> list[Definition]:
        found = []
        for rel in self.documents.paths():
            entry = self._file_entry(rel)
            by_name = entry.by_name
            for name in (names if len(names) < len(by_name) else [n for n in by_name if n in names]):
                found += by_name.get(name, ())
            if prefix:
                found += [d for d in entry.symbols if d.name.startswith(prefix) and d.name not in names]
        return found

    # -- file text ----------------------------------------------------------------------

    def forget_lines(self) -> None:
        """The rules may have changed: every file is checked again on its next read."""
        with self._lock:
            self._lines.clear()
            self._files.clear()

    def lines_of(self, rel: str) -> list[str] | None:
        """Lines of a file for snippets: an open document's, else from a small LRU keyed by
        the (mtime, size) the index holds: snippet files repeat from one keystroke to the
        next, and reading and splitting them was the largest cost of a retrieval. None when
        the rules refuse it."""
        doc = self.documents.get(rel)
        if doc is not None:
            return doc.lines()
        row = self.state.files.get(rel)
        key = (row.mtime_ns, row.size) if row is not None else (0, 0)
        with self._lock:
            hit = self._lines.get(rel)
            if hit is not None and hit[0] == key:
                self._lines.move_to_end(rel)
                return hit[1]
        text = self.read_text(rel)
        lines = text.split("\n") if text is not None else None
        with self._lock:
            self._lines[rel] = (key, lines)
            while len(self._lines) > _LINE_CACHE_FILES:
                self._lines.popitem(last=False)
        return lines


class _FileEntry:
    """What retrieval keeps about one file, valid while its content key holds."""

    def __init__(self, key: object, symbols: list[Definition], bindings: list) -> None:
        self.key = key
        self.symbols = symbols
        self.bindings = bindings
        self.facts: object = None
        self.top: dict[str, list[Definition]] = {}
        self.members: dict[str, list[Definition]] = {}
        self.by_name: dict[str, list[Definition]] = {}
        for d in symbols:
            self.by_name.setdefault(d.name, []).append(d)
            if d.parent:
                self.members.setdefault(d.parent, []).append(d)
            else:
                self.top.setdefault(d.name, []).append(d)
        self.texts: dict[tuple, str] = {}  # snippet texts by (start line, name, members used)


class _Lines:
    """File lines for one request: the current text, then ``Retrieval.lines_of``."""

    def __init__(self, retrieval: Retrieval, current: str, lines: list[str]) -> None:
        self._retrieval = retrieval
        self._cache: dict[str, list[str] | None] = {current: lines}

    def get(self, rel: str) -> list[str] | None:
        if rel not in self._cache:
            self._cache[rel] = self._retrieval.lines_of(rel)
        return self._cache[rel]


@functools.lru_cache(maxsize=4096)
def kin_of(path: str) -> str:
    spec = languages.language_for(path)
    return spec.kin if spec else ""


@functools.lru_cache(maxsize=4096)
def kind_name(path: str) -> str:
    spec = languages.language_for(path)
    return spec.name if spec else ""


def definition_of(rel: str, s) -> Definition:
    return Definition(rel, s.name, s.kind, s.parent, s.start_line, s.end_line, s.signature,
                      s.doc_start, s.doc_end, s.head_end_line)

