"""The rows of the index store, as plain tuples: what a worker sends, what the store keeps.

``FileRecord`` is one file's facts in the store's form, built in the worker process that
extracted the file (``record_of``); ``FileRow``, ``SkipRow`` and ``StoredSymbol`` are what
the store gives back; ``definition_from`` turns a stored symbol into the public
``Definition``. What it is not: the database (``store``), which only reads and writes them.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from repo_index.facts import Definition, FileFacts

#: Skip reasons that depend on a file's content, remembered with its size and mtime.
CONTENT_SKIPS = frozenset({"binary", "minified", "generated", "secret file"})


class SkipRow(NamedTuple):
    """A file refused for its content, as it was when judged."""

    size: int
    mtime_ns: int
    judged_ns: int
    reason: str


class FileRow(NamedTuple):
    id: int
    path: str
    language: str
    size: int
    mtime_ns: int
    digest: bytes
    indexed_ns: int
    n_lines: int
    package: str


class FileRecord(NamedTuple):
    """One file's facts in the form the store keeps them. Built where the file was
    extracted (a worker process): what crosses to the parent is then strings, bytes and plain
    tuples, the cheapest things to pickle, and the parent only inserts."""

    path: str
    language: str
    size: int
    mtime_ns: int
    digest: bytes
    n_lines: int
    package: str
    imports: str  # JSON: [[line, module, [names], relative], ...]
    windows: bytes  # packed by chunking.pack_windows
    notes: str  # comma-separated
    symbols: tuple[tuple, ...]  # (seq, *Symbol) rows, without the file id


def record_of(facts: FileFacts) -> FileRecord:
    imports = json.dumps([[i.line, i.module, list(i.names), int(i.relative)] for i in facts.imports])
    return FileRecord(facts.rel, facts.language, facts.size, facts.mtime_ns, facts.digest, facts.n_lines,
                      facts.package, imports, facts.windows, ",".join(facts.notes),
                      tuple((i, *s) for i, s in enumerate(facts.symbols)))


class StoredSymbol(NamedTuple):
    file_id: int
    name: str
    kind: str
    parent: str
    start_line: int
    end_line: int
    head_end: int
    signature: str
    doc_start: int
    doc_end: int


def definition_from(row: StoredSymbol, path: str) -> Definition:
    return Definition(path, row.name, row.kind, row.parent, row.start_line, row.end_line,
                      row.signature, row.doc_start, row.doc_end, row.head_end)
