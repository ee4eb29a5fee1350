"""pygls' request table does not grow with every message (issue 18, soak figure).

pygls 2.1 enters every notification, and every step of a generator handler, in its table of
running requests under a fresh uuid and never removes it: each didChange left a future
there, each completion or command step its task and result. A 30-minute soak grew 23 %
that way. A real ``qwenpair serve`` (the tiny model) runs under bench/soak.py's traced
wrapper, whose SIGUSR1 dump counts the table's entries once everything was answered.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.soak import Client, trace_point  # noqa: E402
from conftest import fast_options  # noqa: E402
from lsp_wire import server_env  # noqa: E402


def test_the_request_table_holds_only_running_requests(workspace, tiny_model, tmp_path):
    client = Client(server_env(tmp_path), tmp_path / "trace")
    (tmp_path / "trace").mkdir()
    try:
        init = client.call("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                          "capabilities": {"textDocument": {"inlineCompletion": {}}},
                                          "initializationOptions": fast_options(tiny_model.gguf)}, "initialize")
        assert init is not None and "error" not in init, init
        client.notify("initialized", {})
        uri = (workspace / "pkg" / "util.py").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": (workspace / "pkg" / "util.py").read_text()}})
        for version in range(2, 202):  # 200 edits: a space typed at the end of line 2
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
                {"range": {"start": {"line": 1, "character": 16 + version - 2}, "end": {"line": 1, "character": 16 + version - 2}},
                 "text": " "}]})
        for _ in range(5):
            assert client.call("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
                "line": 1, "character": 14}, "context": {"triggerKind": 1}}, "completion") is not None
            assert client.command("qwenpair.status") is not None
        dump = trace_point(client.process.pid, tmp_path / "trace", 1)
        assert dump["request_table"] <= 2, f"{dump['request_table']} entries left in pygls' request table"
        assert client.call("shutdown", None, "shutdown") is not None
        client.notify("exit", None)
        assert client.process.wait(60) == 0
    finally:
        if client.process.poll() is None:
            client.process.kill()
