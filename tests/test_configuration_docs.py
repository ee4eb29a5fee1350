"""docs/configuration.md's settings tables are the settings' own definitions.

Each table between ``<!-- settings table: MODULE.CLASS -->`` and ``<!-- end of settings
table -->`` must equal ``assistant.settings_convert.doc_table(CLASS)``: the key, type, default,
allowed values (the ``setting(...)`` bounds and choices) and the field's docstring. A new
field, a changed default or bound, or a table edited by hand fails here with a diff;
``QWENPAIR_UPDATE_GOLDEN=1`` rewrites the tables (tests/golden.py) and skips.
The parse check reads the tables back as a user would and compares them field by field, so
the generator itself cannot drift from the converter.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import re
import typing
from pathlib import Path

import pytest

from assistant import settings_convert
from tests.golden import rewrite, updating

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
BLOCK = re.compile(r"(<!-- settings table: ([\w.]+) -->\n)(.*?)(<!-- end of settings table -->)", re.S)
CLASSES = {"lsp_server.settings.ServerSettings", "assistant.config.EngineConfig", "assistant.chat_prompt.ChatConfig",
           "assistant.next_edit.NextEditConfig", "assistant.outcomes.StatsConfig"}


def _class(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _generated(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + settings_convert.doc_table(_class(m.group(2))) + m.group(4), text)


def test_the_tables_are_generated_from_the_settings():
    text = DOC.read_text(encoding="utf-8")
    assert {m.group(2) for m in BLOCK.finditer(text)} == CLASSES
    want = _generated(text)
    if want == text:
        return
    if updating():
        rewrite(DOC, want)
    diff = "".join(difflib.unified_diff(text.splitlines(True), want.splitlines(True), "docs/configuration.md", "generated"))
    pytest.fail(f"docs/configuration.md's settings tables differ from the settings (rewrite with "
                f"QWENPAIR_UPDATE_GOLDEN=1):\n{diff}")


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("dotted", sorted(CLASSES))
def test_each_documented_row_is_what_the_converter_does(dotted):
    """Read as a user would: every key is there once, its default parses back to the default,
    and a value just past a documented bound is refused with a message naming the key."""
    cls = _class(dotted)
    table = next(m.group(3) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m.group(2) == dotted)
    rows = _rows(table)
    hints = typing.get_type_hints(cls)
    scalar = [f for f in dataclasses.fields(cls) if not dataclasses.is_dataclass(hints[f.name])]
    assert sorted(rows) == sorted(f.name for f in scalar)
    for f in scalar:
        _key, kind, default, allowed, meaning = rows[f.name]
        documented = json.loads(default.strip("`"))
        parsed, messages = settings_convert.from_mapping(cls, {f.name: documented})
        assert messages == [] and getattr(parsed, f.name) == getattr(cls(), f.name), (f.name, default)
        assert meaning, f"{dotted}.{f.name} has no docstring"
        low = re.match(r"at least (-?[\d.]+)|(-?[\d.]+) to", allowed)
        if low:
            bound = float(low.group(1) or low.group(2))
            below = int(bound) - 1 if kind == "integer" else bound - 0.5
            _, messages = settings_convert.from_mapping(cls, {f.name: below})
            assert len(messages) == 1 and repr(f.name) in messages[0], (f.name, messages)
        high = re.search(r"(?:at most|to) (-?[\d.]+)$", allowed)
        if high:
            _, messages = settings_convert.from_mapping(cls, {f.name: float(high.group(1)) + 0.5})
            assert len(messages) == 1 and repr(f.name) in messages[0], (f.name, messages)
        if allowed.startswith("`"):
            _, messages = settings_convert.from_mapping(cls, {f.name: "none-of-these"})
            assert len(messages) == 1 and "expected one of" in messages[0]
