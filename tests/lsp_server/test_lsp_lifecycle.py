"""Lifecycle over a real ``qwenpair serve``: exit codes, -32002, position encoding, TCP."""

from __future__ import annotations

import socket
import subprocess

from conftest import EMOJI_COL, EMOJI_LINE, EMOJI_UTF8, EMOJI_UTF16, fast_options
from lsp_wire import SERVE, connect_tcp, default_capabilities, server_env


def test_request_before_initialize_is_refused_then_shutdown_exit_gives_0(start, workspace, tiny_model):
    wire = start()
    early = wire.call("textDocument/hover", {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}})
    assert early["error"]["code"] == -32002
    result = wire.initialize(workspace, fast_options(tiny_model.gguf))
    assert result["capabilities"]["positionEncoding"] == "utf-16"
    assert "inlineCompletionProvider" in result["capabilities"]
    assert set(result["capabilities"]["executeCommandProvider"]["commands"]) >= {
        "qwenpair.status", "qwenpair.reindex", "qwenpair.switchModel", "qwenpair.chat", "qwenpair.edit"}
    again = wire.call("initialize", {"processId": None, "capabilities": {}})
    assert again["error"]["code"] == -32600
    assert wire.shutdown_and_exit() == 0
    assert len(wire.responses(1)) == 1


def test_exit_without_shutdown_gives_1_and_requests_after_shutdown_are_refused(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.notify("exit")
    assert wire.process.wait(30) == 1

    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    assert "error" not in wire.call("shutdown")
    late = wire.call("workspace/executeCommand", {"command": "qwenpair.status"})
    assert late["error"]["code"] == -32600
    wire.notify("exit")
    assert wire.process.wait(30) == 0


def _completion_range(wire, workspace, character):
    uri = wire.open(workspace / "pkg" / "greet.py")
    wire.wait_ready()
    result = wire.result("textDocument/inlineCompletion", {
        "textDocument": {"uri": uri}, "position": {"line": EMOJI_LINE, "character": character},
        "context": {"triggerKind": 1}})
    assert result["items"], "the tiny model repeats ' name' here"
    item = result["items"][0]
    assert item["insertText"].startswith(" name")
    return item["range"]


def test_utf16_positions_on_an_emoji_line(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    where = {"line": EMOJI_LINE, "character": EMOJI_UTF16}
    assert _completion_range(wire, workspace, EMOJI_UTF16) == {"start": where, "end": where}
    assert wire.status()["position_encoding"] == "utf-16"
    assert wire.shutdown_and_exit() == 0


def test_utf8_is_chosen_when_the_client_offers_it(start, workspace, tiny_model):
    wire = start()
    caps = default_capabilities(general={"positionEncodings": ["utf-16", "utf-8"]})
    result = wire.initialize(workspace, fast_options(tiny_model.gguf), caps)
    assert result["capabilities"]["positionEncoding"] == "utf-8"
    where = {"line": EMOJI_LINE, "character": EMOJI_UTF8}
    assert _completion_range(wire, workspace, EMOJI_UTF8) == {"start": where, "end": where}
    assert EMOJI_UTF8 != EMOJI_UTF16 != EMOJI_COL
    assert wire.shutdown_and_exit() == 0


def test_tcp_transport(workspace, tiny_model, tmp_path):
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = tmp_path / "tcp.token"  # a TCP client must present it (docs/lsp.md, TCP)
    process = subprocess.Popen([*SERVE, "--tcp", f"127.0.0.1:{port}", "--token-file", str(token_file)],
                               env=server_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wire = connect_tcp("127.0.0.1", port, process)
        wire.initialize(workspace, fast_options(tiny_model.gguf, token=token_file.read_text().strip()))
        assert wire.status()["position_encoding"] == "utf-16"
        assert wire.shutdown_and_exit() == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_bad_tcp_address_is_a_clear_error():
    out = subprocess.run([*SERVE, "--tcp", "nowhere"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "HOST:PORT" in out.stderr
