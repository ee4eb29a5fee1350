"""What the post-processing filters know about the cursor: ``CompletionContext``.

What it is: a small frozen value — the current line split at the cursor, a window of lines
before and after, the language, the file's indent unit and the single/multi-line decision —
plus ``CompletionContext.from_prefix_suffix``, which builds it from the document text around
the cursor without copying or splitting the whole file.

What it is not: the prompt context (cross-file snippets, token budgets); that is the context
builder's job. Filters see only this value, so each can be tested with a literal one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from math import gcd

from assistant.postprocess.languages import PLAIN, LanguageSpec, language_from_path, spec_for

#: Lines kept on each side of the cursor: enough for the suffix-repetition and block checks,
#: and for a stable guess of the indent unit.
WINDOW_LINES = 40


@dataclass(frozen=True)
class CompletionContext:
    """The cursor as the filters see it. Lines carry no newline characters."""

    line_prefix: str  # the current line before the cursor
    line_suffix: str = ""  # the current line after the cursor
    next_lines: tuple[str, ...] = ()  # the lines after the current one, nearest first
    prev_lines: tuple[str, ...] = ()  # the lines before the current one, in file order (nearest last)
    language: str = PLAIN.name  # a language id (``languages.LANGUAGES``); unknown ids get PLAIN rules
    indent_unit: str = "    "  # one level of indentation in this file: a tab or N spaces
    multiline: bool = False  # the request is multi-line (``line_mode.decide_line_mode``)

    @cached_property
    def spec(self) -> LanguageSpec:
        """The language's rules."""
        return spec_for(self.language)

    @classmethod
    def from_prefix_suffix(
        cls,
        prefix: str,
        suffix: str,
        *,
        language: str | None = None,
        path: str | None = None,
        indent_unit: str | None = None,
        multiline: bool = False,
        window: int = WINDOW_LINES,
    ) -> CompletionContext:
        """The context of a cursor between ``prefix`` and ``suffix`` (the whole document text).

        ``language`` wins over ``path``'s extension; ``indent_unit`` is detected when not
        given. ``multiline`` is the caller's line-mode decision (``line_mode.decide_line_mode``,
        made once by the engine with its token limits): the context never decides it, so this
        module does not import the policy that reads it.
        """
        start = prefix.rfind("\n")
        line_prefix = prefix[start + 1 :]
        prev_lines = _last_lines(prefix[:start], window) if start >= 0 else ()
        stop = suffix.find("\n")
        line_suffix = (suffix if stop < 0 else suffix[:stop]).rstrip("\r")
        next_lines = _first_lines(suffix[stop + 1 :], window) if stop >= 0 else ()
        language = language or (language_from_path(path) if path else PLAIN.name)
        spec = spec_for(language)
        return cls(
            line_prefix,
            line_suffix,
            next_lines,
            prev_lines,
            language,
            indent_unit or detect_indent_unit(prev_lines + next_lines, spec.indent_unit),
            multiline,
        )


def _last_lines(text: str, n: int) -> tuple[str, ...]:
    cut = len(text)
    for _ in range(n):
        cut = text.rfind("\n", 0, cut)
        if cut < 0:
            break
    return tuple(line.rstrip("\r") for line in text[cut + 1 :].split("\n"))


def _first_lines(text: str, n: int) -> tuple[str, ...]:
    cut = -1
    for _ in range(n):
        cut = text.find("\n", cut + 1)
        if cut < 0:
            cut = len(text)
            break
    return tuple(line.rstrip("\r") for line in text[:cut].split("\n")) if text else ()


def detect_indent_unit(lines: tuple[str, ...], default: str = "    ") -> str:
    """The indent unit the lines show: a tab, or the most common step between space indents."""
    tabs = spaces = 0
    widths = []
    for line in lines:
        if not line.strip():
            continue
        if line[0] == "\t":
            tabs += 1
        elif line[0] == " ":
            spaces += 1
        widths.append(len(line) - len(line.lstrip(" ")))
    if tabs > spaces:
        return "\t"
    if not spaces:
        return default
    # Steps between neighbouring lines reflect the unit even when most lines sit deep; odd
    # steps (JSDoc's " * ", hanging alignment) are noise.
    steps = Counter(abs(b - a) for a, b in zip(widths, widths[1:]) if abs(b - a) in (2, 3, 4, 8))
    if steps:
        return " " * max(steps, key=lambda s: (steps[s], -s))
    unit = 0
    for w in widths:
        unit = gcd(unit, w)
    return " " * unit if unit in (2, 3, 4, 8) else default
