"""From one file's bytes to its ``FileFacts``: symbols, imports and windows.

The parse tree lives only inside ``extract``; what leaves is plain data (docs/design.md §4: a kept
tree costs ~27x the source). The per-language knowledge comes from the query files and the
``LanguageSpec`` table; this module only interprets the capture names they use:

``@definition.<kind>`` + ``@name`` (+ ``@doc`` docstring, ``@parent`` container name),
``@import`` + ``@import.module`` / ``@import.relmodule`` / ``@import.name``, ``@package``,
and ``@wrapper`` + ``@wrapped`` (decorators or ``export`` that belong to a definition's span).

References (uses of a name) are not queried here: every identifier of every window goes
into the lexical index, which answers "where is X used" exactly (``Workspace.references``).
A query for call sites would have to visit every node of the tree, which costs half a
parse; definitions and imports live near the top and are queried to a bounded depth.

``read_and_extract_many`` is what index worker processes run on a task of files: it reads
each file itself (with a size cap, ``file_read``), re-checks content rules, turns every failure into a
``FileSkip`` with a reason instead of an exception, and tokenizes the whole task in one pass
(``chunking.window_terms_many``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from importlib import resources
from typing import Callable, NamedTuple

import numpy as np
from tree_sitter import Node, QueryCursor, Tree

from repo_index import chunking, languages
from repo_index.config import IndexConfig
from repo_index.facts import CLASS_KINDS, FileFacts, FileSkip, ImportStmt, Symbol
from repo_index.file_read import open_file, read_file, read_open, will_read
from repo_index.languages import LanguageSpec
from repo_index.rules import SNIFF_BYTES, contains_secret, judge_content

log = logging.getLogger(__name__)

_MAX_SIGNATURE = 240
_QUOTES = "\"'`<>"


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def read_and_extract(root: str, rel: str, config: IndexConfig,
                     open_facts: Callable[[str, bytes], FileFacts | Tree | None] | None = None) -> FileFacts | FileSkip:
    """``open_facts(rel, data)`` may offer what an open editor document with exactly this
    content already has (its facts, or its parse tree): saving an open file then costs no
    parse."""
    got = read_file(os.path.join(root, rel), config.max_bytes)
    if isinstance(got, str):
        return FileSkip(rel, got)
    data, mtime_ns = got
    known = open_facts(rel, data) if open_facts is not None else None
    if isinstance(known, FileFacts):
        return known._replace(mtime_ns=mtime_ns)
    return _finish([_analyse_safely(rel, data, config, mtime_ns, known)])[0]


def read_and_extract_many(root: str, rels: list[str], config: IndexConfig) -> list[FileFacts | FileSkip]:
    """``read_and_extract`` for a batch of files (a worker's task), which shares the fixed
    costs of tokenizing between them. The files are all opened first and the kernel asked
    to read them (WILLNEED), so that with a cold page cache the disk reads the rest while the
    first ones parse: waiting on each read in turn cost 2.3 s for the 31k-file tree here."""
    fds = [open_file(os.path.join(root, rel)) for rel in rels]
    will_read([fd for fd in fds if isinstance(fd, int)])
    parts: list[_Parts | FileSkip] = []
    try:
        for i, rel in enumerate(rels):
            fd, fds[i] = fds[i], ""
            got = fd if isinstance(fd, str) else read_open(fd, config.max_bytes)
            parts.append(FileSkip(rel, got) if isinstance(got, str) else _analyse_safely(rel, got[0], config, got[1], None))
    finally:
        for fd in fds:
            if isinstance(fd, int):
                os.close(fd)
    return _finish(parts)


def extract(
    rel: str,
    data: bytes,
    *,
    config: IndexConfig,
    mtime_ns: int = 0,
    tree: Tree | None = None,
) -> FileFacts | FileSkip:
    """Facts of a file given its content. ``tree`` may be a current parse of ``data``
    (an open document's); otherwise the file is parsed here and the tree dropped."""
    return _finish([_analyse(rel, data, config, mtime_ns, tree)])[0]


class _Parts(NamedTuple):
    """A file's facts but its window terms, which ``_finish`` computes for a whole batch."""

    rel: str
    data: bytes
    mtime_ns: int
    language: str
    notes: tuple[str, ...]
    starts: np.ndarray
    package: str
    symbols: tuple[Symbol, ...]
    imports: tuple[ImportStmt, ...]
    spans: list[tuple[int, int]]


def _analyse_safely(rel: str, data: bytes, config: IndexConfig, mtime_ns: int, tree: Tree | None) -> _Parts | FileSkip:
    try:
        return _analyse(rel, data, config, mtime_ns, tree)
    except Exception:  # a grammar or query bug must cost one file, not the index
        log.exception("could not extract %s", rel)
        return FileSkip(rel, "extraction failed")


def _analyse(rel: str, data: bytes, config: IndexConfig, mtime_ns: int, tree: Tree | None) -> _Parts | FileSkip:
    name = rel.rsplit("/", 1)[-1]
    reason = judge_content(name, data[:SNIFF_BYTES])
    if reason:
        return FileSkip(rel, reason)
    if contains_secret(data):  # the whole file, not the sniffed head (docs/security.md)
        return FileSkip(rel, "secret file")
    notes: list[str] = []
    if not data.isascii():  # most files are ASCII, which is a tenth of the cost to check
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            notes.append("non-UTF-8")
    starts = chunking.line_starts(data)
    n_lines = chunking.count_lines(starts)
    spec = languages.language_for(rel)
    symbols: tuple[Symbol, ...] = ()
    imports: tuple[ImportStmt, ...] = ()
    package = ""
    if spec is not None and data:
        if tree is None:
            tree = languages.parser_for(spec.grammar).parse(data)
        root = tree.root_node
        if root.has_error:
            notes.append("syntax errors")
        symbols, imports, package = _query_facts(spec, root, _Lines(data, starts), data)
        del tree, root  # extract, then drop the tree (docs/design.md §4)
    if n_lines > config.window_max_lines:  # else one window, whatever the boundaries
        boundaries = chunking.blank_line_boundaries(data, starts, 1 if symbols else 0)
        chunking.definition_boundaries(((s.start_line, s.end_line, bool(s.parent)) for s in symbols), boundaries)
    else:
        boundaries = {}
    spans = chunking.window_spans(n_lines, boundaries, config)
    return _Parts(rel, data, mtime_ns, spec.name if spec else "", tuple(notes), starts, package, symbols, imports,
                  spans)


def _finish(parts: list[_Parts | FileSkip]) -> list[FileFacts | FileSkip]:
    ready = [p for p in parts if isinstance(p, _Parts)]
    try:
        windows = chunking.window_terms_many([(p.data, p.starts, p.spans) for p in ready])
    except Exception:  # not expected; then find the one file that fails, as file by file did
        log.exception("batched window terms failed; computing them file by file")
        return [p if isinstance(p, FileSkip) else _finish_one(p) for p in parts]
    in_order = iter(windows)
    return [p if isinstance(p, FileSkip) else _facts(p, next(in_order)) for p in parts]


def _finish_one(p: _Parts) -> FileFacts | FileSkip:
    try:
        return _facts(p, chunking.window_terms(p.data, p.starts, p.spans))
    except Exception:
        log.exception("could not extract %s", p.rel)
        return FileSkip(p.rel, "extraction failed")


def _facts(p: _Parts, windows: chunking.Windows) -> FileFacts:
    return FileFacts(
        rel=p.rel,
        language=p.language,
        size=len(p.data),
        mtime_ns=p.mtime_ns,
        digest=digest(p.data),
        n_lines=chunking.count_lines(p.starts),
        package=p.package,
        symbols=p.symbols,
        imports=p.imports,
        windows=chunking.pack_windows(windows),
        notes=p.notes,
    )


def _end_line(node: Node) -> int:
    """Exclusive end line: a node ending at column 0 (a trailing newline) ends the line before."""
    row, col = node.end_point
    if col == 0 and row > node.start_point[0]:
        return row
    return row + 1


def _text(node: Node) -> str:
    raw = node.text or b""
    return raw.decode("utf-8", "replace")


_DEF, _IMPORT, _PACKAGE, _WRAPPER = range(4)
_ROLE = re.compile(r"@definition\.(\w+)|@(import|package|wrapper)\b(?!\.)")


@functools.lru_cache(maxsize=None)
def _pattern_roles(spec: LanguageSpec) -> tuple[tuple[int, str, str], ...]:
    """(role, kind, name of the definition's capture) of each pattern of the language's
    query, read from its source text once, so the per-match loop needs no string work."""
    query = languages.query_for(spec)
    source = resources.files("repo_index").joinpath("queries", f"{spec.query}.scm").read_bytes()
    roles = []
    for i in range(query.pattern_count):
        end = query.start_byte_for_pattern(i + 1) if i + 1 < query.pattern_count else len(source)
        text = source[query.start_byte_for_pattern(i):end].decode("utf-8")
        match = _ROLE.search(text)
        if match is None:
            raise ValueError(f"{spec.query}.scm pattern {i} captures no role")
        if match.group(1):
            roles.append((_DEF, match.group(1), "definition." + match.group(1)))
        else:
            roles.append(({"import": _IMPORT, "package": _PACKAGE, "wrapper": _WRAPPER}[match.group(2)], "", ""))
    return tuple(roles)


def _query_facts(spec: LanguageSpec, root: Node, lines: "_Lines", data: bytes):
    query = languages.query_for(spec)
    roles = _pattern_roles(spec)
    defs: dict[int, tuple[str, Node, Node, Node | None, str]] = {}
    imports: dict[int, list] = {}
    wrapped: dict[int, int] = {}  # definition node id -> first line of what wraps it
    package = ""
    cursor = _cursor_for(spec, query)
    for index, caps in cursor.matches(root):
        role, kind, capture = roles[index]
        if role == _DEF:
            node = caps[capture][0]
            doc = caps.get("doc")
            parent = caps.get("parent")
            entry = (kind, node, caps["name"][0], doc[0] if doc else None, _text(parent[0]) if parent else "")
            node_id = node.id
            old = defs.get(node_id)
            if old is None or _better_definition(entry, old):
                defs[node_id] = entry
        elif role == _IMPORT:
            node = caps["import"][0]
            item = imports.setdefault(node.id, [node.start_point[0], [], [], False])
            for module in caps.get("import.module", ()):
                item[1].append(_text(module).strip(_QUOTES))
            for module in caps.get("import.relmodule", ()):
                item[1].append(_text(module).strip(_QUOTES))
                item[3] = True
            for imported in caps.get("import.name", ()):
                item[2].append(_text(imported))
        elif role == _WRAPPER:
            wrapped[caps["wrapped"][0].id] = caps["wrapper"][0].start_point[0]
        elif not package:
            package = _text(caps["package"][0]).strip()
    symbols = _symbols(spec, defs, lines, data, wrapped)
    import_stmts = []
    for line, modules, names, relative in sorted(imports.values(), key=lambda i: i[0]):
        for module in dict.fromkeys(modules):
            import_stmts.append(ImportStmt(line, module, tuple(dict.fromkeys(names)), relative))
    return tuple(symbols), tuple(import_stmts), package


def warm(spec: LanguageSpec) -> None:
    """Load the language's grammar and compile its query now (``worker_preload``)."""
    languages.parser_for(spec.grammar)
    _pattern_roles(spec)


_local = threading.local()


def _cursor_for(spec: LanguageSpec, query) -> QueryCursor:
    """This thread's query cursor for the language (a cursor is reusable, not shareable)."""
    cursors = getattr(_local, "cursors", None)
    if cursors is None:
        cursors = _local.cursors = {}
    cursor = cursors.get(spec)
    if cursor is None:
        cursor = cursors[spec] = QueryCursor(query)
        cursor.set_max_start_depth(spec.depth)
    return cursor


def _better_definition(new, old) -> bool:
    """Two patterns matched one node: the one that knows the container wins, then the one
    that says "method"."""
    if bool(new[4]) != bool(old[4]):
        return bool(new[4])
    return new[0] == "method" and old[0] != "method"


def _symbols(spec: LanguageSpec, defs, line_text: "_Lines", data: bytes, wrapped: dict[int, int]) -> list[Symbol]:
    # One of these runs per definition (tens of thousands per second while indexing), so
    # every node property is read once into a local.
    comment, attribute = spec.comment, spec.attribute
    body_field = _body_field(spec)
    # Sorted by position, outer before inner (the node id only breaks exact ties).
    keyed = sorted((d[1].start_byte, -d[1].end_byte, d[0], node_id, d) for node_id, d in defs.items())
    open_containers: list[tuple[int, str, str]] = []  # (end_byte, name, kind)
    symbols: list[Symbol] = []
    for start_byte, neg_end, kind, node_id, (_, node, name_node, doc_node, parent) in keyed:
        end_byte = -neg_end
        while open_containers and open_containers[-1][0] <= start_byte:
            open_containers.pop()
        name = (name_node.text or b"").decode("utf-8", "replace")
        if not name.isidentifier():  # nearly always one: nothing to strip or cut
            name = _clean_name(name)
        enclosing = open_containers[-1] if open_containers else None
        captured_parent = bool(parent)
        if not captured_parent and enclosing is not None:
            parent = enclosing[1]
        if kind == "function" and (captured_parent or (enclosing is not None and enclosing[2] in CLASS_KINDS)):
            kind = "method"
        start_row = node.start_point[0]
        end_row, end_col = node.end_point
        head_end, signature = _header(node, start_row, start_byte, line_text, data, body_field)
        start = wrapped.get(node_id, start_row)
        above = line_text.lstripped(start - 1)
        if above.startswith(comment) or above.startswith(attribute):  # (most have neither above)
            attr_start, doc_start, doc_end = _comments_above(start, line_text, comment, attribute)
            start = min(start, attr_start)
        else:
            doc_start = doc_end = -1
        if doc_node is not None:
            doc_start, doc_end = doc_node.start_point[0], _end_line(doc_node)
        elif doc_start >= 0:
            start = doc_start
        end = end_row if end_col == 0 and end_row > start_row else end_row + 1
        symbols.append(Symbol(name, kind, parent, start, end, head_end, signature, doc_start, doc_end))
        open_containers.append((end_byte, name, kind))
    return symbols


@functools.lru_cache(maxsize=None)
def _body_field(spec: LanguageSpec) -> int | None:
    """The grammar's id of the "body" field (looked up once, not per definition)."""
    return languages.tree_sitter_language(spec.grammar).field_id_for_name("body")


def _clean_name(name: str) -> str:
    name = name.strip().strip(_QUOTES)
    cut = name.find("<")
    return name[:cut] if cut > 0 else name


def _header(node: Node, start_row: int, start_byte: int, line_text: "_Lines", data: bytes,
            body_field: int | None) -> tuple[int, str]:
    """(exclusive end line of the header, the header on one line)."""
    body = node.child_by_field_id(body_field) if body_field is not None else None
    head_last = body.prev_sibling if body is not None else None
    while head_last is not None and head_last.is_extra:
        # The header is everything before the body but comments (a comment after
        # "def f():" would otherwise end up in the signature).
        head_last = head_last.prev_sibling
    if head_last is None:
        head_end = start_row + 1
        raw = line_text.line(start_row)
    else:
        # Sliced from the file, not node.text: that would copy a whole class per method.
        raw = data[start_byte:head_last.end_byte].decode("utf-8", "replace")
        head_end = max(head_last.end_point[0] + 1, start_row + 1)
    signature = " ".join(raw.split())
    if len(signature) > _MAX_SIGNATURE:
        signature = signature[: _MAX_SIGNATURE - 3] + "..."
    return head_end, signature


def _comments_above(start: int, line_text: "_Lines", comment: tuple[str, ...],
                    attribute: tuple[str, ...]) -> tuple[int, int, int]:
    """(first attribute line, doc comment start, doc comment end) above a definition: the
    attribute or annotation lines right above it, then the comment block right above those.
    The doc span is (-1, -1) when there is no such comment."""
    row = start - 1
    text = line_text.lstripped(row)  # "" above the first line, which ends both loops
    while attribute and text.startswith(attribute):
        row -= 1
        text = line_text.lstripped(row)
    attr_start = row + 1
    while text and text.startswith(comment):
        row -= 1
        text = line_text.lstripped(row)
    if row + 1 < attr_start:
        return attr_start, row + 1, attr_start
    return attr_start, -1, -1


class _Lines:
    """The file's lines, decoded one at a time as asked for (a definition looks at a few
    lines around it; splitting every file into lines cost more than all those lookups);
    an empty string outside the file."""

    __slots__ = ("data", "starts", "n")

    def __init__(self, data: bytes, starts: np.ndarray) -> None:
        self.data = data
        self.starts: list[int] | np.ndarray = starts
        self.n = chunking.count_lines(starts)

    def line(self, row: int) -> str:
        if not 0 <= row < self.n:
            return ""
        starts = self.starts
        if not isinstance(starts, list):
            starts = self.starts = starts.tolist()
        raw = self.data[starts[row]:starts[row + 1]]
        return (raw[:-1] if raw.endswith(b"\n") else raw).decode("utf-8", "replace")

    def lstripped(self, row: int) -> str:
        """The start of ``line(row).lstrip()`` (callers test prefixes of up to 16
        characters), decoding only that. Blanks that only ``str.lstrip`` removes (0x1C-0x1F
        and non-ASCII spaces) send the line the slow, exact way."""
        if not 0 <= row < self.n:
            return ""
        starts = self.starts
        if not isinstance(starts, list):
            starts = self.starts = starts.tolist()
        head = self.data[starts[row]:starts[row + 1]].lstrip()[:16].rstrip(b"\n")
        if not head.isascii() or (head and 0x1C <= head[0] <= 0x1F):
            return self.line(row).lstrip()[:16]
        return head.decode("ascii")
