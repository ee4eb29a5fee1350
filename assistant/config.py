"""Engine configuration: one frozen dataclass, every field documented, parsed at the boundary.

The language server fills it from ``~/.config/qwenpair/config.toml`` and the editor's
initializationOptions; the CLI from its flags. ``EngineConfig.from_mapping`` turns untrusted
input into a config and a list of messages naming each key it had to fall back on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class EngineConfig:
    prefix_lines: int = 120
    """Local window: lines of the current file before the cursor (before budget trimming)."""
    suffix_lines: int = 40
    """Local window: lines of the current file after the cursor."""
    context_tokens: int = 2048
    """Token budget for the whole prompt when warm (repo context + current file)."""
    repo_context_share: float = 0.5
    """At most this share of the budget goes to cross-file snippets and other documents."""
    latency_target_s: float = 1.5
    """A cold completion (nothing cached) is sized to finish within this many seconds."""
    max_tokens_single: int = 48
    """Most tokens generated for a single-line completion."""
    max_tokens_multi: int = 128
    """Most tokens generated for a multi-line completion."""
    prompt_time_cap_s: float = 4.0
    """Prompt evaluation stops here; the request gives up (the next keystroke retries warm)."""
    generation_time_cap_s: float = 1.0
    """Generation stops here; the result keeps its last complete line."""
    candidates: int = 1
    """Candidates per request (1 on CPU: each extra one costs a full generation)."""
    snippet_refresh_s: float = 1.0
    """After this pause the cross-file snippets may be re-ranked even on the same line."""
    max_snippets: int = 8
    """Most cross-file snippets in a prompt."""
    cache_entries: int = 256
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
        messages: list[str] = []
        base = cls()
        kwargs: dict[str, Any] = {}
        known = {f.name: f for f in fields(cls)}
        for key, value in (values or {}).items():
            name = key.replace("-", "_")
            if name not in known:
                messages.append(f"unknown setting {key!r} ignored")
                continue
            default = getattr(base, name)
            try:
                coerced = _coerce(value, type(default))
            except (TypeError, ValueError):
                messages.append(
                    f"setting {key!r} = {value!r} is not a valid {type(default).__name__}; using {default!r}"
                )
                continue
            if isinstance(coerced, (int, float)) and not isinstance(coerced, bool) and coerced < 0:
                messages.append(f"setting {key!r} = {value!r} must not be negative; using {default!r}")
                continue
            kwargs[name] = coerced
        return dataclasses.replace(base, **kwargs), messages


def _coerce(value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if not isinstance(value, kind):
        raise TypeError(value)
    return value
