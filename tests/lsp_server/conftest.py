"""Fixtures for the language-server tests: a small workspace and a factory of real servers.

Every server is a real ``python -m qwenpair serve`` subprocess with the tiny test model
(random weights: it tends to repeat the last token, so " name" after "+ name" is a
completion it reliably writes). Generation is kept short so the tests stay fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsp_wire import Wire, server_env

# Under the bare `pytest` entry point the repository root is not on sys.path, and the
# folders tests/assistant, tests/model... would shadow the packages as namespace packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

#: Line 1 holds three emoji (two UTF-16 units, four UTF-8 bytes each) before the cursor.
EMOJI_TEXT = 'def greet(name):\n    banner = "🎉🎉 party 🎉" + name\n    return banner\n'
EMOJI_LINE = 1
EMOJI_COL = len('    banner = "🎉🎉 party 🎉" + name')  # 32 code points
EMOJI_UTF16 = EMOJI_COL + 3
EMOJI_UTF8 = EMOJI_COL + 3 * 3


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "greet.py").write_text(EMOJI_TEXT, encoding="utf-8")
    (root / "pkg" / "util.py").write_text("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n")
    (root / ".env").write_text("API_KEY=secret\n")
    return root


def fast_options(model: Path, **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "model": str(model), "chat_model": str(model), "n_ctx": 2048, "threads": 1, "calibrate": False,
        "engine": {"max_tokens_single": 8, "max_tokens_multi": 8},
        "chat": {"max_answer_tokens": 12},
    }
    options.update(extra)
    return options


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    """start(*args) -> a Wire to a fresh server (killed at the end if still running)."""
    started: list[Wire] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> Wire:
        wire = Wire(env or server_env(tmp_path), args)
        started.append(wire)
        return wire

    yield _start
    for wire in started:
        wire.kill()
