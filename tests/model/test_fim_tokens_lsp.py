"""A real ``qwenpair serve`` given a model whose vocabulary lacks the FIM tokens (issue 22):
the completion is answered (empty), the user is told once which tokens are missing, and the
server lives on and still chats."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.model.vocab_variants import build_variant

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
from lsp_wire import Wire, server_env  # noqa: E402

pytestmark = pytest.mark.slow

DOCUMENT = "def add(a, b):\n    return a + b\n"


def test_serve_refuses_completion_on_a_model_without_fim_tokens_naming_them(tiny_model, tmp_path):
    model, _ = build_variant(tiny_model, "no_fim", tmp_path / "variants")
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text(DOCUMENT)
    options = {"model": str(model), "chat_model": str(model), "n_ctx": 2048, "threads": 1, "calibrate": False,
               "engine": {"max_tokens_single": 8, "max_tokens_multi": 8}, "chat": {"max_answer_tokens": 8}}
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(project, options)
        uri = wire.open(project / "calc.py")
        assert wire.wait_ready()["model_state"] == "ready"

        def inline(line: int, character: int) -> dict:
            return wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
                "line": line, "character": character}, "context": {"triggerKind": 1}}, timeout=60)

        assert inline(1, len("    return a + b")) == {"items": []}
        wire.wait_for(lambda: any("fill-in-the-middle" in m["message"] for m in wire.notifications("window/showMessage")),
                      timeout=20, what="a message naming the missing FIM tokens")
        (shown,) = [m for m in wire.notifications("window/showMessage") if "fill-in-the-middle" in m["message"]]
        assert "<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>" in shown["message"] and shown["type"] == 1
        assert inline(0, len("def add(a, b):")) == {"items": []}  # said once, not at every keystroke
        assert len([m for m in wire.notifications("window/showMessage") if "fill-in-the-middle" in m["message"]]) == 1
        assert wire.process.poll() is None and wire.status()["model_state"] == "ready"
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()


def test_serve_says_once_that_a_model_without_file_sep_gets_file_level_prompts(tiny_model, tmp_path):
    """Completions still come (file-level), and one warning says why there is no cross-file context."""
    model, _ = build_variant(tiny_model, "no_file_sep", tmp_path / "variants")
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text(DOCUMENT)
    (project / "use.py").write_text("from calc import add\n\nprint(add(1, 2))\n")
    options = {"model": str(model), "chat_model": str(model), "n_ctx": 2048, "threads": 1, "calibrate": False,
               "engine": {"max_tokens_single": 4, "max_tokens_multi": 4}}
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(project, options)
        uri = wire.open(project / "use.py")
        assert wire.wait_ready()["model_state"] == "ready"

        def inline(line: int, character: int):
            return wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
                "line": line, "character": character}, "context": {"triggerKind": 1}}, timeout=60)

        def said() -> list[dict]:
            return [m for m in wire.notifications("window/showMessage") if "lacks <|file_sep|>" in m["message"]]

        assert "items" in inline(2, len("print(add(1, 2))"))
        wire.wait_for(lambda: said(), timeout=20, what="a message saying prompts are file-level")
        (shown,) = said()
        assert shown["type"] == 2 and "file-level FIM" in shown["message"] and shown["message"].startswith("qwenpair: ")
        assert "items" in inline(0, len("from calc import add"))
        assert len(said()) == 1  # once, not at every keystroke
        assert wire.process.poll() is None
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()
