"""Finding 6 of issue 14 (TCP mode is an open door), against a real ``qwenpair serve --tcp``.

Each test starts the real server as a subprocess and speaks LSP over a real socket
(``tests/lsp_server/lsp_wire.py``). Only loopback addresses are bound or connected to: the
one non-loopback case is refused before anything listens, and the warning that
``--allow-remote`` prints is checked on the function that decides it, without binding.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
from lsp_wire import SERVE, Wire, default_capabilities, server_env  # noqa: E402

from lsp_server import transport  # noqa: E402

LISTENING = re.compile(r"listening on (\[[^\]]+\]|[^:\s]+):(\d+)")
TOKEN_FILE = re.compile(r"token file (.+?) \(mode 0600\)")


def _options(tmp: Path, **extra: Any) -> dict[str, Any]:
    """No model: admission and routing do not depend on one (a missing file fails fast and
    offline; every request is still answered, chat with "chat is unavailable")."""
    missing = str(tmp / "no-such-model.gguf")
    return {"model": missing, "chat_model": missing, "calibrate": False, **extra}


class TcpServer:
    """A real ``qwenpair serve --tcp`` whose stderr is read line by line."""

    def __init__(self, tmp: Path, address: str = "127.0.0.1:0", *args: str) -> None:
        self.env = {**server_env(tmp), "QWENPAIR_CACHE_DIR": str(tmp / "cache")}
        self.process = subprocess.Popen([*SERVE, "--tcp", address, *args], env=self.env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self._cv:
                self.lines.append(line)
                self._cv.notify_all()
        with self._cv:
            self.lines.append("")  # EOF marker
            self._cv.notify_all()

    def wait_line(self, pattern: re.Pattern, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines:
                    found = pattern.search(line)
                    if found:
                        return found
                if "" in self.lines or time.monotonic() > deadline:
                    raise AssertionError(f"no {pattern.pattern!r} on stderr: {''.join(self.lines)[-3000:]}")
                self._cv.wait(0.5)

    @property
    def port(self) -> int:
        return int(self.wait_line(LISTENING).group(2))

    @property
    def token_file(self) -> Path:
        return Path(self.wait_line(TOKEN_FILE).group(1))

    @property
    def token(self) -> str:
        return self.token_file.read_text().strip()

    def connect(self, host: str = "127.0.0.1") -> Wire:
        sock = socket.create_connection((host, self.port), timeout=10)
        sock.settimeout(None)
        return Wire({}, sock=sock, process=self.process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def servers(tmp_path):
    started: list[TcpServer] = []

    def _start(address: str = "127.0.0.1:0", *args: str, tmp: Path | None = None) -> TcpServer:
        server = TcpServer(tmp or tmp_path, address, *args)
        started.append(server)
        return server

    yield _start
    for server in started:
        server.stop()


def _initialize(wire: Wire, options: dict[str, Any] | None) -> dict[str, Any]:
    return wire.call("initialize", {"processId": None, "capabilities": default_capabilities(),
                                    "initializationOptions": options})


def _wait_closed(wire: Wire, timeout: float = 30) -> None:
    wire.wait_for(lambda: wire.closed, timeout, "the server closing the connection") if not wire.closed else None


def _closed_soon(wire: Wire, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not wire.closed and time.monotonic() < deadline:
        time.sleep(0.1)
    return wire.closed


def test_non_loopback_bind_is_refused_without_allow_remote(tmp_path):
    """Finding 6: 0.0.0.0 is refused with a message naming --allow-remote, and nothing listens."""
    env = {**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([*SERVE, "--tcp", "0.0.0.0:0"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2, out.stderr
    assert "--allow-remote" in out.stderr and "loopback" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "cache" / "run").exists() or not any((tmp_path / "cache" / "run").iterdir())


def test_allow_remote_is_needed_and_warns_for_every_non_loopback_address():
    """Finding 6: the bind rule itself (no socket is opened): loopback passes silently, any
    other address is refused without the flag and warned about with it."""
    for host in ("127.0.0.1", "localhost", "[::1]", "127.0.0.5"):
        assert transport.check_address(host, allow_remote=False) == []
    for host in ("0.0.0.0", "[::]"):
        with pytest.raises(transport.ListenError, match="--allow-remote"):
            transport.check_address(host, allow_remote=False)
        warnings = transport.check_address(host, allow_remote=True)
        assert warnings and "WARNING" in warnings[0] and "not encrypted" in warnings[0]


def test_client_without_the_token_or_with_a_wrong_one_gets_nothing(servers, tmp_path):
    """Finding 6: no token, a wrong token, or a first message that is not initialize: one
    error saying why, then the connection is closed; the server keeps listening."""
    server = servers()
    for options in (None, {}, {"token": "not-the-token"}, {"token": 12345}):
        wire = server.connect()
        reply = _initialize(wire, options)
        assert reply.get("error", {}).get("code") == transport.UNAUTHORIZED, reply
        assert "token" in reply["error"]["message"]
        assert _closed_soon(wire), "a refused client must be disconnected"
        assert wire.messages == [reply], "a refused client gets the refusal and nothing else"
    wire = server.connect()
    wire.notify("initialized", {})
    assert _closed_soon(wire)
    assert [m.get("method") for m in wire.messages] == ["window/showMessage"]
    assert "token" in wire.messages[0]["params"]["message"]
    assert server.process.poll() is None, "refusing a client must not end the server"
    good = server.connect()
    assert "capabilities" in _initialize(good, _options(tmp_path, token=server.token))["result"]


def test_client_with_the_token_is_served_and_the_token_is_not_a_setting(servers, tmp_path):
    """Finding 6: the token in initializationOptions admits the client; it is removed before
    the settings see it (no "unknown setting" warning); requests are answered; exit code 0."""
    server = servers()
    wire = server.connect()
    result = _initialize(wire, _options(tmp_path, token=server.token))["result"]
    assert "executeCommandProvider" in result["capabilities"]
    wire.notify("initialized", {})
    status = wire.result("workspace/executeCommand", {"command": "qwenpair.status"})
    assert status["position_encoding"] == "utf-16"
    # The settings never saw it: no message names the setting (a temporary path in another
    # message may contain this test's name, so look for the setting's own spelling).
    assert not [m for m in wire.notifications("window/showMessage") if "'token'" in m["message"]]
    assert wire.shutdown_and_exit() == 0


def test_token_accepted_as_a_first_authenticate_message(servers, tmp_path):
    """Finding 6: the token may come first as qwenpair/authenticate, then a plain initialize."""
    server = servers()
    wire = server.connect()
    assert wire.call("qwenpair/authenticate", {"token": server.token}) == {"jsonrpc": "2.0", "id": 1, "result": None}
    assert "capabilities" in _initialize(wire, _options(tmp_path))["result"]
    assert wire.shutdown_and_exit() == 0


def test_second_connection_is_refused_and_never_sees_the_first_clients_answers(servers, tmp_path):
    """Finding 6: a second client, even with the right token, while one is served: a
    message saying one client at a time, then closed; it receives none of the first
    client's responses (before: all of them, the first client's chat answer included),
    and the first client keeps working."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("def add(a, b):\n    return a + b\n")
    server = servers()
    first = server.connect()
    params = {"processId": None, "capabilities": default_capabilities(), "rootUri": project.as_uri(),
              "workspaceFolders": [{"uri": project.as_uri(), "name": "project"}],
              "initializationOptions": _options(tmp_path, token=server.token)}
    assert "result" in first.call("initialize", params)
    first.notify("initialized", {})
    first.wait_ready()
    second = server.connect()
    try:
        second.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "capabilities": {}, "initializationOptions": {"token": server.token}}})
    except OSError:
        pass  # already closed by the server: what this test wants
    first.open(project / "app.py")
    asked = first.request("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "what does add do?"}]})
    answer = first.response(asked, timeout=60)
    assert "chat is unavailable" in answer["error"]["message"], answer
    assert first.status()["open_documents"] == 1
    assert _closed_soon(second), "the second client must be disconnected"
    assert len(second.messages) == 1, second.messages
    refusal = second.messages[0]
    assert refusal.get("method") == "window/showMessage" and "one client at a time" in refusal["params"]["message"]
    assert str(project) not in json.dumps(second.messages)
    assert first.shutdown_and_exit() == 0


def test_token_file_is_0600_fresh_per_start_and_removed_at_exit(servers, tmp_path):
    """Finding 6: the token is written to a 0600 file (in a 0700 directory by default), is
    new at each start, goes where --token-file says (replacing, not following, a link
    there), and is removed when the server exits, after a client or on SIGTERM."""
    server = servers()
    path = server.token_file
    assert path.parent == tmp_path / "cache" / "run"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    first_token = server.token
    assert len(first_token) >= 32
    wire = server.connect()
    _initialize(wire, _options(tmp_path, token=first_token))
    assert wire.shutdown_and_exit() == 0
    assert not path.exists(), "the token file outlives the server"

    chosen = tmp_path / "elsewhere" / "my.token"
    chosen.parent.mkdir()
    os.symlink(tmp_path / "planted-target", chosen)  # a planted link is replaced, not followed
    other = servers("127.0.0.1:0", "--token-file", str(chosen))
    assert other.token_file == chosen
    assert stat.S_IMODE(chosen.lstat().st_mode) == 0o600 and not chosen.is_symlink()
    assert not (tmp_path / "planted-target").exists()
    assert other.token != first_token
    other.process.terminate()  # SIGTERM, as a service manager stops it
    assert other.process.wait(30) == 1
    assert not chosen.exists() and not chosen.is_symlink()


def test_ipv6_loopback_literal_works_or_says_why(servers, tmp_path):
    """Finding 6: `[::1]:P` was a traceback; it listens where IPv6 exists, else one clear line."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        has_ipv6 = True
    except OSError:
        has_ipv6 = False
    server = servers("[::1]:0")
    if has_ipv6:
        assert server.wait_line(LISTENING).group(1) == "[::1]"
        wire = server.connect("::1")
        assert "result" in _initialize(wire, _options(tmp_path, token=server.token))
        assert wire.shutdown_and_exit() == 0
    else:
        assert server.process.wait(60) == 2
        text = "".join(server.lines)
        assert "cannot listen on [::1]" in text and "Traceback" not in text


def test_port_in_use_is_a_clear_error(tmp_path):
    """Finding 6: a port already in use is one line saying so, exit code 2, no traceback."""
    env = {**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(tmp_path / "cache")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([*SERVE, "--tcp", f"127.0.0.1:{port}"], capture_output=True, text=True,
                             timeout=60, env=env)
    assert out.returncode == 2, out.stderr
    assert "already in use" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("address, expected", [
    ("::1:2087", "brackets"), ("[::1:2087", "HOST:PORT"), ("127.0.0.1:70000", "HOST:PORT"), (":2087", "HOST:PORT")])
def test_bad_addresses_are_clear_errors(address, expected):
    """Finding 6: address forms that used to reach the socket layer get a usage message."""
    out = subprocess.run([*SERVE, "--tcp", address], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and expected in out.stderr and "Traceback" not in out.stderr
