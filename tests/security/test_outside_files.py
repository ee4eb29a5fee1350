"""Finding 4 of issue 14: the language server reads no file outside the workspace folders.

Before the fix, ``qwenpair.chat`` with ``uri`` ``file:///etc/passwd``, or a ``../`` path out
of the workspace folder, read the file from disk and returned it in ``sent``. The rule now,
decided in one place (``repo_index.SourcePolicy``, the server's ``Roots.policy``): a
document the editor has open may be used (by its name and content rules); a file that is
not open is read from disk only inside a workspace folder and under every rule. These tests
start the real server as a subprocess and speak LSP to it (tests/lsp_server/lsp_wire.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from policy_repos import OUTSIDE_MARKER, project_code, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
from lsp_wire import Wire, server_env  # noqa: E402

PASSWD_LINE = "root:x:0:0"


def chat(wire: Wire, uri: str) -> dict:
    return wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "what is in this file?", "uri": uri}]})


def edit(wire: Wire, uri: str) -> dict:
    return wire.call("workspace/executeCommand", {"command": "qwenpair.edit", "arguments": [
        {"instruction": "add a comment", "uri": uri,
         "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}]})


@pytest.fixture
def layout(tmp_path: Path):
    root = write(tmp_path / "repo", project_code(2))
    outside = write(tmp_path / "outside", {"leak.py": f'TOKEN = "{OUTSIDE_MARKER}"\n'})
    return root, outside


def outside_uris(root: Path, outside: Path) -> list[str]:
    return [
        "file:///etc/passwd",
        root.as_uri() + "/../outside/leak.py",  # ../ out of the workspace folder
        (outside / "leak.py").as_uri(),
    ]


def test_unopened_files_outside_the_workspace_are_never_read(layout, tmp_path):
    """finding 4: chat and edit about an unopened file outside every workspace folder are
    refused with the reason, and nothing of the file reaches any message. No model is needed:
    the refusal comes before one would be asked."""
    root, outside = layout
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(root, {})
        for uri in outside_uris(root, outside):
            for reply in (chat(wire, uri), edit(wire, uri)):
                assert "error" in reply, (uri, reply)
                assert "outside every workspace folder" in reply["error"]["message"], reply
        # inside the folder, an unopened file passes the policy (and only then meets the
        # missing model): the refusal above is the policy's, not a blanket one
        reply = chat(wire, (root / "app" / "util.py").as_uri())
        assert "outside every workspace folder" not in json.dumps(reply)
        assert "chat is unavailable" in reply["error"]["message"], reply
        everything = json.dumps(wire.messages)
        assert PASSWD_LINE not in everything and OUTSIDE_MARKER not in everything
    finally:
        wire.kill()


@pytest.mark.slow
def test_open_documents_may_be_used_and_disk_outside_never(layout, tmp_path, tiny_model):
    """finding 4: with a chat model loaded, an unopened outside file is still refused and
    returns no ``sent``; a file inside the folder is read from disk; a document the editor
    has open is used even outside the folder (the editor handed it over)."""
    root, outside = layout
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(root, {"model": str(tiny_model.gguf), "chat_model": str(tiny_model.gguf), "n_ctx": 2048,
                               "threads": 1, "chat": {"max_answer_tokens": 8}})
        wire.wait_ready()
        for uri in outside_uris(root, outside):
            reply = chat(wire, uri)
            assert "error" in reply and "outside every workspace folder" in reply["error"]["message"], reply
            assert "result" not in reply
        inside = chat(wire, (root / "app" / "util.py").as_uri())
        assert "def scale" in inside["result"]["sent"]
        opened = wire.open(outside / "leak.py", text='OPENED = "visible because the editor has it open"\n')
        used = chat(wire, opened)
        assert "visible because the editor has it open" in used["result"]["sent"]
        everything = json.dumps(wire.messages)
        assert PASSWD_LINE not in everything and OUTSIDE_MARKER not in everything
    finally:
        wire.kill()
