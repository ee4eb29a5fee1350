"""Chat and edit over LSP in a document over the 4 MB cap (issue 18 finding 3): a real
``qwenpair serve``; the edit's model is a scripted GGUF whose answer is known
(tests/assistant/scripted_chat_model.py).

The server hands the engine the selection and the lines around it, not the whole text: the
answers carry the warning naming the lines used, the chat's sent context is the window's
size, and the edit's WorkspaceEdit range and diff are on the document's own line numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))  # the shared test client
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from lsp_wire import Wire, server_env  # noqa: E402
from scripted_chat_model import scripted_gguf  # noqa: E402

pytestmark = pytest.mark.slow

FILLER = "value_{} = compute(alpha, beta) + 12345  # a long generated file\n"
N = 40_000  # lines before and after: 5.3 MB in all


def test_chat_and_edit_in_a_large_document_use_a_window_and_land_on_its_lines(tmp_path, tiny_model):
    root = tmp_path / "project"
    root.mkdir()
    text = ("".join(FILLER.format(i) for i in range(N)) + "def add(a, b):\n    return a + b\n"
            + "".join(FILLER.format(i) for i in range(N, 2 * N)))
    assert len(text) > 4_000_000
    scripted = scripted_gguf(tiny_model, "    return b + a")
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(root, {"model": str(tiny_model.gguf), "chat_model": str(scripted), "n_ctx": 2048,
                               "threads": 1, "chat": {"max_answer_tokens": 24}})
        uri = wire.open(root / "big.py", text=text, version=1)
        wire.wait_ready()
        selection = {"start": {"line": N + 1, "character": 4}, "end": {"line": N + 1, "character": 16}}

        chat = wire.result("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
            {"question": "What does add do?", "uri": uri, "range": selection}]}, timeout=120)
        assert "    return a + b" in chat["sent"] and len(chat["sent"]) < 200_000
        assert any(f"only its lines {N + 2 - 400}-{N + 2 + 400} were used" in w for w in chat["warnings"]), chat["warnings"]

        result = wire.result("workspace/executeCommand", {"command": "qwenpair.edit", "arguments": [{
            "uri": uri, "version": 1, "instruction": "swap the operands", "range": selection}]}, timeout=120)
        assert result["edit"]["documentChanges"] == [{"textDocument": {"uri": uri, "version": 1}, "edits": [{
            "range": {"start": {"line": N + 1, "character": 0}, "end": {"line": N + 2, "character": 0}},
            "newText": "    return b + a\n"}]}]
        assert f"@@ -{N - 1},7 +{N - 1},7 @@" in result["diff"]
        assert "-    return a + b\n+    return b + a\n" in result["diff"]
        assert any("over the 4 MB cap" in w for w in result["warnings"])
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()
