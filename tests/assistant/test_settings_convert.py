"""The one settings converter (``assistant.settings_convert``): types, bounds, choices, messages.

Each test is a finding about the converters it replaced: ``IndexConfig.from_mapping`` took
``bool("false")`` as True, cattrs's own hooks take ``int(2.7)`` as 2, and the server's
``_coerce`` switched on field names, so a new field was refused as "unsupported".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from assistant.chat_prompt import ChatConfig
from assistant.config import EngineConfig
from assistant.settings_convert import from_mapping, setting
from lsp_server import settings


@dataclass(frozen=True)
class Inner:
    depth: int = setting(3, min=1, max=9)
    """A bounded integer."""


@dataclass(frozen=True)
class Brand:
    """Fields no converter code names: they are converted by their types and metadata alone."""

    enabled: bool = True
    ratio: float = setting(0.5, min=0, max=1)
    label: str = setting("x", nonempty=True)
    path: str | None = None
    mode: str = setting("fast", choices=("fast", "slow"))
    inner: Inner = field(default_factory=Inner)


def test_a_new_field_is_converted_by_its_type_not_its_name():
    cfg, messages = from_mapping(Brand, {"enabled": "false", "ratio": "0.25", "label": "  y ", "path": "/p",
                                         "mode": "SLOW", "inner": {"depth": "4"}})
    assert messages == []
    assert cfg == Brand(enabled=False, ratio=0.25, label="y", path="/p", mode="slow", inner=Inner(depth=4))


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("enabled", "maybe", "expected true or false"),
    ("enabled", 1, "expected true or false"),
    ("ratio", "nan", "expected a number"),
    ("ratio", float("inf"), "expected a number"),
    ("ratio", True, "expected a number"),
    ("ratio", 1.5, "must be at most 1"),
    ("ratio", -0.1, "must not be negative"),
    ("label", "   ", "expected a non-empty string"),
    ("label", 3, "expected a non-empty string"),
    ("path", 3, "expected a string or null"),
    ("mode", "medium", "expected one of fast, slow"),
])
def test_each_invalid_value_keeps_its_default_with_the_reason(key, value, reason):
    cfg, messages = from_mapping(Brand, {key: value})
    assert cfg == Brand()
    assert messages == [f"setting {key!r} = {value!r} is invalid ({reason}); using {getattr(Brand(), key)!r}"]


def test_false_is_false_and_fractions_are_not_integers():
    """The bugs of the old converters and of cattrs's own hooks."""
    cfg, messages = from_mapping(EngineConfig, {"speculative": "false", "naive_layout": "no"})
    assert (cfg.speculative, cfg.naive_layout, messages) == (False, False, [])
    cfg, messages = from_mapping(EngineConfig, {"candidates": 2.7, "max_snippets": True})
    assert (cfg.candidates, cfg.max_snippets) == (EngineConfig().candidates, EngineConfig().max_snippets)
    assert [m.split(" = ")[0] for m in messages] == ["setting 'candidates'", "setting 'max_snippets'"]
    assert all("expected an integer" in m for m in messages)


def test_null_and_empty_mean_none_for_an_optional_field():
    for value in (None, ""):
        cfg, messages = from_mapping(Brand, {"path": value})
        assert cfg.path is None and messages == []


def test_nested_tables_prefix_their_messages_and_a_non_table_falls_back():
    cfg, messages = from_mapping(Brand, {"inner": {"depth": 0, "width": 2}})
    assert cfg.inner == Inner()
    assert messages == ["inner: setting 'depth' = 0 is invalid (must be at least 1); using 3",
                        "inner: unknown setting 'width' ignored"]
    cfg, messages = from_mapping(Brand, {"inner": 5})
    assert messages == ["setting 'inner' must be a table of inner settings; using defaults"]


def test_keys_may_use_dashes_and_the_message_names_the_key_as_written():
    cfg, messages = from_mapping(ChatConfig, {"max-answer-tokens": "64", "history-tokens": -1})
    assert cfg.max_answer_tokens == 64 and cfg.history_tokens == ChatConfig().history_tokens
    assert messages == ["setting 'history-tokens' = -1 is invalid (must not be negative); using 1536"]


def test_the_documented_message_and_the_server_fields():
    """docs/configuration.md's example, word for word, and the server's own rules."""
    parsed, messages = settings.parse({"threads": "many", "n_ctx": 255, "gpu_layers": -1, "adapter": "",
                                       "log_level": "DEBUG", "model": " m.gguf ", "watch": "false"})
    assert messages == ["setting 'threads' = 'many' is invalid (expected an integer); using 0",
                        "setting 'n_ctx' = 255 is invalid (must be at least 256); using 4096"]
    assert (parsed.gpu_layers, parsed.adapter, parsed.log_level, parsed.model, parsed.watch) == \
        (-1, None, "debug", "m.gguf", False)
    _, messages = settings.parse({"model": "", "adapter": 7, "engine": {"repo_context_share": 2}})
    assert messages == ["setting 'model' = '' is invalid (expected a model name or path); using 'auto'",
                        "setting 'adapter' = 7 is invalid (expected a path or null); using None",
                        "engine: setting 'repo_context_share' = 2 is invalid (must be at most 1); using 0.5"]
