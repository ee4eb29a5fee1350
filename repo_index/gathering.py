"""Assembling one retrieval: gather candidates from the workspace, rank, cut snippets.

This is the keystroke path (target: p50 under 5 ms on 30k windows). What it costs:
one or two indexed SQLite queries for the names near the cursor, one BM25 search in
numpy, and reading the few files the snippets come from. Open documents other than the
current one are re-extracted here only if they changed since the last call.

The ranking rules themselves are in ``retrieval`` (pure functions); this module only
feeds them and turns their picks into ``Snippet``s.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from repo_index import chunking, languages
from repo_index.facts import CLASS_KINDS, Definition, Snippet
from repo_index.retrieval import (
    Cursor, definition_text, identifiers_near, query_span, rank_definitions, similar_snippet, typed_prefix,
)

if TYPE_CHECKING:
    from repo_index.workspace import Workspace

_PREFIX_LIMIT = 20
#: Names defined this many times or more are looked up only in imported files and the
#: current one: "get" or "run" anywhere else is noise, and fetching them all costs time.
AMBIGUOUS = 16
#: Identifiers nearest the cursor whose definitions are looked up.
NEAREST = 24
#: Similar plain text (docs, configuration) counts this much next to code of the cursor's
#: language; code of another language family is left out (it does not help completion).
PLAIN_TEXT = 0.5


def retrieve(ws: "Workspace", path: Path | str, text: str | None, line: int, col: int,
             *, max_definitions: int, max_similar: int) -> list[Snippet]:
    rel = ws.rules.relative(path)
    current = rel or str(path)
    doc = ws.documents.get(rel) if rel else None
    if text is None:
        text = doc.text if doc is not None else ((rel and ws._read_text(rel)) or "")
    # The open document's lines are split once per version, not once per keystroke query.
    lines = doc.lines() if doc is not None and (text is doc.text or text == doc.text) else text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    col = max(0, min(col, len(lines[line])))
    cursor = Cursor(current, line, col, lines)
    ws._sync_overlays(rel)
    cache = _Lines(ws, current, lines)

    definitions = _definitions(ws, rel, cursor, cache, text, max_definitions) if max_definitions > 0 else []
    similar = _similar(ws, rel, cursor, cache, definitions, max_similar) if max_similar > 0 else []
    return definitions + similar


class _Lines:
    """File lines for snippets: the current text, open documents, else the workspace's
    cache of indexed files (see ``Workspace._indexed_lines``)."""

    def __init__(self, ws: "Workspace", current: str, lines: list[str]) -> None:
        self._ws = ws
        self._cache: dict[str, list[str] | None] = {current: lines}

    def get(self, rel: str) -> list[str] | None:
        if rel not in self._cache:
            doc = self._ws.documents.get(rel)
            self._cache[rel] = doc.lines() if doc is not None else self._ws._indexed_lines(rel)
        return self._cache[rel]


def _definitions(ws: "Workspace", rel: str | None, cursor: Cursor, cache: _Lines, text: str,
                 limit: int) -> list[Snippet]:
    config = ws.config
    near = identifiers_near(cursor, config.identifier_lines_before, config.identifier_lines_after)
    if len(near) > NEAREST:
        # Refact looks up the ~20 symbols used nearest the cursor; farther ones cost
        # lookups and rarely win the ranking.
        near = dict(sorted(near.items(), key=lambda kv: (kv[1], kv[0]))[:NEAREST])
    prefix = typed_prefix(cursor)
    imported_paths: dict[str, int] = {}
    imported_names: dict[str, int] = {}
    if rel:
        for stmt, targets in ws._resolved_imports(rel, text):
            for target in targets:
                imported_paths.setdefault(target, stmt.line)
            for name in stmt.names:
                imported_names.setdefault(name, stmt.line)
    names = set(near) | set(imported_names)
    if not names and not prefix:
        return []
    overlays = ws.documents.paths()
    with ws.state.lock:
        counts = ws.state.name_counts(names)
        common = {n for n, c in counts.items() if c >= AMBIGUOUS}
        candidates = ws.state.definitions_named(
            [n for n in names if n in counts and n not in common], skip_paths=overlays)
        if common:
            focus = set(imported_paths) | {cursor.path}
            candidates += ws.state.definitions_named(sorted(common), skip_paths=overlays, only_paths=focus)
        if prefix:
            candidates += ws.state.definitions_with_prefix(prefix, _PREFIX_LIMIT, skip_paths=overlays)
    candidates += ws._overlay_definitions(names, prefix)
    kin = _kin(cursor.path)
    if kin:
        # A Python `shape` is not a C `struct shape`: other language families are noise.
        candidates = [d for d in candidates if _kin(d.path) == kin]
    ranked = rank_definitions(
        candidates, near, cursor=cursor, imported_paths=imported_paths, imported_names=imported_names,
        prefix=prefix, name_counts={n: counts.get(n, 1) for n in names}, limit=limit * 2,
    )
    snippets: list[Snippet] = []
    for r in ranked:
        d = r.definition
        lines = cache.get(d.path)
        if lines is None:
            continue
        members = _members(ws, d) if d.kind in CLASS_KINDS else []
        text = definition_text(d, lines, members, config.max_definition_lines)
        if not text.strip():
            continue
        snippets.append(Snippet(d.path, d.start_line, min(d.end_line, len(lines)), text, r.score,
                                "definition", r.reason, d.name))
        if len(snippets) >= limit:
            break
    return snippets


@functools.lru_cache(maxsize=4096)
def _kin(path: str) -> str:
    spec = languages.language_for(path)
    return spec.kin if spec else ""


def _members(ws: "Workspace", d: Definition) -> list[Definition]:
    if d.end_line - d.start_line <= ws.config.max_definition_lines:
        return []
    return [m for m in ws.symbols(d.path)
            if m.parent == d.name and d.start_line < m.start_line < d.end_line]


def _similar(ws: "Workspace", rel: str | None, cursor: Cursor, cache: _Lines,
             definitions: list[Snippet], limit: int) -> list[Snippet]:
    query, first = query_span(cursor, ws.config.query_lines)
    terms = chunking.query_terms(query)
    if not terms:
        return []
    with ws.state.lock:
        exclude = -1
        if rel:
            exclude = ws.state.overlay_ids.get(rel, -1)
            if exclude < 0 and rel in ws.state.files:
                exclude = ws.state.files[rel].id
        hits = ws.state.lexical.search(terms, limit * 3, exclude_file=exclude,
                                       exclude_lines=(first, cursor.line + 1))
        located = [(score, ws.state.paths_by_id.get(fid), start, end)
                   for score, wid in hits for fid, start, end in [ws.state.lexical.window(wid)]]
    taken = [(s.path, s.start_line, s.end_line) for s in definitions]
    kin = _kin(cursor.path)
    located = [(score * (1.0 if not kin or _kin(path) == kin else PLAIN_TEXT), path, start, end)
               for score, path, start, end in located
               if path is not None and (not kin or _kin(path) in (kin, ""))]
    located.sort(key=lambda h: (-round(h[0], 6), h[1], h[2]))
    snippets: list[Snippet] = []
    for score, path, start, end in located:
        if any(p == path and a < end and start < b for p, a, b in taken):
            continue
        lines = cache.get(path)
        if lines is None or start >= len(lines):
            continue
        snippet = similar_snippet(path, start, min(end, len(lines)), score, lines, query,
                                  ws.config.continuation_lines)
        snippets.append(snippet)
        taken.append((path, snippet.start_line, snippet.end_line))
        if len(snippets) >= limit:
            break
    return snippets
