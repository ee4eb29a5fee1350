"""Engine configuration: one frozen dataclass, every field documented, parsed at the boundary.

The language server fills it from ``~/.config/qwenpair/config.toml`` and the editor's
initializationOptions; the CLI from its flags. ``EngineConfig.from_mapping`` turns untrusted
input into a config and a list of messages naming each key it had to fall back on (the one
converter, ``assistant.settings_convert``: each field's type and ``setting`` bounds say what
it accepts). docs/configuration.md's ``[engine]`` table is these fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from assistant import settings_convert
from assistant.settings_convert import setting


@dataclass(frozen=True)
class EngineConfig:
    prefix_lines: int = setting(120, min=0)
    """Local window: lines of the current file before the cursor (before budget trimming)."""
    suffix_lines: int = setting(40, min=0)
    """Local window: lines of the current file after the cursor."""
    context_tokens: int = setting(2048, min=0)
    """Token budget for the whole prompt when warm (repo context + current file)."""
    repo_context_share: float = setting(0.5, min=0, max=1)
    """At most this share of the budget goes to cross-file snippets and other documents."""
    latency_target_s: float = setting(1.5, min=0)
    """A cold completion (nothing cached) is sized to finish within this many seconds."""
    max_tokens_single: int = setting(48, min=0)
    """Most tokens generated for a single-line completion."""
    max_tokens_multi: int = setting(128, min=0)
    """Most tokens generated for a multi-line completion."""
    prompt_time_cap_s: float = setting(4.0, min=0)
    """Prompt evaluation stops here; the request gives up (the next keystroke retries warm)."""
    generation_time_cap_s: float = setting(1.0, min=0)
    """Generation stops here; the result keeps its last complete line."""
    candidates: int = setting(1, min=0)
    """Candidates per request (1 on CPU: each extra one costs a full generation)."""
    snippet_refresh_s: float = setting(1.0, min=0)
    """After this pause the cross-file snippets may be re-ranked even on the same line."""
    max_snippets: int = setting(8, min=0)
    """Most cross-file snippets in a prompt."""
    cache_entries: int = setting(256, min=0)
    """Results kept in the LRU cache."""
    speculative: bool = False
    """After a suggestion is shown, precompute the completion that follows it (llama.vim).
    Off by default: on a 2-core CPU with the 0.5B model a completion takes longer than the
    pause before accepting (bench/keystroke_latency.py --speculative: 0 of 8 accepts served
    from it at 400 ms, typing p95 2.4x worse). Turn it on where generation is fast (a GPU)."""
    naive_layout: bool = False
    """The layout of llama-server's /infill, for comparison only: the current line inside the
    prefix and snippets re-ranked on every keystroke (so every keystroke re-evaluates the suffix)."""

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> tuple[EngineConfig, list[str]]:
        """A config from untrusted keys; invalid or unknown ones fall back with a message."""
        return settings_convert.from_mapping(cls, values)
