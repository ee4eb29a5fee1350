"""The bad-input list of the issue, over a real ``qwenpair serve``: the server survives
every one of them and keeps answering, and a client that disappears leaves no process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from conftest import EMOJI_LINE, EMOJI_TEXT, EMOJI_UTF16, fast_options


def _children(pid: int) -> set[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]


def _all_gone(pids: set[int], timeout: float = 15) -> list[int]:
    """The pids still alive after ``timeout`` (worker processes exit once their parent is gone)."""
    deadline = time.monotonic() + timeout
    while (alive := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _answers_again(wire, attempts: int = 6) -> None:
    """After bytes that desynchronised the stream, some later request is answered."""
    for _ in range(attempts):
        msg_id = wire.request("workspace/executeCommand", {"command": "qwenpair.status"})
        try:
            wire.response(msg_id, timeout=3)
            return
        except TimeoutError:
            continue
    raise AssertionError("the server stopped answering")


def _inline(wire, uri, line, character):
    return wire.call("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
        "line": line, "character": character}, "context": {"triggerKind": 1}})


def test_malformed_bytes_and_wrong_content_length(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.send_raw(b"this is not a header\r\n\r\n")
    wire.send_raw(b"Content-Length: 9\r\n\r\n{not json")
    wire.send_raw(b'Content-Length: 5\r\n\r\n[1,2]')
    wire.send_raw(b'Content-Length: 2\r\n\r\n\xff\xfe')
    wire.send_raw(b'Content-Length: 23\r\n\r\n{"jsonrpc": "2.0", "id"')
    _answers_again(wire)
    body = json.dumps({"jsonrpc": "2.0", "id": 9001, "method": "workspace/executeCommand",
                       "params": {"command": "qwenpair.status"}}).encode()
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)  # too short
    _answers_again(wire)
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) + 40) + body)  # too long: eats what follows
    _answers_again(wire)
    assert wire.status()["model_state"] in ("loading", "ready")
    assert wire.shutdown_and_exit() == 0


def test_unknown_methods_invalid_params_and_odd_positions(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    uri = wire.open(workspace / "pkg" / "greet.py")
    wire.wait_ready()
    assert wire.call("qwenpair/noSuchMethod", {})["error"]["code"] == -32601
    wire.notify("qwenpair/noSuchNotification", {"x": 1})
    assert wire.call("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": "here"})["error"]["code"] == -32602
    assert wire.call("textDocument/inlineCompletion", {"position": {"line": 0, "character": 0}})["error"]["code"] == -32602
    assert wire.call("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
        "line": -1, "character": 0}, "context": {"triggerKind": 1}})["error"]["code"] == -32602
    assert wire.call("textDocument/didOpen", {"textDocument": 5})["error"]["code"] == -32602
    wire.notify("textDocument/didChange", {"garbage": True})

    far = _inline(wire, uri, 10_000, 10_000)
    assert "error" not in far
    for item in far["result"]["items"]:  # clamped to the end of the document
        assert item["range"]["start"] == {"line": 3, "character": 0}
    inside_pair = _inline(wire, uri, EMOJI_LINE, 15)  # between the two UTF-16 units of the first emoji
    assert "error" not in inside_pair
    for item in inside_pair["result"]["items"]:
        assert item["range"]["start"] == {"line": EMOJI_LINE, "character": 14}
    untitled = "untitled:Untitled-1"
    wire.notify("textDocument/didOpen", {"textDocument": {"uri": untitled, "languageId": "python", "version": 1, "text": "x = 1"}})
    assert "error" not in _inline(wire, untitled, 0, 5)
    assert wire.shutdown_and_exit() == 0


def test_unopened_and_stale_changes_a_storm_and_deleted_files(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    path = workspace / "pkg" / "greet.py"
    uri = wire.open(path, version=5)
    wire.wait_ready()
    wire.notify("textDocument/didChange", {"textDocument": {"uri": (workspace / "nope.py").as_uri(), "version": 1},
                                           "contentChanges": [{"text": "x"}]})
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},  # older than 5: ignored
                                           "contentChanges": [{"text": EMOJI_TEXT.replace("+ name", "+ zz")}]})
    assert _inline(wire, uri, EMOJI_LINE, EMOJI_UTF16)["result"]["items"][0]["insertText"].startswith(" name")
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 6}, "contentChanges": [
        {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 9, "character": 99}}, "text": "x"}]})
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 7}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 5}, "end": {"line": 0, "character": 2}}, "text": "x"}]})

    # 1,000 didChange in one burst: type "abc" after "name" one character at a time and
    # delete it again, with a full-text resync every 100 messages. The last text is the original.
    frames = []
    version = 8
    for i in range(1000):
        if i % 100 == 99:
            change = {"text": EMOJI_TEXT}
        else:
            step = i % 100 % 6
            at = EMOJI_UTF16 + (step if step < 3 else 5 - step)
            change = ({"range": {"start": {"line": EMOJI_LINE, "character": at}, "end": {"line": EMOJI_LINE, "character": at}}, "text": "abc"[step]}
                      if step < 3 else
                      {"range": {"start": {"line": EMOJI_LINE, "character": at}, "end": {"line": EMOJI_LINE, "character": at + 1}}, "text": ""})
        body = json.dumps({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}}).encode()
        frames.append(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        version += 1
    started = time.monotonic()
    wire.send_raw(b"".join(frames))
    sent_s = time.monotonic() - started
    status = wire.status()
    assert status["open_documents"] == 1, status
    after = _inline(wire, uri, EMOJI_LINE, EMOJI_UTF16)["result"]["items"]
    assert after and after[0]["insertText"].startswith(" name"), (after, sent_s)

    gone = workspace / "pkg" / "util.py"
    gone.unlink()
    assert _inline(wire, gone.as_uri(), 0, 0)["result"] == {"items": []}
    chat = wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "?", "uri": gone.as_uri()}]})
    assert chat["error"]["code"] == -32803 and "util.py" in chat["error"]["message"]
    path.unlink()  # deleted on disk while open: the editor's text still counts
    assert _inline(wire, uri, EMOJI_LINE, EMOJI_UTF16)["result"]["items"]
    assert wire.shutdown_and_exit() == 0


def test_a_client_that_disappears_leaves_no_process(start, workspace, tiny_model):
    for i in range(60):  # enough files for the index to start its worker processes
        (workspace / "pkg" / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.open(workspace / "pkg" / "greet.py")
    wire.wait_ready()
    pid = wire.process.pid
    children = _children(pid)
    assert children, "the index workers run as child processes"
    wire.process.stdin.close()  # the editor crashed: its end of the pipe is gone
    assert wire.process.wait(30) == 1
    assert not _all_gone(children)


def test_the_server_exits_when_the_client_process_dies(start, workspace, tiny_model):
    editor = subprocess.Popen(["sleep", "120"])  # stands in for the editor named by processId
    try:
        wire = start()
        wire.result("initialize", {"processId": editor.pid, "capabilities": {},
                                   "initializationOptions": fast_options(tiny_model.gguf)})
        wire.notify("initialized", {})
        wire.wait_ready()
        children = _children(wire.process.pid)
    finally:
        editor.kill()
        editor.wait()
    assert wire.process.wait(30) == 1  # its stdin is still open: only the processId watch notices
    assert not _all_gone(children)
