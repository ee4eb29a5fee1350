"""What every artifact records about how it was made, and the checks on load.

Shards, checkpoints and adapters all carry: the prompt-format version
(``model.prompt.PROMPT_FORMAT_VERSION``), the tokenizer's fingerprint (a hash of its
vocabulary, merges, control tokens, normaliser and pre-tokenizer: what decides the IDs), and
the resolved configuration of the run. ``check_*`` refuse a mismatch with a message that
names both sides and what to do, as litgpt does with the config beside each checkpoint.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from model.prompt import PROMPT_FORMAT_VERSION
from training.errors import MismatchError


def config_dict(cfg: Any) -> dict[str, Any]:
    """A dataclass (nested ones included) as plain JSON-ready data."""
    raw = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
    return json.loads(json.dumps(raw, default=str))


def fingerprint(data: Any) -> str:
    """A short stable hash of JSON-ready data."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: old -> new`` for every field that differs (nested keys dotted)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(config_diff(a, b, f"{prefix}{key}."))
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Hash of what decides token IDs. Takes a ``tokenizers.Tokenizer`` or a HF fast tokenizer."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    data = {
        "type": model.get("type"),
        "vocab": sorted((model.get("vocab") or {}).items(), key=lambda kv: kv[1]),
        "merges": merges,
        "added": sorted((t["id"], t["content"], bool(t.get("special"))) for t in spec.get("added_tokens") or []),
        "normalizer": spec.get("normalizer"),
        "pre_tokenizer": _without(spec.get("pre_tokenizer"), "trim_offsets"),
    }
    return fingerprint(data)


def _without(value: Any, key: str) -> Any:
    """``value`` with ``key`` removed at any depth (transformers flips ByteLevel's
    trim_offsets on load; it moves offsets only, never IDs)."""
    if isinstance(value, dict):
        return {k: _without(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_without(v, key) for v in value]
    return value


def provenance(tokenizer_fp: str, cfg: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The record written beside shards and checkpoints."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        qwenpair_version = version("qwenpair")
    except PackageNotFoundError:
        qwenpair_version = "unknown"
    return {
        "prompt_format_version": PROMPT_FORMAT_VERSION,
        "tokenizer_fingerprint": tokenizer_fp,
        "config": cfg,
        "config_fingerprint": fingerprint(cfg),
        "qwenpair_version": qwenpair_version,
        **extra,
    }


def check_prompt_format(found: int | None, where: str) -> None:
    if found != PROMPT_FORMAT_VERSION:
        raise MismatchError(
            f"{where} was made with prompt format version {found}, but this qwenpair writes version "
            f"{PROMPT_FORMAT_VERSION}: its samples do not match what the server sends. Rebuild it with this version."
        )


def check_tokenizer(expected: str, found: str | None, where: str, expected_from: str = "the Qwen2.5 tokenizer") -> None:
    if found != expected:
        raise MismatchError(
            f"{where} was made with a different tokenizer (fingerprint {found}) than {expected_from} "
            f"({expected}): token IDs would not mean the same. Rebuild it with the same tokenizer."
        )
