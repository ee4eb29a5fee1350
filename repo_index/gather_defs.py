"""The definitions part of a retrieval: uses in tiers, resolved, ranked, cut into snippets.

Steps (issue 16): ``usage.analyze`` lists what the code around the cursor uses, by tier;
``lookup.Resolver`` resolves each use through scope and imports; what does not resolve is
looked up by name in the index (the way retrieval worked before, now the fallback);
``ranking.order`` picks; ``skeleton`` shapes each pick's text. Definitions in the current
file, and modules that resolve to refused files, come back as "dropped" snippets (empty
text) for ``--explain``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from repo_index import bindings, skeleton, usage
from repo_index.facts import CLASS_KINDS, Definition, Snippet
from repo_index.lookup import Resolver
from repo_index.ranking import NAME_ONLY, Candidate, Cursor, order
from repo_index.usage import STOP_WORDS, TIER_FUNCTION, TIER_IMPORTED, TIER_STATEMENT

if TYPE_CHECKING:
    from repo_index.gathering import Retrieval, _Lines

#: Names defined this many times or more are looked up by name only in imported files and
#: the current one: "get" or "run" anywhere else is noise, and fetching them all costs time.
AMBIGUOUS = 16
#: Uses resolved per request, nearest and highest tier first (Refact looks up ~20).
MAX_USES = 48
_PREFIX_LIMIT = 20
_PREFIX_MIN = 3


def definitions_for(r: "Retrieval", rel: str | None, cursor: Cursor, text: str, cache: "_Lines",
                    limit: int) -> tuple[list[Snippet], list[Snippet]]:
    from repo_index.gathering import kin_of, kind_name

    language = kind_name(cursor.path)
    site = usage.analyze(cursor.lines, cursor.line, cursor.col, python=language == "python")
    symbols = r.current_symbols(rel, text) if rel else []
    binds = bindings.parse(language, cursor.lines, text)  # the current text, always fresh
    resolver = Resolver(r, cursor.path, language, site, symbols, binds)
    candidates: list[Candidate] = []
    dropped: list[Snippet] = []
    unresolved: dict[str, tuple[int, int, bool]] = {}  # name -> (tier, distance, used as an attribute)
    for key, (tier, distance) in sorted(site.uses.items(), key=lambda kv: (kv[1], kv[0]))[:MAX_USES]:
        answer = resolver.chain(key) if "." in key else resolver.name(key)
        for i, f in enumerate(answer.found):
            if f.definition is not None:
                candidates.append(Candidate(f.definition, tier, distance, f.resolution, key, f.detail, preference=i))
        for path, why in answer.refused:
            dropped.append(Snippet(path, 0, 0, "", 0.0, "dropped",
                                   f"`{key}` resolves to {path}: never used ({why})", key, tier, "import"))
        if answer.bound or answer.found:
            continue
        name = key.rpartition(".")[2]
        if ("." in key and tier > TIER_STATEMENT) or name in STOP_WORDS or len(name) < 2:
            continue  # an attribute far from the cursor is noise by name alone
        if (tier, distance) < unresolved.get(name, (99, 0, False))[:2]:
            unresolved[name] = (tier, distance, "." in key)
    for b in binds:
        if b.local != bindings.STAR and b.local not in site.uses:
            for f in resolver.name(b.local).found:
                if f.definition is not None:
                    candidates.append(Candidate(f.definition, TIER_IMPORTED, abs(b.line - cursor.line),
                                                f.resolution, b.local, f.detail))
    prefix = site.typed if len(site.typed) >= _PREFIX_MIN and not resolver.name(site.typed).found else ""
    candidates += _by_name(r, rel, cursor, text, unresolved, prefix, python=language == "python")
    kin = kin_of(cursor.path)
    if kin:
        # A Python `shape` is not a C `struct shape`: other language families are noise.
        candidates = [c for c in candidates if kin_of(c.definition.path) == kin]
    ranked = [c for c in order(candidates, limit * 3)
              if not (c.definition.path == cursor.path and c.definition.start_line <= cursor.line < c.definition.end_line)]
    picked: list[tuple[Candidate, list[str]]] = []
    for c in ranked:
        d = c.definition
        if d.path == cursor.path:
            dropped.append(Snippet(d.path, d.start_line, d.end_line, "", c.score, "dropped",
                                   c.reason + "; in the current file, which the prompt shows around the cursor",
                                   d.name, c.tier, c.resolution))
            continue
        lines = cache.get(d.path)
        if lines is None:
            continue  # refused since it was indexed (a secret written into it): never shown
        picked.append((c, lines))
        if len(picked) >= limit:
            break
    shown = {(c.definition.path, c.definition.name, c.definition.parent) for c, _ in picked}
    used = {k.rpartition(".")[2] for k, (t, _) in site.uses.items() if t <= TIER_FUNCTION}
    snippets: list[Snippet] = []
    for c, lines in picked:
        d = c.definition
        members = _members(r, d) if d.kind in CLASS_KINDS else []
        # members that are candidates themselves are shown on their own, not twice
        own = frozenset({m.name for m in members if (m.path, m.name, m.parent) not in shown} & used)
        text = r.snippet_text(d, lines, members, own)
        if not text.strip():
            continue
        brief = skeleton.brief(d, lines)
        snippets.append(Snippet(d.path, d.start_line, min(d.end_line, len(lines)), text, c.score, "definition",
                                c.reason, d.name, c.tier, c.resolution, brief if brief != text else ""))
    return snippets, dropped


def _members(r: "Retrieval", d: Definition) -> list[Definition]:
    return [m for m in r.members(d.path, d.name) if d.start_line < m.start_line < d.end_line]


def _by_name(r: "Retrieval", rel: str | None, cursor: Cursor, text: str, unresolved: dict[str, tuple[int, int, bool]],
             prefix: str, *, python: bool) -> list[Candidate]:
    """The fallback: definitions with the names that did not resolve, and with the typed prefix."""
    names = set(unresolved)
    if not names and not prefix:
        return []
    imported: set[str] = set()
    if rel:
        for _, targets in r.resolved_imports(rel, text):
            imported.update(targets)
    overlays = r.documents.paths()
    state = r.state
    with state.lock:
        counts = state.name_counts(names)
        common = {n for n, c in counts.items() if c >= AMBIGUOUS}
        found = state.definitions_named([n for n in names if n in counts and n not in common], skip_paths=overlays)
        if common:
            focus = imported | {cursor.path}
            found += state.definitions_named(sorted(common), skip_paths=overlays, only_paths=focus)
        if prefix:
            found += state.definitions_with_prefix(prefix, _PREFIX_LIMIT, skip_paths=overlays)
    found += r.overlay_definitions(names, prefix)
    out = []
    for d in found:
        if d.name in unresolved:
            tier, distance, attribute = unresolved[d.name]
            use = d.name
        elif prefix and d.name.startswith(prefix):
            tier, distance, use, attribute = 0, 0, prefix, True
        else:
            continue
        if python and not attribute and d.parent and d.kind not in CLASS_KINDS:
            continue  # a bare name never means a method in Python
        detail = f"in {d.path}, which this file imports" if d.path in imported else ""
        if use == prefix and use != d.name:
            detail = "; ".join(p for p in (f"its name starts with `{prefix}` typed at the cursor", detail) if p)
        same = 1 if d.path in imported else counts.get(d.name, 1)
        out.append(Candidate(d, tier, distance, NAME_ONLY, use, detail, same))
    return out
