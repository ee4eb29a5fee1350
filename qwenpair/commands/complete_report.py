"""What ``qwenpair complete`` did, told on stderr in the human mode (never with ``--json`` or
``--show-prompt``, whose output tools parse).

After the completion it says: which model ran and how long it took to load, the workspace
index (files, symbols, time), the context chosen (each snippet and where it came from, the
prompt's size), the model's time, and the filters that changed the output; with the
random-weight test model it ends with the one command that gets a real one. A completion the
filters emptied is explained ("the model proposed only whitespace") rather than printed as
an empty line with no reason.

It only formats what the engine already reports (the explain records of
``assistant.request``, the result's timings) plus what ``_Recorder`` sees of the model's raw
text; it changes nothing in the completion.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

#: How many snippets the summary names one by one (``--explain`` lists all of them).
SHOWN_SNIPPETS = 4


class Recorder:
    """A backend as the engine sees it, keeping each raw generation (the text before the
    filters) so that the summary can say what the model proposed. Everything else is the
    wrapped backend's own attribute."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.generations: list = []

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def generate(self, *args, **kwargs):
        result = self._backend.generate(*args, **kwargs)
        self.generations.append(result)
        return result


@dataclass
class Run:
    """The figures of one CLI completion that the engine's result does not carry."""

    model: str = ""
    test_model: bool = False  # the random-weight tiny model that `--model auto` falls back to
    load_s: float = 0.0
    index_s: float = 0.0
    index: object = None  # repo_index IndexStats
    generations: list = field(default_factory=list)
    file_level: bool = False  # the model's prompts have no repository part (no repo tokens)


def empty_reason(run: Run) -> str:
    """Why the completion is empty, in the user's words."""
    if not run.generations:
        return "the model was not asked (see the warnings above)"
    raw = run.generations[0].text
    if not raw:
        return "the model proposed nothing (it stopped at once)"
    if not raw.strip():
        return f"the model proposed only whitespace ({_whitespace(raw)}); there is nothing to insert"
    return "the filters removed all the model proposed (see 'filters' below)"


def print_summary(result, run: Run, out=None) -> None:
    out = out or sys.stderr
    lines = ["qwenpair: what ran"]
    kind = " (the tiny test model: random weights)" if run.test_model else ""
    lines.append(f"  model      {run.model}{kind}, loaded in {run.load_s:.1f} s")
    st = run.index
    if st is not None:
        build = st.last_build
        reread = f", {build.files_indexed} re-read" if build is not None else ""
        lines.append(f"  workspace  {st.root}: {st.files} files, {st.symbols} symbols indexed{reread}, "
                     f"{run.index_s * 1000:.0f} ms")
    lines.extend(_context_lines(result, run))
    lines.append(_model_line(result, run))
    lines.append(_filter_line(result, run))
    if run.test_model:
        from model.registry import DEFAULT_COMPLETION_MODEL

        lines.append(f"next: `qwenpair model pull {DEFAULT_COMPLETION_MODEL}` gets a real model (once); "
                     "then run this command again")
    print("\n".join(lines), file=out)


def _context_lines(result, run: Run) -> list[str]:
    snippets = [e for e in result.explain if e.kind == "snippet"]
    local = [e for e in result.explain if e.kind in ("local", "document")]
    budget = [e for e in result.explain if e.kind == "budget"]
    other = (f"{len(snippets)} snippet{'s' * (len(snippets) != 1)} from other files" if not run.file_level
             else "no other files (this model's prompts are file-level: see the warning above)")
    lines = [f"  context    {other}"
             f" + {', '.join(e.reason.split(' (')[0] for e in local) or 'no text of this file'};"
             f" prompt {result.prompt_tokens} tokens{_cached(result)}"]
    for e in snippets[:SHOWN_SNIPPETS]:
        why = e.reason.partition(": ")[2] or e.reason  # "definition: definition of `area`, ..."
        lines.append(f"             {e.source} ({e.tokens} tokens): {_short(why)}")
    if len(snippets) > SHOWN_SNIPPETS:
        lines.append(f"             ... {len(snippets) - SHOWN_SNIPPETS} more (--explain lists them)")
    lines.extend(f"             budget: {e.reason}" for e in budget)
    return lines


def _cached(result) -> str:
    reused = result.prompt_tokens - result.evaluated_tokens
    return f" ({reused} of them from the model's cache)" if reused > 0 else ""


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _model_line(result, run: Run) -> str:
    t = result.timings
    generated = len(run.generations[0].token_ids) if run.generations else 0
    return (f"  model run  prompt {t.get('prompt_s', 0.0) * 1000:.0f} ms, {generated} tokens generated in "
            f"{t.get('generate_s', 0.0) * 1000:.0f} ms (stopped: {result.stop_reason or 'n/a'}); "
            f"context {t.get('context_s', 0.0) * 1000:.0f} ms, total {t.get('total_s', 0.0) * 1000:.0f} ms")


def _filter_line(result, run: Run) -> str:
    changed = [e.source for e in result.explain if e.kind == "filter"]
    if not changed:
        return "  filters    none changed the model's text"
    what = "; ".join(dict.fromkeys(changed))
    if not result.text and run.generations and not run.generations[0].text.strip():
        what += " (dropped the whitespace)"
    return f"  filters    changed the output: {what}"


def _whitespace(text: str) -> str:
    parts = []
    for ch, name in ((" ", "space"), ("\n", "newline"), ("\t", "tab")):
        n = text.count(ch)
        if n:
            parts.append(f"{n} {name}{'s' * (n != 1)}")
    return ", ".join(parts) or f"{len(text)} blank characters"
