"""What the code around the cursor uses, in priority tiers, and what its receivers are.

Tiers, highest first (issue 16; docs/design.md §5):

0. the symbol being called or typed at the cursor (``foo(|``, ``obj.meth|``, ``a(b, |``);
1. names used on the cursor's line and in its enclosing statement;
2. names used in the enclosing function;
3. names used elsewhere in the file (the 300 lines above the cursor and 60 below);
4. names only imported.

This reads text, not a parse tree: indentation, brackets and a few patterns. A half-typed
line or a syntax error around the cursor, which is the normal state while typing, changes
nothing here, and nothing here raises on any text. Not here: what a name resolves to
(``bindings``) or how candidates score (``ranking``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Sequence

TIER_CURSOR, TIER_STATEMENT, TIER_FUNCTION, TIER_FILE, TIER_IMPORTED = range(5)
TIER_SIMILAR = 9
TIER_NAMES = {
    TIER_CURSOR: "called or typed at the cursor",
    TIER_STATEMENT: "used in the cursor's statement",
    TIER_FUNCTION: "used in the enclosing function",
    TIER_FILE: "used in the file",
    TIER_IMPORTED: "only imported",
    TIER_SIMILAR: "similar code",
}

_CHAIN = re.compile(r"(?<![\w.])(?!\d)\w+(?:\.(?!\d)\w+)*")
#: String literals, not f-strings (their braces hold code that uses names)
_STRING = re.compile(r"(?<![fF])(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"|`[^`]*`)", re.S)
_DEFINES = re.compile(r"\b(?:def|class|function|interface|type)\s+[\w$]+")
_PY_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")
_CLASS = re.compile(r"^(\s*)(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+(\w+)\s*(?:\(([^)]*)\)|extends\s+([\w.]+))?")
_ANNOTATION = re.compile(r"(?<![\w.])(self\.\w+|\w+)\s*:\s*(?:Optional\[|Final\[|ClassVar\[)?\"?([A-Z]\w*(?:\.\w+)*)")
_CONSTRUCTOR = re.compile(r"(?<![\w.])(self\.\w+|this\.\w+|\w+)\s*(?::[^=\n]*)?=\s*(?:new\s+|await\s+)?([\w.]*[A-Z]\w*)\s*\(")
_PY_LOCAL = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=\n]*)?=(?!=)|\bfor\s+([\w\s,]+?)\s+in\b|\bas\s+(\w+)")
_PY_PARAMS = re.compile(r"def\s+\w+\s*\(([^)]*)")
_BRACKETS = re.compile(r"[()\[\]{}]")
_PARENS = re.compile(r"[()\[\]]")  # braces elsewhere open blocks, not a statement's continuation
_STATEMENT_LINES = 20
#: Characters of one line that are read (a minified line must not cost a request)
_LONG = 2_000
#: Characters before the cursor (or a bracket) searched for the word there: end-anchored
#: searches are quadratic in the length of a run of word characters.
_WORD_TAIL = 160
_BLOCK = 16
_TRAILING_COMMENT = re.compile(r"[ \t]#[^\n'\"]*$", re.M)
_COMMENT_LINES = re.compile(r"^[ \t]*(?:#|//|/?\*).*$", re.M)
#: Import statements, parenthesised ones over several lines included
_IMPORT_LINES = re.compile(r"^[ \t]*(?:from[ \t]+\S+[ \t]+)?import\b(?:[^\n(]*\([^)]*\)|[^\n]*)", re.M)
_TEXT_CAP = 200_000  # characters scanned for the file tier: a minified line must not cost a request
#: Words that are never worth a definition lookup (keywords and receivers of many languages).
STOP_WORDS = frozenset(
    "self this cls super def class return if else elif for while in is not and or import from as "
    "with try except finally raise pass break continue lambda yield async await None True False "
    "null nil true false undefined new delete function const let var static public private "
    "protected final void int str string bool float double char long short byte unsigned "
    "struct enum interface type package namespace using include func go defer fn mut impl pub "
    "use mod where match local end then do begin module require print len range export default".split()
)


#: Words before a "(" that are not a call (elsewhere a name like `and` may be imported: ajv).
_NOT_CALLS = frozenset("if elif while for return switch catch with assert in is lambda yield await typeof "
                       "new function def class super print except raise del".split())


@dataclass
class Site:
    """The cursor's surroundings, as far as retrieval cares."""

    #: name or dotted chain ("self.client.get", "mod.f") -> (tier, distance in lines)
    uses: dict[str, tuple[int, int]] = field(default_factory=dict)
    called: str = ""  # the chain being called or typed at the cursor
    typed: str = ""  # the identifier fragment just before the cursor ("" when none)
    enclosing_class: str = ""
    class_bases: tuple[str, ...] = ()
    #: variable (or "self.attr") -> (class name, "annotation" or "constructor")
    types: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: names bound locally in the enclosing function (parameters, assignments): never definitions
    local_names: frozenset[str] = frozenset()
    function_span: tuple[int, int] = (0, 0)

    def tier_of(self, key: str) -> tuple[int, int] | None:
        return self.uses.get(key)


def analyze(lines: Sequence[str], line: int, col: int, *, python: bool, before: int = 300, after: int = 60) -> Site:
    """Tiers of names around ``(line, col)`` in ``lines``; see the module docstring."""
    site = Site()
    if not lines:
        return site
    line = max(0, min(line, len(lines) - 1))
    col = max(0, min(col, len(lines[line])))
    head = lines[line][max(0, col - _LONG):col]  # a minified line: only its end near the cursor
    typed = re.search(r"(?!\d)\w+$", head[-_WORD_TAIL:])
    site.typed = typed.group() if typed else ""
    stmt_start, called = _statement(lines, line, col, _BRACKETS if python else _PARENS)
    site.called = called
    fn_start, fn_end = _function_span(lines, stmt_start, python)
    site.function_span = (fn_start, fn_end)
    # Python: from the enclosing `def`; elsewhere the "function" is the top-level block (maybe
    # the class itself), so from the statement
    cls_line = _enclosing_class(lines, fn_start if python and fn_start < stmt_start else stmt_start)
    if cls_line is not None:
        match = _CLASS.match(lines[cls_line])
        site.enclosing_class = match.group(2)
        bases = match.group(3) or match.group(4) or ""
        site.class_bases = tuple(b.strip() for b in bases.split(",") if re.fullmatch(r"[\w.]+", b.strip()))
    stmt_end = _statement_end(lines, line)
    cursor_line = lines[line]
    if called:
        _add(site, called, TIER_CURSOR, 0)
    elif site.typed:
        _add(site, site.typed, TIER_CURSOR, 0)
    for row in range(stmt_start, stmt_end):
        text = cursor_line[max(0, col - _LONG):col] + " " + cursor_line[col:col + _LONG] if row == line else lines[row]
        _scan(site, text, TIER_STATEMENT, abs(row - line), skip=(site.typed,) if row == line else ())
    for row in range(fn_start, fn_end):
        if not stmt_start <= row < stmt_end:
            _scan(site, lines[row], TIER_FUNCTION, abs(row - line))
    first, last = max(0, line - before), min(len(lines), line + after)
    _file_tier(site, lines, line, first, last, (min(fn_start, stmt_start), max(fn_end, stmt_end)))
    _types(site, lines, fn_start, fn_end, cls_line, first, last)
    if python and _PY_DEF.match(lines[fn_start]):
        site.local_names = frozenset(_python_locals(lines, fn_start, fn_end))
    return site


def _file_tier(site: Site, lines: Sequence[str], line: int, first: int, last: int, skip: tuple[int, int]) -> None:
    """Tier 3 over blocks of ``_BLOCK`` lines aligned to the file, so that the blocks away
    from the cursor are the same text from one keystroke to the next (``block_uses`` is
    cached); a use's distance is its block's nearest line. Import statements do not count:
    they name what they import without using it (tier 4)."""
    uses = site.uses
    budget = _TEXT_CAP
    for start in range(first - first % _BLOCK, last, _BLOCK):
        rows = [r for r in range(max(start, first), min(start + _BLOCK, last)) if not skip[0] <= r < skip[1]]
        if not rows:
            continue
        text = "\n".join(lines[r] for r in rows)
        budget -= len(text)
        if budget < 0:
            break
        distance = min(abs(r - line) for r in rows)
        for key in block_uses(text):
            old = uses.get(key)
            if old is None or (TIER_FILE, distance) < old:
                uses[key] = (TIER_FILE, distance)


# The caches below are sized for the files a user moves between (a keystroke rescans the same
# lines), not the whole repository: their entries hold line texts, and a server that filled
# 65,536 of them held about 12 MB of this repository's lines and kept growing (issue 18 soak).
@functools.lru_cache(maxsize=1 << 11)
def block_uses(text: str) -> tuple[str, ...]:
    code = _IMPORT_LINES.sub("", text)
    code = _COMMENT_LINES.sub("", code)
    code = _TRAILING_COMMENT.sub("", code)
    return _uses(code)


def _add(site: Site, key: str, tier: int, distance: int) -> None:
    old = site.uses.get(key)
    if old is None or (tier, distance) < old:
        site.uses[key] = (tier, distance)


def _scan(site: Site, text: str, tier: int, distance: int, skip: tuple[str, ...] = ()) -> None:
    uses = site.uses
    for key in line_uses(text[:_LONG]):
        if key in skip:
            continue
        old = uses.get(key)
        if old is None or (tier, distance) < old:
            uses[key] = (tier, distance)


@functools.lru_cache(maxsize=1 << 13)
def line_uses(text: str) -> tuple[str, ...]:
    """Names and attribute chains one line uses (cached: a file's lines recur from one
    keystroke to the next, and this scan was most of a request's cost)."""
    return _uses(text.split("#", 1)[0] if "#" in text and "'" not in text and '"' not in text else text)


def _uses(code: str) -> tuple[str, ...]:
    code = _STRING.sub(" ", code)
    code = _DEFINES.sub(" ", code)  # `def area(` defines `area`; it does not use it
    found: list[str] = []
    for match in _CHAIN.finditer(code):
        parts = match.group().split(".")
        head = parts[0]
        if head not in STOP_WORDS and len(head) > 1:
            found.append(head)
        # every prefix with an attribute: `a.b.c` uses `a.b` and `a.b.c`
        for end in range(2, min(len(parts), 4) + 1):
            found.append(".".join(parts[:end]))
    return tuple(dict.fromkeys(found))


def _statement(lines: Sequence[str], line: int, col: int, brackets: re.Pattern = _BRACKETS) -> tuple[int, str]:
    """(first line of the statement holding the cursor, the chain being called or typed).

    Scans backwards (at most ``_STATEMENT_LINES`` lines, and not past a line at the left
    margin) counting brackets: the first unclosed ``(`` is the innermost call the cursor is
    in, and the statement starts on the line of the outermost unclosed bracket."""
    called = ""
    text = lines[line][max(0, col - _LONG):col]
    tail = text[-_WORD_TAIL:]
    m = re.search(r"(?!\d)[\w.]*\w$", tail)
    if m and (m.start() == 0 or tail[m.start() - 1] != "."):
        called = m.group().strip(".")
    depth = 0
    start = row = line
    while True:
        code = _STRING.sub(lambda s: " " * len(s.group()), text) if ("'" in text or '"' in text) else text
        for b in reversed(list(brackets.finditer(code))):
            ch = b.group()
            if ch in ")]}":
                depth += 1
            elif depth:
                depth -= 1
            else:
                start = row
                if ch == "(" and not called:
                    callee = re.search(r"(?!\d)\w+(?:\s*\.\s*\w+)*\s*$", code[max(0, b.start() - _WORD_TAIL):b.start()])
                    if callee and callee.group().strip() not in _NOT_CALLS:
                        called = re.sub(r"\s+", "", callee.group())
        if row == 0 or line - row >= _STATEMENT_LINES or (text[:1].strip() and row < line):
            break
        row -= 1
        text = lines[row][-_LONG:]
    return start, called


def _statement_end(lines: Sequence[str], line: int) -> int:
    depth = 0
    end = line
    for row in range(line, min(len(lines), line + 6)):
        code = _STRING.sub(" ", lines[row])
        depth += sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")
        end = row + 1
        if depth <= 0:
            break
    return end


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _function_span(lines: Sequence[str], row: int, python: bool) -> tuple[int, int]:
    """The enclosing function's lines (Python: the nearest ``def`` above with less indent;
    elsewhere: the enclosing top-level block). (row, row + 1) when there is none."""
    indent = _indent(lines[row]) if lines[row].strip() else 1 << 30
    start = None
    for r in range(row, max(-1, row - 2000), -1):
        text = lines[r]
        if not text.strip():
            continue
        if python:
            m = _PY_DEF.match(text) if "def" in text else None
            if m and (len(m.group(1)) < indent or r == row):
                start = r
                break
            indent = min(indent, _indent(text)) if r != row else indent
            if indent == 0:
                break  # at the top level: no function encloses the cursor
        elif _indent(text) == 0 and r != row:
            start = r
            break
    if start is None:
        return row, row + 1
    base = _indent(lines[start])
    end = start + 1
    for r in range(start + 1, min(len(lines), start + 3000)):
        text = lines[r]
        if text.strip() and _indent(text) <= base and not (not python and text.strip()[:1] in "})]"):
            break
        end = r + 1
    return start, max(end, row + 1)


def _enclosing_class(lines: Sequence[str], row: int) -> int | None:
    """The line of the class whose body holds ``row`` (by indentation), else None."""
    text = lines[row]
    indent = _indent(text) if text.strip() else 1 << 30
    pad = " " * indent if indent < 1 << 30 else None
    for r in range(row - 1, max(-1, row - 5000), -1):
        text = lines[r]
        if pad is not None and text.startswith(pad):
            continue  # as deep as what encloses us so far, or deeper: not an enclosing line
        if not text.strip():
            continue
        ind = _indent(text)
        if ind >= indent:
            continue
        if _CLASS.match(text):
            return r
        if ind == 0:
            return None
        indent, pad = ind, " " * ind
    return None


def _types(site: Site, lines: Sequence[str], fn_start: int, fn_end: int, cls_line: int | None,
           first: int, last: int) -> None:
    """Receiver classes: annotations and constructor calls; the module's top level, then the
    class's ``self.x`` lines, then the function's own (the last one read wins)."""
    rows = [r for r in range(first, last) if lines[r][:1] not in (" ", "\t")]
    if cls_line is not None:
        rows += [r for r in range(cls_line, min(len(lines), cls_line + 400)) if "self." in lines[r]]
    rows += range(fn_start, fn_end)
    for row in rows:
        text = lines[row][:_LONG]
        if ":" in text or "=" in text:
            for name, cls, how in _line_types(text):
                site.types[name] = (cls, how)


@functools.lru_cache(maxsize=1 << 12)
def _line_types(text: str) -> tuple[tuple[str, str, str], ...]:
    found = [(m.group(1), m.group(2), "annotation") for m in _ANNOTATION.finditer(text)]
    found += [(m.group(1).replace("this.", "self."), m.group(2), "constructor") for m in _CONSTRUCTOR.finditer(text)]
    return tuple(found)


def _python_locals(lines: Sequence[str], start: int, end: int) -> set[str]:
    names: set[str] = set()
    params = _PY_PARAMS.search(" ".join(line[:_LONG] for line in lines[start:min(end, start + 8)]))
    if params:
        for p in params.group(1).split(","):
            p = p.strip().lstrip("*").split(":")[0].split("=")[0].strip()
            if p.isidentifier():
                names.add(p)
    for row in range(start + 1, end):
        for m in _PY_LOCAL.finditer(lines[row][:_LONG]):
            for group in m.groups():
                if group:
                    names.update(n.strip() for n in group.split(",") if n.strip().isidentifier())
    return names
