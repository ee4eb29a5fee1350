"""The vocabulary of the index: what is extracted from one file, and what retrieval returns.

Plain NamedTuples for the high-volume records (they cross process boundaries by the
hundred thousand during a cold index, and tuples pickle fastest), frozen dataclasses for
what callers hold on to.

Line numbers are 0-based; spans are half-open ``[start_line, end_line)`` so that
``lines[start_line:end_line]`` is the text. Paths are relative to the workspace root, with
"/" separators. Columns, where they appear, count Unicode code points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

#: Definition kinds whose function members are methods.
CLASS_KINDS = frozenset({"class", "struct", "interface", "enum", "impl"})


class Symbol(NamedTuple):
    """A definition in a file."""

    name: str
    kind: str  # function, method, class, struct, interface, enum, type, constant, module, macro, property
    parent: str  # enclosing definition's name ("" at top level)
    start_line: int  # first line, including decorators and attributes
    end_line: int  # exclusive
    head_end_line: int  # exclusive end of the header (signature); the body starts there
    signature: str  # the header on one line, whitespace collapsed
    doc_start: int  # docstring or doc comment span, -1 when there is none
    doc_end: int


class ImportStmt(NamedTuple):
    """One import statement; ``module`` is the text as written (quotes stripped)."""

    line: int
    module: str
    names: tuple[str, ...]  # imported names, when the statement lists them
    relative: bool  # relative to the importing file even without a leading "." (Ruby, PHP)


class FileFacts(NamedTuple):
    """Everything the index keeps about one file; the parse tree is not part of it."""

    rel: str
    language: str  # "" for plain text
    size: int
    mtime_ns: int
    digest: bytes  # blake2b-128 of the content
    n_lines: int
    package: str  # declared package or namespace (Java, C#, PHP, Go), else ""
    symbols: tuple[Symbol, ...]
    imports: tuple[ImportStmt, ...]
    windows: bytes  # packed by chunking.pack_windows
    notes: tuple[str, ...]  # e.g. "syntax errors", "non-UTF-8"


class FileSkip(NamedTuple):
    """A file that turned out unusable once read (binary, secret content, vanished...)."""

    rel: str
    reason: str


@dataclass(frozen=True)
class Definition:
    """A symbol found by name, with where it lives."""

    path: str
    name: str
    kind: str
    parent: str
    start_line: int  # includes decorators, attributes and a doc comment above
    end_line: int  # exclusive
    signature: str
    doc_start: int = -1
    doc_end: int = -1
    head_end: int = -1  # exclusive end of the header lines (signature)


@dataclass(frozen=True)
class ResolvedImport:
    """An import statement of a file and the workspace files it refers to (maybe none)."""

    line: int
    module: str
    names: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Snippet:
    """A piece of workspace code offered as context, with why it was chosen.

    ``kind`` is "definition" (a symbol used near the cursor or imported by the file) or
    "similar" (a window lexically similar to the code before the cursor); "dropped" is a
    candidate that was found and left out (a definition in an ignored or secret file), with
    empty ``text``, for ``--explain`` only. Scores compare within a kind; ``retrieve``
    returns definitions first, each kind best first.

    ``tier`` is the use's priority (0 = called at the cursor ... 4 = only imported, 9 =
    similar code; ``usage``), ``resolution`` how the definition was found ("import", "same
    file", "self method", ..., "name only"), and ``brief`` the signature-only text the
    packer falls back to when ``text`` does not fit ("" when there is no shorter form).
    """

    path: str
    start_line: int
    end_line: int
    text: str
    score: float
    kind: str
    reason: str
    symbol: str = ""
    tier: int = 9
    resolution: str = ""
    brief: str = ""


@dataclass(frozen=True)
class BuildStats:
    """What one build or refresh did."""

    files_total: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cancelled: bool = False
