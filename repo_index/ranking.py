"""Ranking cross-file context for a cursor: the order of definitions, similar windows, and why.

Pure functions over plain data, so every rule has a direct test; ``gathering`` finds the
candidates (what the cursor uses, resolved through imports and scope) and calls these.

(a) Definitions (issue 16; the idea is Refact's, docs/design.md §5): a candidate
is a definition reached from a use near the cursor. Its priority is its use's tier (see
``usage``: called at the cursor, statement, function, file, only imported), then whether
it was resolved (through an import, this file's scope, a receiver's class) or only found
by name, then closeness to the cursor, then the kind and how many same-named definitions
compete. The score shown is

    10 x (5 - tier) + (5 if resolved) + proximity x kind weight / sqrt(#same-name defs)

and at most two definitions per name are kept.

(b) Similar windows (CrossCodeEval, RepoCoder): the last ``query_lines`` non-blank lines
before the cursor are the BM25 query; each hit is shown with the lines that follow it.

Ordering is total (score, then path, then line), so equal inputs give equal outputs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from repo_index.facts import Definition, Snippet
from repo_index.usage import STOP_WORDS, TIER_NAMES

_WORD = re.compile(r"(?!\d)\w+")
KIND_WEIGHT = {
    "class": 1.3, "struct": 1.3, "interface": 1.3, "enum": 1.2, "type": 1.2, "function": 1.1,
    "method": 1.0, "property": 0.9, "constant": 1.0, "macro": 0.9, "module": 0.6,
}
NAME_ONLY = "name only"
_PER_NAME = 2


@dataclass(frozen=True)
class Cursor:
    """What retrieval knows about the cursor's surroundings."""

    path: str
    line: int
    col: int
    lines: Sequence[str]


@dataclass(frozen=True)
class Candidate:
    """A definition reached from a use near the cursor, and how."""

    definition: Definition
    tier: int
    distance: int  # lines between the use and the cursor
    resolution: str  # "import", "same file", "self method", "annotation", "constructor", ..., "name only"
    use: str  # the name or chain used: "send", "self.adapter.send", "mod.f"
    detail: str = ""  # e.g. "re-exported by pkg/__init__.py"
    same_named: int = 1  # definitions of this name in the index (name-only lookups)
    preference: int = 0  # order among equal scores, as resolution found them (0 first)

    @property
    def score(self) -> float:
        proximity = 1.0 / (1.0 + self.distance / 4.0)
        weight = KIND_WEIGHT.get(self.definition.kind, 1.0) / math.sqrt(max(1, self.same_named))
        resolved = 0.0 if self.resolution == NAME_ONLY else 5.0
        return round(10.0 * (5 - self.tier) + resolved + proximity * weight, 6)

    @property
    def reason(self) -> str:
        d = self.definition
        where = "at the cursor" if self.distance == 0 else f"{self.distance} line{'s' * (self.distance > 1)} from the cursor"
        use = f"`{self.use}`" if self.use != d.name else f"`{d.name}`"
        text = f"definition of `{d.name}`, tier {self.tier} ({TIER_NAMES.get(self.tier, '?')}): {use} {where}"
        text += f"; resolved by {self.resolution}"
        return text + (f" ({self.detail})" if self.detail else "")


def order(candidates: Iterable[Candidate], limit: int) -> list[Candidate]:
    """Best first, one entry per definition span, at most two per name, at most ``limit``."""
    best: dict[tuple[str, int], Candidate] = {}
    for c in candidates:
        key = (c.definition.path, c.definition.start_line)
        if key not in best or c.score > best[key].score:
            best[key] = c
    ranked = sorted(best.values(), key=lambda c: (-c.score, c.preference, c.definition.path, c.definition.start_line,
                                                  c.definition.name))
    picked: list[Candidate] = []
    per_name: dict[str, int] = {}
    for c in ranked:
        name = c.definition.name
        if per_name.get(name, 0) >= _PER_NAME:
            continue
        per_name[name] = per_name.get(name, 0) + 1
        picked.append(c)
        if len(picked) >= limit:
            break
    return picked


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
    return Snippet(path, start, stop, text, round(score, 6), "similar", reason, tier=9, resolution="BM25")
