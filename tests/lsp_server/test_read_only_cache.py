"""A real ``qwenpair serve`` whose cache directory (QWENPAIR_CACHE_DIR) is read-only (issue 18
fault matrix: "read-only cache directory").

The index cannot be written there, so the server must still start, answer completions (with
file-level context from the open document) and chats, tell the user once why the workspace
has no index and what to do, and shut down cleanly: no crash, no traceback as the message.
The read-only directory is a read-only bind mount (as root, chmod does not stop writes);
without root it is chmod 0555.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import fast_options
from lsp_wire import server_env
from tests.read_only import read_only_view


@pytest.fixture()
def read_only_cache(tmp_path):
    """A read-only directory holding the Qwen2 vocabulary (the server only reads it)."""
    from model.paths import vocab_dir

    src = tmp_path / "cache-src"
    src.mkdir()
    if vocab_dir().is_dir():
        shutil.copytree(vocab_dir(), src / "vocab")
    with read_only_view(src, tmp_path / "cache") as path:
        yield path


def test_a_server_with_a_read_only_cache_serves_and_says_why_there_is_no_index(
        start, workspace, tiny_model, tmp_path, read_only_cache):
    wire = start(env={**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(read_only_cache)})
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    status = wire.wait_ready()
    assert status["model_state"] == "ready"

    uri = wire.open(workspace / "pkg" / "util.py")
    result = wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri},
                         "position": {"line": 1, "character": 14}, "context": {"triggerKind": 1}}, timeout=120)
    assert isinstance(result, dict) and "items" in result  # answered, not an error
    chat = wire.result("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "What does add do?", "uri": uri}]}, timeout=120)
    assert isinstance(chat["text"], str)

    shown = [m["message"] for m in wire.notifications("window/showMessage")]
    about = [m for m in shown if str(read_only_cache) in m]
    assert about, f"no message names the read-only cache directory: {shown}"
    assert any("QWENPAIR_CACHE_DIR" in m for m in about) and not any("Traceback" in m for m in shown)
    assert wire.process.poll() is None
    assert wire.shutdown_and_exit() == 0
    assert list(read_only_cache.iterdir()) == [read_only_cache / "vocab"] or not read_only_cache.exists()
