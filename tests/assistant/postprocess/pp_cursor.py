"""Test helper: a CompletionContext from a document written with a cursor marker."""

from __future__ import annotations

from dataclasses import replace

from assistant.postprocess import CompletionContext, decide_line_mode

MARKER = "‸"


def split_at_marker(marked: str) -> tuple[str, str]:
    """(prefix, suffix) of a document with exactly one ``‸``."""
    assert marked.count(MARKER) == 1, f"expected one {MARKER} in {marked!r}"
    prefix, suffix = marked.split(MARKER)
    return prefix, suffix


def at(marked: str, language: str = "python", **options) -> CompletionContext:
    """The context of the ``‸`` in ``marked``, with the line mode decided as the engine does
    (once, before generating) unless ``multiline`` is given."""
    prefix, suffix = split_at_marker(marked)
    ctx = CompletionContext.from_prefix_suffix(prefix, suffix, language=language, **options)
    return ctx if "multiline" in options else replace(ctx, multiline=decide_line_mode(ctx).multiline)
