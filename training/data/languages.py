"""Language tags for source files: one table from file name to language, and the
tree-sitter grammar of each language (for FIM spans chosen at syntax nodes).

Pure data and two lookups. A file whose extension is not in the table gets its shebang's
interpreter or ``"text"``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

#: extension (lower case, with dot) -> language tag
EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".swift": "swift",
    ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".rb": "ruby", ".php": "php", ".lua": "lua",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash",
    ".hs": "haskell", ".zig": "zig", ".ex": "elixir", ".exs": "elixir",
    ".r": "r", ".jl": "julia", ".dart": "dart", ".m": "objc", ".pl": "perl", ".sql": "sql",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".vue": "vue",
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".xml": "xml",
    ".md": "markdown", ".rst": "rst", ".txt": "text", ".tex": "latex",
    ".ipynb": "jupyter", ".cmake": "cmake", ".gradle": "groovy", ".proto": "protobuf",
}

#: whole file names that say their language
FILENAMES: dict[str, str] = {
    "Makefile": "make", "makefile": "make", "GNUmakefile": "make",
    "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake", "Rakefile": "ruby", "Gemfile": "ruby",
}

#: shebang interpreter -> language
INTERPRETERS: dict[str, str] = {
    "python": "python", "python3": "python", "bash": "bash", "sh": "bash", "zsh": "bash",
    "node": "javascript", "ruby": "ruby", "perl": "perl", "php": "php", "lua": "lua",
}

#: language tag -> tree-sitter-language-pack grammar name (languages without one are absent)
TREE_SITTER: dict[str, str] = {
    "python": "python", "javascript": "javascript", "typescript": "typescript", "tsx": "tsx",
    "go": "go", "rust": "rust", "java": "java", "kotlin": "kotlin", "scala": "scala",
    "swift": "swift", "c": "c", "cpp": "cpp", "csharp": "csharp", "ruby": "ruby", "php": "php",
    "lua": "lua", "bash": "bash", "haskell": "haskell", "zig": "zig", "elixir": "elixir",
}


def language_of(path: str, text: str = "") -> str:
    """The language tag of a file, from its name, else its shebang, else ``"text"``."""
    p = PurePosixPath(path)
    if p.name in FILENAMES:
        return FILENAMES[p.name]
    lang = EXTENSIONS.get(p.suffix.lower())
    if lang:
        return lang
    if text.startswith("#!"):
        first = text.split("\n", 1)[0].split()
        if first:
            prog = first[0].rsplit("/", 1)[-1]
            if prog == "env" and len(first) > 1:
                prog = first[1]
            return INTERPRETERS.get(prog) or INTERPRETERS.get(prog.rstrip("0123456789."), "text")
    return "text"


def grammar_of(lang: str) -> str | None:
    """The tree-sitter grammar for a language tag, or None."""
    return TREE_SITTER.get(lang)
