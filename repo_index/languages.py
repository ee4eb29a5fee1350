"""Which language a file is, and what we know about each language, as data.

Each ``LanguageSpec`` row names the grammar in tree-sitter-language-pack 0.13.0 (which
bundles its grammars; 1.x downloads them at run time and fails offline, docs/design.md §4), the
query file under ``queries/`` that says which nodes are definitions and imports,
and the comment and attribute syntax used to find doc comments above a definition.
A file with no row is still indexed as plain text (line windows, no symbols).

Parsers and compiled queries are cached per process (worker processes build their own).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from importlib import resources

from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    """Our name for the language, used in stats and the store."""
    grammar: str
    """Grammar name in tree-sitter-language-pack."""
    query: str
    """Query file in repo_index/queries/ (several grammars may share one, e.g. ts and tsx)."""
    extensions: tuple[str, ...]
    """Lower-case file suffixes, with the dot."""
    filenames: tuple[str, ...] = ()
    """Exact base names with no telling suffix (Rakefile, Gemfile)."""
    comment: tuple[str, ...] = ("//", "/*", "*")
    """How a comment line starts (after indentation)."""
    attribute: tuple[str, ...] = ()
    """How lines start that may sit between a doc comment and its definition (decorators,
    annotations, attributes)."""
    family: str = ""
    """Languages of one family see each other's definitions (TS uses JS, C++ uses C);
    empty means the language's own name."""
    depth: int = 6
    """Deepest tree level where a definition or import may start. The query cursor's walk
    over every node costs about half a parse; bounding it halves that again, at the price
    of definitions nested deeper than this (functions in methods in classes in ifs...)."""

    @property
    def kin(self) -> str:
        return self.family or self.name

    def __hash__(self) -> int:
        # Names are unique; the generated hash of every field cost ~0.6 us at each of the
        # per-file cache lookups keyed by the spec.
        return hash(self.name)


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", "python", "python", (".py", ".pyi", ".pyw"),
                 comment=("#",), attribute=("@",), depth=5),
    LanguageSpec("javascript", "javascript", "javascript", (".js", ".mjs", ".cjs", ".jsx"),
                 attribute=("@",), family="js"),
    LanguageSpec("typescript", "typescript", "typescript", (".ts", ".mts", ".cts"),
                 attribute=("@",), family="js"),
    LanguageSpec("tsx", "tsx", "typescript", (".tsx",),
                 attribute=("@",), family="js"),
    LanguageSpec("go", "go", "go", (".go",), depth=4),
    LanguageSpec("rust", "rust", "rust", (".rs",), attribute=("#[", "#![")),
    LanguageSpec("java", "java", "java", (".java",), attribute=("@",)),
    LanguageSpec("c", "c", "c", (".c",), family="c"),
    LanguageSpec("cpp", "cpp", "cpp",
                 (".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".h++", ".ipp",
                  ".tpp", ".inl", ".cu", ".cuh"),
                 attribute=("template", "[["), family="c", depth=8),
    LanguageSpec("csharp", "csharp", "csharp", (".cs",), attribute=("[",), depth=7),
    LanguageSpec("ruby", "ruby", "ruby", (".rb", ".rake", ".gemspec", ".ru"),
                 filenames=("Rakefile", "Gemfile", "Guardfile", "Vagrantfile"), comment=("#",)),
    LanguageSpec("php", "php", "php", (".php", ".phtml", ".php8"), comment=("//", "/*", "*", "#"),
                 attribute=("#[",)),
    LanguageSpec("lua", "lua", "lua", (".lua",), comment=("--",)),
)

_BY_EXTENSION = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
_BY_FILENAME = {name: spec for spec in LANGUAGES for name in spec.filenames}


def language_for(path: str) -> LanguageSpec | None:
    """The language of a file by its name, or None for plain text."""
    name = path.rsplit("/", 1)[-1]
    spec = _BY_FILENAME.get(name)
    if spec is not None:
        return spec
    dot = name.rfind(".")
    if dot <= 0:
        return None
    return _BY_EXTENSION.get(name[dot:].lower())


@functools.lru_cache(maxsize=None)
def tree_sitter_language(grammar: str) -> Language:
    import tree_sitter_language_pack  # imported lazily: loading the pack costs ~50 ms

    return tree_sitter_language_pack.get_language(grammar)  # type: ignore[arg-type]


_local = threading.local()


def parser_for(grammar: str) -> Parser:
    """A parser for this thread: tree-sitter parsers must not be shared between threads
    (the watcher thread and the editor's thread both parse)."""
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(grammar)
    if parser is None:
        parser = parsers[grammar] = Parser(tree_sitter_language(grammar))
    return parser


@functools.lru_cache(maxsize=None)
def query_for(spec: LanguageSpec) -> Query:
    source = resources.files("repo_index").joinpath("queries", f"{spec.query}.scm").read_text("utf-8")
    return Query(tree_sitter_language(spec.grammar), source)
