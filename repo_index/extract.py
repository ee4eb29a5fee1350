"""From one file's bytes to its ``FileFacts``: symbols, references, imports and windows.

The parse tree lives only inside ``extract``; what leaves is plain data (DESIGN.md §4: a kept
tree costs ~27x the source). The per-language knowledge comes from the query files and the
``LanguageSpec`` table; this module only interprets the capture names they use:

``@definition.<kind>`` + ``@name`` (+ ``@doc`` docstring, ``@parent`` container name),
``@reference.<kind>`` + ``@name``, ``@import`` + ``@import.module`` / ``@import.relmodule``
/ ``@import.name``, and ``@package``.

``read_and_extract`` is what index worker processes run: it reads the file itself (with a
size cap), re-checks content rules, and turns every failure into a ``FileSkip`` with a
reason instead of an exception.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from importlib import resources

from tree_sitter import Node, QueryCursor, Tree

from repo_index import chunking, languages
from repo_index.config import IndexConfig
from repo_index.facts import CLASS_KINDS, FileFacts, FileSkip, ImportStmt, Reference, Symbol
from repo_index.languages import LanguageSpec
from repo_index.rules import SNIFF_BYTES, contains_private_key, judge_content

log = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_MAX_SIGNATURE = 240
_QUOTES = "\"'`<>"


def digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def read_limited(path: str, max_bytes: int) -> bytes | str:
    """The file's bytes, or a skip reason. Never reads more than ``max_bytes + 1`` bytes, so
    a 200 MB file (or one that grew since it was listed) costs one small read."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > max_bytes:
                return "too large"
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        return "vanished"
    except IsADirectoryError:
        return "not a regular file"
    except OSError as exc:
        return "symlink loop" if exc.errno == 40 else "unreadable"
    if len(data) > max_bytes:
        return "too large"
    return data


def read_and_extract(root: str, rel: str, config: IndexConfig) -> FileFacts | FileSkip:
    path = os.path.join(root, rel)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FileSkip(rel, "vanished")
    except OSError:
        return FileSkip(rel, "unreadable")
    data = read_limited(path, config.max_bytes)
    if isinstance(data, str):
        return FileSkip(rel, data)
    try:
        return extract(rel, data, config=config, mtime_ns=st.st_mtime_ns)
    except Exception:  # a grammar or query bug must cost one file, not the index
        log.exception("could not extract %s", rel)
        return FileSkip(rel, "extraction failed")


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
    name = rel.rsplit("/", 1)[-1]
    reason = judge_content(name, data[:SNIFF_BYTES])
    if reason:
        return FileSkip(rel, reason)
    if contains_private_key(data):
        return FileSkip(rel, "secret file")
    notes: list[str] = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        notes.append("non-UTF-8")
    starts = chunking.line_starts(data)
    n_lines = chunking.count_lines(starts)
    spec = languages.language_for(rel)
    symbols: tuple[Symbol, ...] = ()
    references: tuple[Reference, ...] = ()
    imports: tuple[ImportStmt, ...] = ()
    package = ""
    if spec is not None and data:
        if tree is None:
            tree = languages.parser_for(spec.grammar).parse(data)
        root = tree.root_node
        if root.has_error:
            notes.append("syntax errors")
        symbols, references, imports, package = _query_facts(spec, root, data, starts)
        boundaries = chunking.syntax_boundaries(root, config.window_max_lines)
    else:
        boundaries = chunking.blank_line_boundaries(data, starts, 0)
    spans = chunking.window_spans(n_lines, boundaries, config)
    windows = chunking.window_terms(data, starts, spans)
    return FileFacts(
        rel=rel,
        language=spec.name if spec else "",
        size=len(data),
        mtime_ns=mtime_ns,
        digest=digest(data),
        n_lines=n_lines,
        package=package,
        symbols=symbols,
        references=references,
        imports=imports,
        windows=chunking.pack_windows(windows),
        notes=tuple(notes),
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


_DEF, _REF, _IMPORT, _PACKAGE = range(4)
_ROLE = re.compile(r"@(definition|reference)\.(\w+)|@(import|package)\b(?!\.)")


@functools.lru_cache(maxsize=None)
def _pattern_roles(spec: LanguageSpec) -> tuple[tuple[int, str], ...]:
    """(role, kind) of each pattern of the language's query, read from its source text once,
    so the per-match loop needs no string tests."""
    query = languages.query_for(spec)
    source = resources.files("repo_index").joinpath("queries", f"{spec.query}.scm").read_bytes()
    roles = []
    for i in range(query.pattern_count):
        end = query.start_byte_for_pattern(i + 1) if i + 1 < query.pattern_count else len(source)
        text = source[query.start_byte_for_pattern(i):end].decode("utf-8")
        match = _ROLE.search(text)
        if match is None:
            raise ValueError(f"{spec.query}.scm pattern {i} captures no role")
        if match.group(1) == "definition":
            roles.append((_DEF, match.group(2)))
        elif match.group(1) == "reference":
            roles.append((_REF, match.group(2)))
        else:
            roles.append((_IMPORT if match.group(3) == "import" else _PACKAGE, ""))
    return tuple(roles)


def _query_facts(spec: LanguageSpec, root: Node, data: bytes, starts):
    query = languages.query_for(spec)
    roles = _pattern_roles(spec)
    role_capture = {_DEF: "definition.", _REF: "reference."}
    defs: dict[int, tuple[str, Node, Node, Node | None, str]] = {}
    refs: dict[tuple[bytes, str], int] = {}
    imports: dict[int, list] = {}
    package = ""
    for index, caps in QueryCursor(query).matches(root):
        role, kind = roles[index]
        if role == _REF:
            name_node = caps["name"][0]
            key = (name_node.text, kind)
            if key not in refs:
                refs[key] = name_node.start_point[0]
        elif role == _DEF:
            node = caps[role_capture[_DEF] + kind][0]
            doc = caps.get("doc")
            parent = caps.get("parent")
            entry = (kind, node, caps["name"][0], doc[0] if doc else None, _text(parent[0]) if parent else "")
            old = defs.get(node.id)
            if old is None or _better_definition(entry, old):
                defs[node.id] = entry
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
        elif not package:
            package = _text(caps["package"][0]).strip()
    symbols = _symbols(spec, defs, data, starts)
    references = tuple(
        Reference(name.decode("utf-8", "replace"), kind, line)
        for (name, kind), line in refs.items()
        if len(name) > 1
    )
    import_stmts = []
    for line, modules, names, relative in sorted(imports.values(), key=lambda i: i[0]):
        for module in dict.fromkeys(modules):
            import_stmts.append(ImportStmt(line, module, tuple(dict.fromkeys(names)), relative))
    return tuple(symbols), references, tuple(import_stmts), package


def _better_definition(new, old) -> bool:
    """Two patterns matched one node: the one that knows the container wins, then the one
    that says "method"."""
    if bool(new[4]) != bool(old[4]):
        return bool(new[4])
    return new[0] == "method" and old[0] != "method"


def _symbols(spec: LanguageSpec, defs, data: bytes, starts) -> list[Symbol]:
    line_text = _LineText(data, starts)
    comment_re = languages.comment_line_re(spec)
    attribute_re = languages.attribute_line_re(spec)
    ordered = sorted(defs.values(), key=lambda d: (d[1].start_byte, -d[1].end_byte))
    open_containers: list[tuple[int, str, str]] = []  # (end_byte, name, kind)
    symbols: list[Symbol] = []
    for kind, node, name_node, doc_node, parent in ordered:
        while open_containers and open_containers[-1][0] <= node.start_byte:
            open_containers.pop()
        name = _clean_name(_text(name_node))
        enclosing = open_containers[-1] if open_containers else None
        captured_parent = bool(parent)
        if not captured_parent and enclosing is not None:
            parent = enclosing[1]
        if kind == "function" and (captured_parent or (enclosing is not None and enclosing[2] in CLASS_KINDS)):
            kind = "method"
        outer = node.parent if node.parent is not None and node.parent.type in spec.wrappers else node
        start = outer.start_point[0]
        head_end, signature = _header(node, line_text)
        attr_start, doc_start, doc_end = _comments_above(start, line_text, comment_re, attribute_re)
        start = min(start, attr_start)
        if doc_node is not None:
            doc_start, doc_end = doc_node.start_point[0], _end_line(doc_node)
        elif doc_start >= 0:
            start = doc_start
        symbols.append(Symbol(name, kind, parent, start, _end_line(node), head_end, signature, doc_start, doc_end))
        open_containers.append((node.end_byte, name, kind))
    return symbols


def _clean_name(name: str) -> str:
    name = name.strip().strip(_QUOTES)
    cut = name.find("<")
    return name[:cut] if cut > 0 else name


def _header(node: Node, line_text: "_LineText") -> tuple[int, str]:
    """(exclusive end line of the header, the header on one line)."""
    body = node.child_by_field_name("body")
    start_row = node.start_point[0]
    head_last = body.prev_sibling if body is not None else None
    while head_last is not None and head_last.is_extra:
        # The header is everything before the body but comments (a comment after
        # "def f():" would otherwise end up in the signature).
        head_last = head_last.prev_sibling
    if head_last is None:
        head_end = start_row + 1
        raw = line_text.line(start_row)
    else:
        raw = (node.text or b"")[: head_last.end_byte - node.start_byte].decode("utf-8", "replace")
        head_end = head_last.end_point[0] + 1
        body_row = body.start_point[0]
        if body_row == head_last.end_point[0]:
            head_end = body_row + 1  # "{" on the signature's line belongs to the header
    signature = _SPACES.sub(" ", raw).strip()
    if len(signature) > _MAX_SIGNATURE:
        signature = signature[: _MAX_SIGNATURE - 3] + "..."
    return max(head_end, start_row + 1), signature


def _comments_above(start: int, line_text: "_LineText", comment_re, attribute_re) -> tuple[int, int, int]:
    """(first attribute line, doc comment start, doc comment end) above a definition: the
    attribute or annotation lines right above it, then the comment block right above those.
    The doc span is (-1, -1) when there is no such comment."""
    row = start - 1
    while row >= 0 and attribute_re is not None and attribute_re.match(line_text.line(row)):
        row -= 1
    attr_start = row + 1
    while row >= 0:
        text = line_text.line(row)
        if not text.strip() or not comment_re.match(text):
            break
        row -= 1
    if row + 1 < attr_start:
        return attr_start, row + 1, attr_start
    return attr_start, -1, -1


class _LineText:
    """Lines of a byte buffer, decoded on demand."""

    __slots__ = ("data", "starts", "n")

    def __init__(self, data: bytes, starts) -> None:
        self.data = data
        self.starts = starts
        self.n = len(starts) - 1

    def line(self, row: int) -> str:
        if row < 0 or row >= self.n:
            return ""
        return self.data[int(self.starts[row]):int(self.starts[row + 1])].decode("utf-8", "replace").rstrip("\r\n")
