"""Imported once by the fork server that starts the index workers (``ExtractorPool``): it
loads every grammar and compiles every language's query there, so each forked worker
inherits them instead of compiling its own (0.24 CPU-s per worker for all of them here).
Importing it anywhere else only warms the same caches."""

from __future__ import annotations

from repo_index import extract, languages


def warm() -> None:
    for spec in languages.LANGUAGES:
        try:
            extract.warm(spec)
        except Exception:  # a broken grammar costs its files later, with a reason, not the pool
            pass


warm()
