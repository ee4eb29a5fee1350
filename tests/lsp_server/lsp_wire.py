"""A small LSP client for end-to-end tests: frames JSON-RPC by hand over a real process.

It records every message the server sends, so tests can check "exactly one response per
request", answers the server's own requests (progress tokens, configuration), and can send
raw bytes (malformed JSON, wrong Content-Length) that a library client never would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SERVE = [sys.executable, "-m", "qwenpair", "serve"]


def server_env(tmp: Path) -> dict[str, str]:
    """No user config file and no downloaded models: the tests see only what they pass."""
    models = tmp / "no-models"
    models.mkdir(exist_ok=True)
    return {**os.environ, "QWENPAIR_CONFIG": str(tmp / "config.toml"), "QWENPAIR_MODELS_DIR": str(models)}


class Wire:
    def __init__(self, env: dict[str, str], args: tuple[str, ...] = (), *, sock: socket.socket | None = None,
                 process: subprocess.Popen | None = None) -> None:
        if sock is None:
            self.process = subprocess.Popen([*SERVE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=env)
            self._out, self._in = self.process.stdin, self.process.stdout
        else:
            assert process is not None
            self.process = process
            self._out = sock.makefile("wb")
            self._in = sock.makefile("rb")
        self.messages: list[dict[str, Any]] = []
        self._cv = threading.Condition()
        self._next = 0
        self._write_lock = threading.Lock()
        self.closed = False
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        if sock is None:
            threading.Thread(target=self._drain_stderr, daemon=True).start()

    # -- transport -----------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):
            self.stderr += chunk

    def _read(self) -> None:
        while True:
            length = None
            while True:
                line = self._in.readline()
                if not line:
                    with self._cv:
                        self.closed = True
                        self._cv.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            assert length is not None, "a message without Content-Length"
            message = json.loads(self._in.read(length))
            if "method" in message and "id" in message:
                self._answer_server_request(message)
            with self._cv:
                self.messages.append(message)
                self._cv.notify_all()

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [None for _ in message["params"]["items"]]
        self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            self._out.write(data)
            self._out.flush()

    def send(self, obj: dict[str, Any]) -> None:
        body = json.dumps(obj).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    # -- JSON-RPC --------------------------------------------------------------------------
    def request(self, method: str, params: Any = None) -> int:
        self._next += 1
        self.send({"jsonrpc": "2.0", "id": self._next, "method": method, "params": params})
        return self._next

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def responses(self, msg_id: int) -> list[dict[str, Any]]:
        with self._cv:
            return [m for m in self.messages if m.get("id") == msg_id and "method" not in m]

    def response(self, msg_id: int, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                found = [m for m in self.messages if m.get("id") == msg_id and "method" not in m]
                if found:
                    return found[0]
                if self.closed:
                    raise EOFError(f"the server closed before answering {msg_id}; stderr:\n{self.stderr.decode()[-3000:]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no response to {msg_id}; stderr:\n{self.stderr.decode()[-3000:]}")
                self._cv.wait(left)

    def call(self, method: str, params: Any = None, timeout: float = 60) -> dict[str, Any]:
        return self.response(self.request(method, params), timeout)

    def result(self, method: str, params: Any = None, timeout: float = 60) -> Any:
        reply = self.call(method, params, timeout)
        assert "error" not in reply, reply
        return reply["result"]

    def notifications(self, method: str) -> list[dict[str, Any]]:
        with self._cv:
            return [m["params"] for m in self.messages if m.get("method") == method and "id" not in m]

    def wait_for(self, predicate, timeout: float = 60, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"{what} not reached; stderr:\n{self.stderr.decode()[-3000:]}")
                self._cv.wait(min(left, 0.5))

    # -- LSP helpers -------------------------------------------------------------------------
    def initialize(self, root: Path | None, options: dict[str, Any] | None = None,
                   capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
        caps = capabilities if capabilities is not None else default_capabilities()
        params: dict[str, Any] = {"processId": os.getpid(), "capabilities": caps, "initializationOptions": options}
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        result = self.result("initialize", params)
        self.notify("initialized", {})
        return result

    def status(self) -> dict[str, Any]:
        return self.result("workspace/executeCommand", {"command": "qwenpair.status"})

    def wait_ready(self, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["model_state"] != "loading" and status["index"]["state"] not in ("indexing",):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"server not ready: {status}")
            time.sleep(0.1)

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version,
            "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def inline(self, uri: str, line: int, character: int) -> int:
        return self.request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 2}})

    def shutdown_and_exit(self, timeout: float = 30) -> int:
        assert "error" not in self.call("shutdown")
        self.notify("exit")
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def default_capabilities(**extra: Any) -> dict[str, Any]:
    caps: dict[str, Any] = {
        "window": {"workDoneProgress": True},
        "textDocument": {"inlineCompletion": {}, "synchronization": {"didSave": True}},
        "workspace": {"workspaceFolders": True, "configuration": True},
    }
    caps.update(extra)
    return caps


def connect_tcp(host: str, port: int, process: subprocess.Popen, timeout: float = 30) -> Wire:
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            sock.settimeout(None)
            return Wire({}, sock=sock, process=process)
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.1)
