"""Test helper: a CompletionContext from a document written with a cursor marker."""

from __future__ import annotations

from assistant.postprocess import CompletionContext

MARKER = "‸"


def split_at_marker(marked: str) -> tuple[str, str]:
    """(prefix, suffix) of a document with exactly one ``‸``."""
    assert marked.count(MARKER) == 1, f"expected one {MARKER} in {marked!r}"
    prefix, suffix = marked.split(MARKER)
    return prefix, suffix


def at(marked: str, language: str = "python", **options) -> CompletionContext:
    """The context of the ``‸`` in ``marked``."""
    prefix, suffix = split_at_marker(marked)
    return CompletionContext.from_prefix_suffix(prefix, suffix, language=language, **options)
