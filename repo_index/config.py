"""Settings of the workspace index, as one frozen dataclass.

What it is: every tunable number of ``repo_index`` with its default and the reason for it.
What it is not: a parser of TOML or editor options; the boundary that reads those (the CLI,
the LSP server) builds an ``IndexConfig`` from values it has already checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class IndexConfig:
    max_bytes: int = 1_000_000
    """Files larger than this are skipped ("too large") and never read whole."""

    window_min_lines: int = 10
    """Shortest code window for lexical retrieval (CrossCodeEval uses 10-line windows)."""

    window_max_lines: int = 20
    """Longest code window (RepoCoder uses 20); windows end on a syntax boundary in between."""

    window_target_lines: int = 15
    """Preferred window length when several syntax boundaries are possible."""

    workers: int = 0
    """Processes for the initial index; 0 means one per CPU core."""

    worker_nice: int = 5
    """Niceness added to worker processes: background indexing yields the CPU to whatever
    the user runs (it costs nothing on an idle machine). Benchmarks on shared machines use 0."""

    pool_min_files: int = 48
    """Batches smaller than this are indexed in-process: starting workers would cost more."""

    max_definitions: int = 8
    """Definition snippets returned by one retrieval."""

    max_similar: int = 5
    """Similar-code windows returned by one retrieval."""

    query_lines: int = 10
    """Non-blank lines before the cursor that form the lexical query (CrossCodeEval: 10)."""

    identifier_lines_before: int = 30
    """Lines above the cursor whose identifiers are looked up as definitions."""

    identifier_lines_after: int = 5
    """Lines below the cursor whose identifiers are looked up as definitions."""

    continuation_lines: int = 5
    """Lines after a similar window that come with it: what followed similar code is what the
    model needs to see (CrossCodeEval returns the chunk after each hit)."""

    max_definition_lines: int = 40
    """A definition longer than this is shown as an outline (header, docstring, members)."""

    debounce_s: float = 0.3
    """Quiet time after the last file event before a batch is applied (300-500 ms; the low
    end, so that a checkout's reconciliation starts as soon as the writes stop)."""

    debounce_ceiling_s: float = 2.0
    """A continuous stream of events is still applied at least this often."""

    burst_events: int = 200
    """A batch with more events than this is reconciled by a full rescan: inotify may have
    dropped events silently during the burst (watchdog does not report overflows)."""

    cache_dir: Path | None = None
    """Where the per-workspace SQLite stores live; None: $QWENPAIR_CACHE_DIR, else the user
    cache directory (~/.cache/qwenpair on Linux)."""

    extra_ignores: tuple[str, ...] = field(default_factory=tuple)
    """More gitignore-style patterns, relative to the workspace root."""

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir is not None:
            return Path(self.cache_dir)
        env = os.environ.get("QWENPAIR_CACHE_DIR")
        if env:
            return Path(env)
        import platformdirs  # imported here: only needed when a store is opened

        return Path(platformdirs.user_cache_dir("qwenpair", appauthor=False))

    def worker_count(self) -> int:
        if self.workers > 0:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
