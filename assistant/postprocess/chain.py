"""The post-processing chain: raw model output -> the completion to show.

Order, and why:

1. ``leaked_tokens`` — nothing after a leaked ``<|file_sep|>``/``<|endoftext|>`` is the
   completion; every later filter must reason about real output only.
2. ``single_line`` — a single-line request keeps one line. Cheap, and it leaves the
   line-based filters below nothing to do in the common mid-line case.
3. ``indentation`` — tabs/spaces in the file's unit *before* anything compares widths: the
   block-scope filter measures the completion's indentation against the file's lines.
4. ``block_scope`` — cut where the completion leaves its block. Structural, so it goes
   before the textual repetition check; it keeps the block's closing line on purpose,
   because only the text after the cursor can say whether that line is already there.
5. ``suffix_repetition`` — drop the tail that repeats the next lines (including that
   closing line) or the rest of the current line.
6. ``blank`` — because cuts above leave trailing blank lines; an empty or
   whitespace-only result becomes "".
7. ``replace_range`` — last: the closers the editor auto-closed after the cursor that the
   completion reproduces are not cut off but *replaced*: the result carries how many
   characters after the cursor it covers (``replace_range.Shown``). After 5, so whole
   repeated endings are gone first; it may trim the text to the string or bracket the
   cursor is in.

Every filter only removes text, except ``indentation`` (which rewrites leading whitespace).
``run_chain`` gives the text; ``shape_completion`` the text and its range.
What it is not: candidate ranking, caching or the decision of what to generate
(``line_mode.decide_line_mode`` runs before generation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from assistant.postprocess.blank import drop_blank
from assistant.postprocess.block_scope import trim_to_block
from assistant.postprocess.context import CompletionContext
from assistant.postprocess.indentation import normalise_indentation
from assistant.postprocess.leaked_tokens import cut_leaked_tokens
from assistant.postprocess.line_mode import keep_single_line
from assistant.postprocess.replace_range import Shown, cover_closers
from assistant.postprocess.suffix_repeat import drop_suffix_repetition

Filter = Callable[[str, CompletionContext], str]

#: The chain, in order (see the module docstring for why this order).
FILTERS: tuple[tuple[str, Filter], ...] = (
    ("leaked_tokens", cut_leaked_tokens),
    ("single_line", keep_single_line),
    ("indentation", normalise_indentation),
    ("block_scope", trim_to_block),
    ("suffix_repetition", drop_suffix_repetition),
    ("blank", drop_blank),
)


class Step(NamedTuple):
    """One filter's effect, for ``--explain``."""

    name: str
    before: str
    after: str
    note: str = ""  # what it did besides changing the text (the range it set)

    @property
    def changed(self) -> bool:
        return self.before != self.after or bool(self.note)


def run_chain(text: str, context: CompletionContext, *, steps: list[Step] | None = None) -> str:
    """Apply every filter in order and return the text to show (see ``shape_completion``
    for the range it replaces). Pass a list as ``steps`` to get each filter's effect appended."""
    return shape_completion(text, context, steps=steps).text


def shape_completion(text: str, context: CompletionContext, *, steps: list[Step] | None = None) -> Shown:
    """Apply every filter in order, then decide the range: the text and how many characters
    after the cursor, on its line, it replaces."""
    for name, apply in FILTERS:
        if not text and steps is None:
            return Shown("")
        after = apply(text, context) if text else ""
        if steps is not None:
            steps.append(Step(name, text, after))
        text = after
    shown = cover_closers(text, context) if text else Shown("")
    if steps is not None:
        note = f"replaces {context.line_suffix[: shown.replace]!r} after the cursor" if shown.replace else ""
        steps.append(Step("replace_range", text, shown.text, note))
    return shown


def format_steps(steps: list[Step]) -> str:
    """The filters that changed something, one line each, for ``--explain``."""
    lines = [f"{s.name}: {s.before!r} -> {s.after!r}" + (f" ({s.note})" if s.note else "") for s in steps if s.changed]
    return "\n".join(lines) or "no filter changed the completion"
