"""Completion post-processing: a chain of tiny filters from raw model output to what is shown.

Use::

    ctx = CompletionContext.from_prefix_suffix(prefix, suffix, path="src/app.py")
    mode = decide_line_mode(ctx)          # before generating: stop strings, token cap
    ctx = replace(ctx, multiline=mode.multiline)  # the filters follow the decision made
    shown = shape_completion(raw_output, ctx)  # after generating: text + range replaced

Each filter is a pure function ``(text, CompletionContext) -> str`` in its own module, with
its own tests; ``chain.FILTERS`` lists them in order and says why that order. Golden cases
(document with a cursor marker, raw output, expected result) live in
``tests/assistant/postprocess/golden/``.

The result is a ``Shown``: the text and how many characters after the cursor it replaces
(the closers the editor auto-closed; ``replace_range``), which the engine turns into the
item's range.

What it is not: candidate ranking, caching or the prompt. It imports nothing heavy and never
parses the whole file: brackets and strings are counted by a small lexer (``lexer``);
tree-sitter parses only a completion the lexer misread, or the window of lines around the
cursor when a completion has written a whole declaration and goes on (``syntax``).
"""

from assistant.postprocess.chain import FILTERS, Step, format_steps, run_chain, shape_completion
from assistant.postprocess.context import CompletionContext, detect_indent_unit
from assistant.postprocess.languages import language_from_path
from assistant.postprocess.line_mode import LineMode, ModeLimits, decide_line_mode
from assistant.postprocess.replace_range import Shown, cover_closers

__all__ = [
    "FILTERS",
    "cover_closers",
    "CompletionContext",
    "LineMode",
    "ModeLimits",
    "Shown",
    "Step",
    "decide_line_mode",
    "detect_indent_unit",
    "format_steps",
    "language_from_path",
    "run_chain",
    "shape_completion",
]
