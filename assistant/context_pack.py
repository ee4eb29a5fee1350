"""Packing cross-file snippets into the repository part of a prompt, by value per token.

Order of admission (issue 16: one 700-token class must never push out five definitions
in use):

1. every definition's short form (``Snippet.brief``: signature and docstring line; the
   whole text when the definition is short), best tier first;
2. the full text (or skeleton) of the definitions used near the cursor (tiers 0-2);
3. open documents and similar windows, whole or not at all;
4. the full text of the remaining definitions.

A snippet that does not fit is reported as dropped with its tokens. Snippets of the
current file and snippets inside another of a different kind are left out first
(``distinct``). The kept pieces are then laid out stable-first (``KIND_ORDER``, path,
line), so the prompt's prefix stays the same while the set does (docs/design.md §4).
Token counts come from the caller's ``count`` (the model's tokenizer, memoised).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.request import ExplainEntry
from repo_index import Snippet

#: Order of snippet kinds in the prompt: the most stable first.
KIND_ORDER = {"document": 0, "import": 1, "definition": 2, "similar": 3}
#: Tiers whose full text comes before similar code (``repo_index.usage``: cursor,
#: statement, enclosing function).
NEAR_TIERS = 2
_OVERHEAD = 4  # tokens a snippet costs beyond its text (separator, file header share)


@dataclass
class Packed:
    snippets: list[Snippet]  # kept, in layout order, each with the text that goes in
    explain: list[ExplainEntry]
    used: int  # tokens


def pack(snippets: Sequence[Snippet], current: str, budget: int, count: Callable[[str], int]) -> Packed:
    explain: list[ExplainEntry] = []
    pool = distinct([s for s in snippets if s.kind != "dropped"], current)
    for s in snippets:
        if s.kind == "dropped":
            explain.append(ExplainEntry("dropped", where(s), f"dropped: {s.reason}", 0))
    cost_full = {id(s): count(s.text) + _OVERHEAD for s in pool}
    cost_brief = {id(s): (count(s.brief) + _OVERHEAD if s.brief else cost_full[id(s)]) for s in pool}
    definitions = sorted((s for s in pool if s.kind == "definition"), key=lambda s: (s.tier, -s.score))
    others = [s for s in pool if s.kind != "definition"]
    form: dict[int, str] = {}  # id -> "brief" | "full"
    used = 0
    for s in definitions:
        if used + cost_brief[id(s)] <= budget:
            form[id(s)] = "brief" if s.brief else "full"
            used += cost_brief[id(s)]

    def upgrade(group: list[Snippet]) -> None:
        nonlocal used
        for s in group:
            if form.get(id(s)) == "brief":
                extra = cost_full[id(s)] - cost_brief[id(s)]
                if used + extra <= budget:
                    form[id(s)] = "full"
                    used += extra

    upgrade([s for s in definitions if s.tier <= NEAR_TIERS])
    for s in others:
        if used + cost_full[id(s)] <= budget:
            form[id(s)] = "full"
            used += cost_full[id(s)]
    upgrade([s for s in definitions if s.tier > NEAR_TIERS])
    kept: list[Snippet] = []
    for s in pool:
        f = form.get(id(s))
        if f is None:
            explain.append(ExplainEntry("budget", where(s), f"dropped: over the cross-file budget ({s.reason})",
                                        cost_brief[id(s)]))
            continue
        if f == "brief":
            note = f"; signature only (the whole is {cost_full[id(s)]} tokens)"
            explain.append(ExplainEntry("snippet", where(s), f"{s.kind}: {s.reason}{note}", cost_brief[id(s)]))
            kept.append(_replace_text(s, s.brief))
        else:
            explain.append(ExplainEntry("snippet", where(s), f"{s.kind}: {s.reason}", cost_full[id(s)]))
            kept.append(s)
    kept.sort(key=lambda s: (KIND_ORDER.get(s.kind, 9), s.path, s.start_line))
    return Packed(kept, explain, used)


def _replace_text(s: Snippet, text: str) -> Snippet:
    return Snippet(s.path, s.start_line, s.end_line, text, s.score, s.kind, s.reason, s.symbol, s.tier,
                   s.resolution, "")


def distinct(snippets: Sequence[Snippet], current: str) -> list[Snippet]:
    """Drop snippets of the current file (the local window shows it) and ones inside another;
    a definition inside another definition stays (the outer one may be a skeleton)."""
    kept: list[Snippet] = []
    for snip in snippets:
        if snip.path == current:
            continue
        if any(_inside(snip, k) for k in kept):
            continue
        kept = [k for k in kept if not _inside(k, snip)]
        kept.append(snip)
    return kept


def _inside(a: Snippet, b: Snippet) -> bool:
    """Whether ``a`` lies within ``b`` and ``b`` shows it (definitions may elide members)."""
    if a.kind == "definition" and b.kind == "definition" and (a.start_line, a.end_line) != (b.start_line, b.end_line):
        return False
    return a.path == b.path and b.start_line <= a.start_line and a.end_line <= b.end_line


def where(s: Snippet) -> str:
    return f"{s.path}:{s.start_line + 1}-{s.end_line}"
