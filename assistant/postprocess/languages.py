"""Per-language knowledge the post-processing filters need: one table of data.

What it is: for each language id, its comment and string syntax, what a block-opening line
ends with, which words close a block, whether indentation delimits blocks, and the usual
indent unit; plus a minimal file-extension -> language-id map.

What it is not: the workspace index's language table (repo_index owns that one, with
grammars and tag queries). This one stays tiny and import-free so the keystroke path loads
nothing else, and so the two packages can evolve independently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

_BRACKET_OPENER = r"[\[({]$"


@dataclass(frozen=True)
class LanguageSpec:
    """What the filters need to know about one language."""

    name: str
    #: markers that start a comment running to the end of the line
    line_comments: tuple[str, ...] = ()
    #: (open, close) of block comments
    block_comments: tuple[tuple[str, str], ...] = ()
    #: string delimiters, longest first (``\"\"\"`` must win over ``\"``)
    quotes: tuple[str, ...] = ('"', "'")
    #: the delimiters whose strings may span lines; others end at the newline
    multiline_quotes: tuple[str, ...] = ()
    #: ``'`` only as a char literal ``'x'`` (Rust, Haskell: a lone ``'`` is a lifetime or a name)
    char_literals: bool = False
    #: indentation, not brackets, delimits blocks (Python; also end-keyword languages,
    #: whose closing word is matched by indentation)
    indent_blocks: bool = False
    #: regex on a line's code (comment stripped, right-stripped): the line opens a block
    block_opener: str = _BRACKET_OPENER
    #: words that, first on a line, close the block they are aligned with (Ruby's ``end``)
    closer_words: tuple[str, ...] = ()
    #: the indent unit when the file shows none
    indent_unit: str = "    "
    #: regex for lines that ignore indentation (C preprocessor directives at column 0)
    unindented_lines: str | None = None
    #: regex on a line before the cursor (right-stripped): a declaration's signature, whose
    #: body may follow (``fn main()``); a call statement must not match it
    signature: str | None = None


_C_COMMENTS = dict(line_comments=("//",), block_comments=(("/*", "*/"),))
#: ``function f(a)``, or a method with a modifier or a return type (``get foo(): number``);
#: a bare ``foo(a)`` is a call statement.
_JS_SIGNATURE = (
    r"^\s*(export\s+)?(default\s+)?(async\s+)?function\b[^{;=]*\)(\s*:\s*[^{;=]+)?$"
    r"|^\s*((public|private|protected|static|async|get|set|override|readonly)\s+)+[\w$]+\s*\([^;]*\)(\s*:\s*[^{;=]+)?$"
    r"|^\s*[\w$]+\s*\([^;]*\)\s*:\s*[\w$<>\[\]|., ]+$"
)
_JS = dict(_C_COMMENTS, quotes=("`", '"', "'"), multiline_quotes=("`",), indent_unit="  ", signature=_JS_SIGNATURE)
#: a definition at the start of a line: a type, then a name and its parameters, no ``;``
_C_SIGNATURE = (
    r"^(?!\s*(return|if|while|for|switch|else|do|case|goto|sizeof|new|delete|throw)\b)"
    r"[\w:*&<>, ]*[\w*&>]\s+\**[\w:~]+\s*\([^;]*\)\s*(const|noexcept|override|final)?\s*$"
)
_C = dict(_C_COMMENTS, unindented_lines=r"\s*#", signature=_C_SIGNATURE)
_JAVA_SIGNATURE = (
    r"^\s*((public|private|protected|static|final|abstract|synchronized|override|virtual|async|internal)\s+)+"
    r"[\w<>\[\],.? ]*[\w>\]]\s+\w+\s*\([^;]*\)(\s*throws\s+[\w., ]+)?$"
    r"|^\s*@\w+(\(.*\))?$"  # an annotation: the declaration it annotates follows
)

LANGUAGES: Final[dict[str, LanguageSpec]] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            "python",
            line_comments=("#",),
            quotes=('"""', "'''", '"', "'"),
            multiline_quotes=('"""', "'''"),
            indent_blocks=True,
            block_opener=r"[:\[({]$",
            # a decorator line too: the definition it decorates follows
            signature=r"^\s*((async\s+)?def\s+\w+\s*\(.*\)(\s*->\s*[^:]+)?|class\s+\w+(\s*\(.*\))?|@[\w.]+(\(.*\))?)$",
        ),
        LanguageSpec("javascript", block_opener=r"([\[({]|=>)$", **_JS),
        LanguageSpec("typescript", block_opener=r"([\[({]|=>)$", **_JS),
        LanguageSpec("tsx", block_opener=r"([\[({]|=>)$", **_JS),
        LanguageSpec(
            "go",
            quotes=("`", '"', "'"),
            multiline_quotes=("`",),
            indent_unit="\t",
            signature=r"^func\b[^{]*\)[^{]*$",
            **_C_COMMENTS,
        ),
        LanguageSpec(
            "rust",
            quotes=('"',),
            char_literals=True,
            signature=r"^\s*(pub(\([^)]*\))?\s+)?((async|const|unsafe|extern\s+\"[^\"]*\")\s+)*fn\b[^{;]*$",
            **_C_COMMENTS,
        ),
        LanguageSpec("c", **_C),
        LanguageSpec("cpp", **_C),
        LanguageSpec("java", signature=_JAVA_SIGNATURE, **_C_COMMENTS),
        LanguageSpec("csharp", signature=_JAVA_SIGNATURE, **_C_COMMENTS),
        LanguageSpec(
            "kotlin",
            quotes=('"""', '"', "'"),
            multiline_quotes=('"""',),
            signature=r"^\s*((public|private|protected|internal|override|open|abstract|suspend|inline|operator)\s+)*fun\b[^{=]*\)[^{=]*$",
            **_C_COMMENTS,
        ),
        LanguageSpec(
            "swift",
            quotes=('"""', '"'),
            multiline_quotes=('"""',),
            signature=r"^\s*((public|private|internal|fileprivate|open|static|override|mutating|@\w+)\s+)*func\b[^{]*\)[^{]*$",
            **_C_COMMENTS,
        ),
        LanguageSpec("scala", quotes=('"""', '"', "'"), multiline_quotes=('"""',), **_C_COMMENTS),
        LanguageSpec("zig", **_C_COMMENTS),
        LanguageSpec("php", line_comments=("//", "#"), block_comments=(("/*", "*/"),)),
        LanguageSpec(
            "ruby",
            line_comments=("#",),
            indent_blocks=True,
            block_opener=r"(\bdo(\s*\|[^|]*\|)?|[\[({])$|^(def|class|module|if|unless|while|until|case|begin)\b",
            closer_words=("end",),
            indent_unit="  ",
        ),
        LanguageSpec(
            "lua",
            line_comments=("--",),
            indent_blocks=True,
            block_opener=r"(\bthen|\bdo|\belse|\brepeat|\bfunction\b.*\)|[\[({])$",
            closer_words=("end", "until"),
        ),
        LanguageSpec(
            "elixir",
            line_comments=("#",),
            quotes=('"""', '"', "'"),
            multiline_quotes=('"""',),
            indent_blocks=True,
            block_opener=r"(\bdo|->|[\[({])$",
            closer_words=("end",),
            indent_unit="  ",
        ),
        LanguageSpec(
            "bash",
            line_comments=("#",),
            indent_blocks=True,
            block_opener=r"(\bthen|\bdo|\bin|[\[({])$",
            closer_words=("fi", "done", "esac"),
        ),
        LanguageSpec(
            "haskell",
            line_comments=("--",),
            quotes=('"',),
            char_literals=True,
            indent_blocks=True,
            block_opener=r"(\bwhere|\bdo|\bof|\blet|=|[\[({])$",
        ),
    )
}

#: Languages we know nothing about: brackets and the two common quotes, no comments.
PLAIN: Final = LanguageSpec("text")

_EXTENSIONS: Final[dict[str, str]] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp",
    ".java": "java", ".cs": "csharp", ".kt": "kotlin", ".kts": "kotlin",
    ".swift": "swift", ".scala": "scala", ".zig": "zig", ".php": "php",
    ".rb": "ruby", ".lua": "lua", ".ex": "elixir", ".exs": "elixir",
    ".sh": "bash", ".bash": "bash", ".hs": "haskell",
}  # fmt: skip

#: Other names callers (editors' languageId) use for the same languages.
_ALIASES: Final[dict[str, str]] = {
    "py": "python", "js": "javascript", "javascriptreact": "javascript",
    "ts": "typescript", "typescriptreact": "tsx", "golang": "go", "rs": "rust",
    "c++": "cpp", "cs": "csharp", "rb": "ruby", "sh": "bash", "shell": "bash", "shellscript": "bash",
}  # fmt: skip


def language_from_path(path: str) -> str:
    """The language id of ``path`` from its extension; ``"text"`` when unknown."""
    return _EXTENSIONS.get(PurePath(path).suffix.lower(), PLAIN.name)


def spec_for(language: str) -> LanguageSpec:
    """The spec of a language id (or an editor's alias of one); ``PLAIN`` when unknown."""
    spec = LANGUAGES.get(language)
    if spec is None:
        spec = LANGUAGES.get(_ALIASES.get(language.lower(), language.lower()), PLAIN)
    return spec


def opener_pattern(spec: LanguageSpec) -> re.Pattern[str]:
    """The compiled ``block_opener`` of ``spec`` (compiled once per spec)."""
    pattern = _OPENERS.get(spec.name)
    if pattern is None or pattern.pattern != spec.block_opener:
        pattern = _OPENERS[spec.name] = re.compile(spec.block_opener)
    return pattern


_OPENERS: dict[str, re.Pattern[str]] = {}
