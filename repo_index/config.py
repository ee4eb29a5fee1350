"""Settings of the workspace index, as one frozen dataclass.

What it is: every tunable number of ``repo_index`` with its default and the reason for it.
What it is not: a parser of TOML or editor options; the boundary that reads those (the CLI,
the LSP server) builds an ``IndexConfig`` with ``IndexConfig.from_mapping`` and gets clear
messages back for values it had to drop.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


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

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> tuple["IndexConfig", list[str]]:
        """Build a config from loose values; unknown keys or bad values fall back to the
        default and are reported in the returned list of messages."""
        problems: list[str] = []
        accepted: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        defaults = cls()
        for key, value in values.items():
            if key not in fields:
                problems.append(f"unknown index setting {key!r} ignored")
                continue
            default = getattr(defaults, key)
            try:
                if key == "cache_dir":
                    accepted[key] = None if value is None else Path(value)
                elif key == "extra_ignores":
                    accepted[key] = tuple(str(v) for v in value)
                elif isinstance(default, bool):
                    accepted[key] = bool(value)
                else:
                    converted = type(default)(value)
                    if converted < 0:
                        raise ValueError("must not be negative")
                    accepted[key] = converted
            except (TypeError, ValueError) as exc:
                problems.append(f"index setting {key}={value!r} is invalid ({exc}); using {default!r}")
        config = cls(**accepted)
        if config.window_min_lines > config.window_max_lines or config.window_min_lines < 1:
            problems.append("window_min_lines must be between 1 and window_max_lines; using defaults")
            config = dataclasses.replace(
                config,
                window_min_lines=defaults.window_min_lines,
                window_max_lines=defaults.window_max_lines,
                window_target_lines=defaults.window_target_lines,
            )
        return config, problems
