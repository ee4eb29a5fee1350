"""Chat and edit over LSP, end to end: a real ``qwenpair serve`` with the tiny model.

The tiny model has random weights, so what it says is meaningless; these tests check the
structure the editor relies on: ``qwenpair/chatDelta`` notifications that add up to the
answer, work-done progress begin/report/end on the client's token, exactly one response per
request, a random answer to an edit refused with a message (and nothing written), a document
changed during generation answered with ContentModified (-32801), and a cancelled edit with
RequestCancelled (-32800). A successful edit needs a model whose answer is known: a scripted
GGUF (tests/assistant/scripted_chat_model.py) answers it with a WorkspaceEdit.
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

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
LINES_0_2 = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}


@pytest.fixture
def served(tmp_path, tiny_model):
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CODE)
    wire = Wire(server_env(tmp_path))
    wire.initialize(root, {"model": str(tiny_model.gguf), "chat_model": str(tiny_model.gguf), "n_ctx": 2048,
                           "threads": 1, "chat": {"max_answer_tokens": 24}})
    uri = wire.open(root / "calc.py", version=1)
    wire.wait_ready()
    yield wire, root, uri
    wire.kill()


def execute(wire: Wire, command: str, args: dict, token: str | None = None) -> int:
    params: dict = {"command": command, "arguments": [args]}
    if token is not None:
        params["workDoneToken"] = token
    return wire.request("workspace/executeCommand", params)


def deltas(wire: Wire, stream: str) -> str:
    return "".join(n["text"] for n in wire.notifications("qwenpair/chatDelta") if n["streamId"] == stream)


def test_chat_streams_deltas_and_progress_then_answers_once(served):
    wire, _, uri = served
    asked = execute(wire, "qwenpair.chat", {
        "question": "What does add do?", "uri": uri, "range": LINES_0_2, "streamId": "s1",
        "diagnostics": [{"range": LINES_0_2, "message": "missing type hints", "severity": 2}]}, token="t1")
    reply = wire.response(asked)
    assert "error" not in reply, reply
    answer = reply["result"]
    assert set(answer) == {"text", "stop_reason", "warnings", "sent"}
    assert answer["stop_reason"] in ("eos", "length")
    assert answer["text"]
    wire.wait_for(lambda: deltas(wire, "s1") == answer["text"], timeout=10, what="the deltas to add up to the answer")
    def progress() -> list[str]:
        return [n["value"]["kind"] for n in wire.notifications("$/progress") if n["token"] == "t1"]

    wire.wait_for(lambda: "end" in progress(), what="the end of the work-done progress")
    assert progress()[0] == "begin" and progress()[-1] == "end" and "report" in progress()
    follow = wire.result("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "And sub?", "streamId": "s2",
         "history": [{"role": "user", "content": "What does add do?"}, {"role": "assistant", "content": answer["text"]}]}]})
    wire.wait_for(lambda: deltas(wire, "s2") == follow["text"], timeout=10, what="the deltas to add up to the answer")
    assert len(wire.responses(asked)) == 1


def test_edit_streams_then_refuses_an_answer_with_no_edit_and_writes_nothing(served):
    wire, root, uri = served
    asked = execute(wire, "qwenpair.edit", {"uri": uri, "range": LINES_0_2, "instruction": "add type hints",
                                             "version": 1, "streamId": "e1"})
    reply = wire.response(asked, timeout=120)
    assert reply["error"]["code"] == -32803  # RequestFailed, with what to do
    assert "ask again" in reply["error"]["message"]
    assert deltas(wire, "e1")  # the raw answer streamed while it was generated
    assert (root / "calc.py").read_text() == CODE
    assert len(wire.responses(asked)) == 1


def test_document_changed_during_an_edit_is_content_modified(served):
    wire, _, uri = served
    asked = execute(wire, "qwenpair.edit", {"uri": uri, "range": LINES_0_2, "instruction": "add type hints",
                                             "version": 1, "streamId": "e2"})
    wire.wait_for(lambda: deltas(wire, "e2"), what="the edit to start streaming")
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                           "contentChanges": [{"text": "# edited meanwhile\n" + CODE}]})
    reply = wire.response(asked, timeout=120)
    assert reply["error"]["code"] == -32801, reply
    assert len(wire.responses(asked)) == 1


def test_cancelled_edit_is_request_cancelled(served):
    wire, _, uri = served
    asked = execute(wire, "qwenpair.edit", {"uri": uri, "range": LINES_0_2, "instruction": "add type hints",
                                             "streamId": "e3"})
    wire.wait_for(lambda: deltas(wire, "e3"), what="the edit to start streaming")
    wire.notify("$/cancelRequest", {"id": asked})
    assert wire.response(asked, timeout=60)["error"]["code"] == -32800
    assert wire.result("workspace/executeCommand", {"command": "qwenpair.status"})["model_state"] != "loading"
    assert len(wire.responses(asked)) == 1


def test_edit_answers_a_workspace_edit_for_the_version_it_was_made_for(served, tiny_model):
    wire, root, uri = served
    scripted = scripted_gguf(tiny_model, "    return b + a")
    switched = wire.result("workspace/executeCommand", {"command": "qwenpair.switchModel",
                                                         "arguments": [{"chat_model": str(scripted)}]}, timeout=120)
    assert switched["chat_model"] == str(scripted)
    result = wire.result("workspace/executeCommand", {"command": "qwenpair.edit", "arguments": [{
        "uri": uri, "version": 1, "instruction": "swap the operands", "streamId": "e4",
        "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 16}}}]})
    assert set(result) == {"edit", "diff", "warnings"}
    change = result["edit"]["documentChanges"]
    assert change == [{"textDocument": {"uri": uri, "version": 1}, "edits": [{
        "range": {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}},
        "newText": "    return b + a\n"}]}]
    assert "-    return a + b\n+    return b + a\n" in result["diff"]
    wire.wait_for(lambda: deltas(wire, "e4") == "    return b + a", timeout=10, what="the streamed answer")
    assert (root / "calc.py").read_text() == CODE  # the client applies the edit, the server never writes
