"""Which local names a file's imports bind, with aliases: Python and JavaScript/TypeScript.

``extract`` records import statements for resolution to files (module and imported names,
aliases dropped); resolving a *name* needs the alias too: ``from .x import a as b`` binds
``b`` to ``a`` of ``.x``. This reads the import lines as text, so it works on a buffer
with syntax errors and costs one pass of ``str.startswith`` over the lines.

Covered, Python: ``import a.b``, ``import a.b as m``, ``from M import x, y as z``
(parenthesised over several lines too), ``from M import *``, relative modules.
JavaScript/TypeScript: ``import D, {a as b} from './x'``, ``import * as ns from './x'``,
``const x = require('./x')`` (also as a later declarator), ``const {a, b: c} = require('./x')``, and the re-exports
``export {a as b} from './x'`` and ``export * from './x'``. Dynamic imports
(``importlib.import_module``, ``import()``) bind nothing: a name they give falls back to a
lookup by name. Not here: finding the files (``resolve``) or definitions (``gathering``).
"""

from __future__ import annotations

import re
from typing import NamedTuple, Sequence

from repo_index.facts import ImportStmt

MODULE = ""  # Binding.name of a binding to the module itself
STAR = "*"
DEFAULT = "default"


class Binding(NamedTuple):
    local: str  # the name bound in the importing file ("*" for a star import)
    module: str  # as written: "pkg.mod", ".mod", "./mod"
    name: str  # the name in that module; MODULE for the module itself, STAR, DEFAULT
    line: int
    scope: int = -1  # Python: the line of the `def` whose body holds the import; -1 at module level


_PY_FROM = re.compile(r"^\s*from\s+(\.*[\w.]*)\s+import\s+(.*)$", re.S)
_PY_IMPORT = re.compile(r"^\s*import\s+(.+)$", re.S)
_JS_IMPORT = re.compile(r"^\s*import\s+(?:type\s+)?(.*?)\s*from\s*['\"]([^'\"]+)['\"]", re.S)
_JS_EXPORT_FROM = re.compile(r"^\s*export\s+(?:type\s+)?(\*|\{[^}]*\})\s*from\s*['\"]([^'\"]+)['\"]", re.S)
_JS_REQUIRE = re.compile(r"^\s*(?:(?:const|let|var)\s+)?(\{[^}]*\}|[\w$]+)\s*=\s*require\s*\(\s*['\"]([^'\"]+)['\"]\s*\)", re.S)
_MAX_JOIN = 40  # lines one import statement may span


#: `a = require(...)` without a keyword: a later declarator of `const x = ..., a = require(...)`
_JS_START = re.compile(r"\s*(?:import\b|export\b.*\bfrom\b|(?:const|let|var)\b.*\brequire\s*\(|(?:[\w$]+|\{[^}]*\})\s*=\s*require\s*\()")


def parse(language: str, lines: Sequence[str], text: str | None = None) -> list[Binding]:
    """The bindings of a file given as lines; ``text``, the same joined, makes it faster
    (the few lines that mention an import are found by ``str.find`` instead of a loop)."""
    if language == "python":
        words, check = ("import",), lambda line: line.lstrip().startswith(("from ", "import "))
    elif language in ("javascript", "typescript", "tsx"):
        words, check = ("import", "require", "export"), lambda line: bool(_JS_START.match(line))
    else:
        return []
    rows = sorted({r for word in words for r in _rows_with(word, lines, text) if check(lines[r])})
    return _python(lines, rows) if language == "python" else _javascript(lines, rows)


def _rows_with(word: str, lines: Sequence[str], text: str | None) -> list[int]:
    if text is None:
        return [i for i, line in enumerate(lines) if word in line]
    rows: list[int] = []
    row, at, pos = 0, 0, text.find(word)
    while pos >= 0:
        row += text.count("\n", at, pos)
        at = pos
        if row < len(lines) and (not rows or rows[-1] != row):
            rows.append(row)
        pos = text.find(word, pos + len(word))
    return rows


def from_statements(statements: Sequence[ImportStmt]) -> list[Binding]:
    """Python bindings from the index's import statements (no aliases, no function scope:
    good enough for following re-exports through files that are not shown)."""
    found: list[Binding] = []
    for stmt in statements:
        if stmt.names:
            found += [Binding(name, stmt.module, name, stmt.line) for name in stmt.names]
        elif stmt.module.startswith("."):
            found.append(Binding(STAR, stmt.module, STAR, stmt.line))  # `from .x import *`
        elif stmt.module:
            head = stmt.module.split(".")[0]
            found += [Binding(stmt.module, stmt.module, MODULE, stmt.line), Binding(head, head, MODULE, stmt.line)]
    return found


def _joined(lines: Sequence[str], row: int, done) -> tuple[str, int]:
    """The statement starting at ``row``, joined until ``done(text)``; (text, next row)."""
    text = lines[row]
    end = row + 1
    while not done(text) and end < len(lines) and end - row < _MAX_JOIN:
        text += "\n" + lines[end]
        end += 1
    return text, end


def _scope(lines: Sequence[str], row: int) -> int:
    """The `def` line enclosing an indented import, else -1 (module level: also an import
    under `try:` or `if TYPE_CHECKING:`)."""
    indent = len(lines[row]) - len(lines[row].lstrip())
    r = row - 1
    while indent > 0 and r >= 0 and row - r < 2000:
        text = lines[r]
        stripped = text.lstrip()
        if stripped and len(text) - len(stripped) < indent:
            indent = len(text) - len(stripped)
            if stripped.startswith(("def ", "async def ")):
                return r
        r -= 1
    return -1


def _python(lines: Sequence[str], rows: list[int]) -> list[Binding]:
    found: list[Binding] = []
    done = 0
    for row in rows:
        if row < done or row >= len(lines):
            continue
        scope = _scope(lines, row) if lines[row][:1] in (" ", "\t") else -1
        text, end = _joined(lines, row, lambda t: "(" not in t or ")" in t)
        if not text.rstrip().endswith(")") and text.rstrip().endswith("\\"):
            text, end = _joined(lines, row, lambda t: not t.rstrip().endswith("\\"))
        text = text.split("#", 1)[0].replace("\\\n", " ")
        m = _PY_FROM.match(text)
        if m:
            module, names = m.group(1), m.group(2).strip().strip("()")
            for item in names.replace("\n", " ").split(","):
                parts = item.split()
                if not parts:
                    continue
                if parts[0] == "*":
                    found.append(Binding(STAR, module, STAR, row, scope))
                elif parts[0].isidentifier():
                    local = parts[2] if len(parts) == 3 and parts[1] == "as" and parts[2].isidentifier() else parts[0]
                    found.append(Binding(local, module, parts[0], row, scope))
        else:
            m = _PY_IMPORT.match(text)
            if m:
                for item in m.group(1).replace("\n", " ").split(","):
                    parts = item.split()
                    if not parts or not all(p.isidentifier() for p in parts[0].split(".")):
                        continue
                    if len(parts) == 3 and parts[1] == "as" and parts[2].isidentifier():
                        found.append(Binding(parts[2], parts[0], MODULE, row, scope))
                    else:
                        # `import a.b.c` binds `a`; `a.b.c.f` is looked up through the full name
                        found.append(Binding(parts[0], parts[0], MODULE, row, scope))
                        if "." in parts[0]:
                            found.append(Binding(parts[0].split(".")[0], parts[0].split(".")[0], MODULE, row, scope))
        done = end
    return found


def _braces(inner: str, module: str, row: int, *, sep: str) -> list[Binding]:
    """``{a as b, c}`` (imports, exports: sep "as") or ``{a: b, c}`` (require: sep ":")."""
    found = []
    for item in inner.strip().strip("{}").split(","):
        item = re.sub(r"^\s*type\s+", "", item).strip()
        if not item:
            continue
        name, _, local = (p.strip() for p in item.partition(f" {sep} " if sep == "as" else sep))
        local = local or name
        if re.fullmatch(r"[\w$]+", name) and re.fullmatch(r"[\w$]+", local):
            found.append(Binding(local, module, name, row))
    return found


def _javascript(lines: Sequence[str], rows: list[int]) -> list[Binding]:
    found: list[Binding] = []
    done = 0
    for row in rows:
        if row < done or row >= len(lines):
            continue
        text, end = _joined(lines, row, lambda t: bool(re.search(r"['\"]\s*\)?\s*;?\s*$", t)) or "{" not in t or "}" in t)
        if (m := _JS_IMPORT.match(text)) is not None:
            clause, module = m.group(1).strip(), m.group(2)
            if clause.startswith("* as "):
                found.append(Binding(clause[5:].strip(), module, MODULE, row))
            else:
                default, _, rest = clause.partition(",") if not clause.startswith("{") else ("", "", clause)
                if re.fullmatch(r"[\w$]+", default.strip()):
                    found.append(Binding(default.strip(), module, DEFAULT, row))
                rest = rest.strip()
                if rest.startswith("* as "):
                    found.append(Binding(rest[5:].strip(), module, MODULE, row))
                elif "{" in rest:
                    found += _braces(rest, module, row, sep="as")
        elif (m := _JS_EXPORT_FROM.match(text)) is not None:
            if m.group(1) == "*":
                found.append(Binding(STAR, m.group(2), STAR, row))
            else:
                found += _braces(m.group(1), m.group(2), row, sep="as")
        elif (m := _JS_REQUIRE.match(text)) is not None:
            target, module = m.group(1), m.group(2)
            if target.startswith("{"):
                found += _braces(target, module, row, sep=":")
            else:
                found.append(Binding(target, module, MODULE, row))
        done = end
    return found
