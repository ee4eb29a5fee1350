"""Candidates into items: the shown text at the cursor, ranked, and the explanation of what
the filters did. Pure functions of the engine's results (split out of engine.py)."""

from __future__ import annotations

from pathlib import Path

from assistant.postprocess import Shown, Step
from assistant.request import CompletionItem, ExplainEntry
from repo_index import syntax_errors


def item_at(shown: Shown, line: int, col: int, logprob: float = 0.0) -> CompletionItem:
    """The item for a shown completion at the cursor; its range covers the auto-closed
    characters after the cursor that it replaces (``postprocess.replace_range``)."""
    return CompletionItem(shown.text, line, col, line, col + shown.replace, logprob)


def rank(path: Path, text: str, offset: int, candidates: list[tuple[Shown, float]]):
    """Candidates best first: those with which the file parses no worse than without them,
    then by mean token logprob. Returns (ranked, texts demoted for breaking the parse).
    One candidate needs no ranking, and a language tree-sitter does not know gets none."""
    by_logprob = sorted(candidates, key=lambda c: c[1], reverse=True)
    if len(candidates) < 2:
        return by_logprob, []
    before = syntax_errors(path, text)
    if before is None:
        return by_logprob, []
    head = text[:offset]
    worse = {s for s, _ in candidates if (syntax_errors(path, head + s.text + text[offset + s.replace :]) or 0) > before}
    ranked = sorted(by_logprob, key=lambda c: c[0] in worse)  # stable: logprob order kept within
    return ranked, [s for s, _ in ranked if s in worse]


def filter_explain(steps: list[Step]) -> list[ExplainEntry]:
    out = []
    for st in steps:
        if st.name == "syntax":
            out.append(ExplainEntry("filter", "syntax", f"{st.after!r} ranked last: the file parses worse with it"))
        elif st.changed:
            note = f" ({st.note})" if st.note else ""
            out.append(ExplainEntry("filter", st.name, f"{st.before!r} -> {st.after!r}{note}"))
    return out


def refusal(path: Path, why: str) -> str:
    return f"no completion in {path.name}: {why}"
