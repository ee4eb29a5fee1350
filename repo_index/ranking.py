"""Ranking cross-file context for a cursor: which definitions, which similar windows, and why.

Pure functions over plain data, so every ranking rule has a direct test; the workspace
gathers the candidates (symbol store, lexical index, open documents) and calls these.

(a) Definitions (Refact's idea, DESIGN.md §5): identifiers used near the cursor, closest
first, and the names the file imports. A definition scores

    proximity(name) x kind weight x (2 if its file is imported here) / sqrt(#same-name defs)

and at most two definitions per name are kept. The identifier being typed at the cursor
also matches definitions by prefix.

(b) Similar windows (CrossCodeEval, RepoCoder): the last ``query_lines`` non-blank lines
before the cursor are the BM25 query; each hit is shown with the lines that follow it.

Ordering is total (score, then path, then line), so equal inputs give equal outputs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from repo_index.facts import CLASS_KINDS, Definition, Snippet

_WORD = re.compile(r"(?!\d)\w+")
_KIND_WEIGHT = {
    "class": 1.3, "struct": 1.3, "interface": 1.3, "enum": 1.2, "type": 1.2, "function": 1.1,
    "method": 1.0, "property": 0.9, "constant": 1.0, "macro": 0.9, "module": 0.6,
}
#: Words that are never worth a definition lookup (keywords and receivers of many languages).
STOP_WORDS = frozenset(
    "self this cls super def class return if else elif for while in is not and or import from as "
    "with try except finally raise pass break continue lambda yield async await None True False "
    "null nil true false undefined new delete function const let var static public private "
    "protected final void int str string bool float double char long short byte unsigned "
    "struct enum interface type package namespace using include func go defer fn mut impl pub "
    "use mod where match local end then do begin module require print len range".split()
)
_PER_NAME = 2
_PREFIX_MIN = 3


@dataclass(frozen=True)
class Cursor:
    """What retrieval knows about the cursor's surroundings."""

    path: str
    line: int
    col: int
    lines: Sequence[str]


def identifiers_near(cursor: Cursor, before: int, after: int) -> dict[str, int]:
    """Identifier -> distance in lines from the cursor, for lines around it. The word being
    typed at the cursor is left out (it is usually incomplete; see ``typed_prefix``)."""
    found: dict[str, int] = {}
    first = max(0, cursor.line - before)
    last = min(len(cursor.lines), cursor.line + after + 1)
    for row in range(first, last):
        text = cursor.lines[row]
        distance = abs(row - cursor.line)
        for match in _WORD.finditer(text):
            word = match.group()
            if row == cursor.line and match.start() <= cursor.col <= match.end():
                continue
            if len(word) < 2 or word in STOP_WORDS:
                continue
            if distance < found.get(word, 1 << 30):
                found[word] = distance
    return found


def typed_prefix(cursor: Cursor) -> str:
    """The identifier fragment just before the cursor ("" when there is none)."""
    if cursor.line >= len(cursor.lines):
        return ""
    head = cursor.lines[cursor.line][: cursor.col]
    match = re.search(r"(?!\d)\w+$", head)
    word = match.group() if match else ""
    return word if len(word) >= _PREFIX_MIN else ""


def query_span(cursor: Cursor, query_lines: int) -> tuple[str, int]:
    """The lexical query: the last ``query_lines`` non-blank lines up to the cursor, and the
    first line they come from."""
    picked: list[str] = []
    row = min(cursor.line, len(cursor.lines) - 1)
    first = row
    if row >= 0:
        picked.append(cursor.lines[row][: cursor.col] if row == cursor.line else cursor.lines[row])
    row -= 1
    while row >= 0 and len(picked) < query_lines:
        if cursor.lines[row].strip():
            picked.append(cursor.lines[row])
            first = row
        row -= 1
    return "\n".join(reversed(picked)), max(first, 0)


@dataclass(frozen=True)
class RankedDefinition:
    score: float
    definition: Definition
    reason: str


def rank_definitions(
    candidates: Iterable[Definition],
    near: dict[str, int],
    *,
    cursor: Cursor,
    imported_paths: dict[str, int],
    imported_names: dict[str, int],
    prefix: str = "",
    name_counts: dict[str, int] | None = None,
    limit: int = 8,
) -> list[RankedDefinition]:
    """Score and pick definitions; see the module docstring for the formula.

    ``imported_paths`` and ``imported_names`` map to the line of the import statement.
    Definitions enclosing the cursor in its own file are skipped (they are in the prompt).
    """
    counts: dict[str, int] = dict(name_counts or {})
    pool = list(candidates)
    if name_counts is None:
        for d in pool:
            counts[d.name] = counts.get(d.name, 0) + 1
    ranked: list[RankedDefinition] = []
    for d in pool:
        if d.path == cursor.path and d.start_line <= cursor.line < d.end_line:
            continue
        distance = near.get(d.name)
        imported_line = imported_names.get(d.name)
        if distance is not None:
            proximity = 1.0 / (1.0 + distance / 4.0)
            where = "at the cursor line" if distance == 0 else f"{distance} line{'s' if distance > 1 else ''} from the cursor"
            reason = f"definition of `{d.name}`, used {where}"
        elif prefix and d.name.startswith(prefix):
            proximity = 0.9
            reason = f"definition of `{d.name}`, which starts with `{prefix}` typed at the cursor"
        elif imported_line is not None:
            proximity = 0.3
            reason = f"definition of `{d.name}`, imported on line {imported_line + 1}"
        else:
            continue
        score = proximity * _KIND_WEIGHT.get(d.kind, 1.0)
        if d.path in imported_paths:
            score *= 2.0
            reason += f"; {d.path} is imported on line {imported_paths[d.path] + 1}"
        elif d.path == cursor.path:
            score *= 0.5
            reason += "; in this file"
        score /= math.sqrt(max(1, counts.get(d.name, 1)))
        ranked.append(RankedDefinition(round(score, 6), d, reason))
    ranked.sort(key=lambda r: (-r.score, r.definition.path, r.definition.start_line, r.definition.name))
    picked: list[RankedDefinition] = []
    per_name: dict[str, int] = {}
    spans: set[tuple[str, int]] = set()
    for r in ranked:
        d = r.definition
        if per_name.get(d.name, 0) >= _PER_NAME or (d.path, d.start_line) in spans:
            continue
        per_name[d.name] = per_name.get(d.name, 0) + 1
        spans.add((d.path, d.start_line))
        picked.append(r)
        if len(picked) >= limit:
            break
    return picked


def definition_text(d: Definition, lines: Sequence[str], members: Sequence[Definition], max_lines: int) -> str:
    """The text shown for a definition: all of it when short; a class as an outline (header,
    docstring, member headers); a long function as its first ``max_lines`` lines."""
    end = min(d.end_line, len(lines))
    if end - d.start_line <= max_lines:
        return "\n".join(lines[d.start_line:end])
    if d.kind in CLASS_KINDS and members:
        head = d.head_end if d.head_end > d.start_line else d.start_line + 1
        keep = list(range(d.start_line, min(head, end)))
        if d.doc_start >= head and d.doc_end <= end:
            keep += range(d.doc_start, d.doc_end)
        for m in members:
            keep += range(m.start_line, min(max(m.head_end, m.start_line + 1), m.end_line))
        rows = sorted(set(r for r in keep if 0 <= r < end))
        out: list[str] = []
        previous = None
        for r in rows:
            if previous is not None and r > previous + 1:
                out.append(_indent_of(lines[r]) + "...")
            out.append(lines[r])
            previous = r
        if previous is not None and previous < end - 1:
            out.append(_indent_of(lines[previous]) + "...")
        return "\n".join(out[: max_lines * 2])
    return "\n".join(lines[d.start_line:d.start_line + max_lines])


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def shared_words(query: str, text: str, limit: int = 5) -> list[str]:
    """Identifiers the query and a hit have in common, longest first (for the reason)."""
    q = {w for w in _WORD.findall(query) if len(w) > 1 and w not in STOP_WORDS}
    common = q.intersection(_WORD.findall(text))
    return sorted(common, key=lambda w: (-len(w), w))[:limit]


def similar_snippet(path: str, start: int, end: int, score: float, lines: Sequence[str], query: str,
                    continuation: int) -> Snippet:
    stop = min(len(lines), end + continuation)
    text = "\n".join(lines[start:stop])
    words = shared_words(query, text)
    reason = f"similar to the code before the cursor (BM25 {score:.2f}"
    reason += f"; shared: {', '.join(words)})" if words else ")"
    return Snippet(path, start, stop, text, round(score, 6), "similar", reason)
