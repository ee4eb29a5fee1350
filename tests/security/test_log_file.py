"""Finding 7 of issue 14 (`log_file` from the client), against a real ``qwenpair serve``.

The log path is the server's setting (config file, ``serve --log-file``); a client that
sends one is told it is ignored and nothing is created. Log records stay one per line
whatever a client puts in a method name. Servers are real subprocesses speaking LSP over
stdio (``tests/lsp_server/lsp_wire.py``).
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
from lsp_wire import Wire, server_env  # noqa: E402

from lsp_server.logs import SafeFormatter  # noqa: E402

#: Every line at column 0 in the log starts a record with its time stamp.
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
INJECTED = "2026-01-01 00:00:00,000 ERROR lsp_server: INJECTED by the client"


def _options(tmp: Path, **extra: Any) -> dict[str, Any]:
    """No model: logging does not depend on one (a missing file fails fast and offline)."""
    missing = str(tmp / "no-such-model.gguf")
    return {"model": missing, "chat_model": missing, "calibrate": False, **extra}


@pytest.fixture
def start(tmp_path):
    started: list[Wire] = []

    def _start(*args: str, config: str | None = None) -> Wire:
        env = {**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(tmp_path / "cache")}
        if config is not None:
            Path(env["QWENPAIR_CONFIG"]).write_text(config)
        wire = Wire(env, args)
        started.append(wire)
        return wire

    yield _start
    for wire in started:
        wire.kill()


def _warnings_about_log_file(wire: Wire) -> list[str]:
    # the server's own wording (lsp_server/settings.py): a message that merely names a path
    # under this test's folder (test_log_file_...) is not one (CI once matched a missing model)
    return [m["message"] for m in wire.notifications("window/showMessage")
            if "the log file is a server-side setting" in m["message"]]


def test_log_file_from_the_client_is_ignored_visibly_and_creates_nothing(start, tmp_path):
    """Finding 7: log_file in initializationOptions or didChangeConfiguration creates no
    directory or file; each is reported (window/showMessage) and the log stays put."""
    target = tmp_path / "x" / "y.log"
    other = tmp_path / "z" / "w.log"
    wire = start()
    wire.initialize(None, _options(tmp_path, log_file=str(target)))
    wire.wait_for(lambda: _warnings_about_log_file(wire), 30, "a warning about log_file")
    default = tmp_path / "cache" / "logs" / "server.log"
    assert wire.status()["log_file"] == str(default)
    wire.notify("workspace/didChangeConfiguration", {"settings": {"qwenpair": {"log_file": str(other)}}})
    wire.notify("workspace/didChangeConfiguration", {"settings": {"log-file": str(other), "log_level": "debug"}})
    wire.wait_for(lambda: len(_warnings_about_log_file(wire)) >= 3, 30, "a warning per client log_file")
    assert "server-side" in _warnings_about_log_file(wire)[-1]
    assert wire.status()["log_file"] == str(default)
    assert wire.shutdown_and_exit() == 0
    assert not target.parent.exists() and not other.parent.exists()
    assert default.exists()


def test_log_file_comes_from_the_config_file_or_the_command_line(start, tmp_path):
    """Finding 7: the server-side sources still work: the config file, and --log-file,
    which wins over it."""
    from_config = tmp_path / "config-log" / "server.log"
    wire = start(config=f'log_file = "{from_config}"\n')
    wire.initialize(None, _options(tmp_path))
    assert wire.status()["log_file"] == str(from_config)
    assert wire.shutdown_and_exit() == 0
    assert from_config.exists()

    from_cli = tmp_path / "cli-log" / "server.log"
    wire = start("--log-file", str(from_cli), config=f'log_file = "{from_config}"\n')
    wire.initialize(None, _options(tmp_path))
    assert wire.status()["log_file"] == str(from_cli)
    assert not _warnings_about_log_file(wire)
    assert wire.shutdown_and_exit() == 0
    assert from_cli.exists()


def test_a_newline_in_a_method_name_cannot_start_a_log_line(start, tmp_path):
    """Finding 7: at log_level debug, method names with newline, CR and ESC are escaped:
    every line at column 0 in the log is a record with a time stamp, none is the client's."""
    log_file = tmp_path / "logs" / "server.log"
    wire = start(config=f'log_file = "{log_file}"\n')
    wire.initialize(None, _options(tmp_path, log_level="debug"))
    evil = f"qwenpair/x\n{INJECTED}\r\n{INJECTED}\x1b[2K"
    wire.call(evil, {})  # unknown method, answered by pygls
    wire.notify(evil, {})
    assert "error" not in wire.call("shutdown")
    refused = wire.call(evil, {})  # after shutdown: refused by our protocol layer, which logs the name
    assert refused["error"]["code"] == -32600
    wire.notify("exit")
    assert wire.process.wait(30) == 0
    text = log_file.read_text(encoding="utf-8")
    assert "refused request" in text and "qwenpair/x\\n2026-01-01" in text
    assert "\x1b" not in text and "\r" not in text
    for line in text.splitlines():
        assert RECORD.match(line) or line.startswith("    "), f"a line the server did not write: {line!r}"
    assert not [line for line in text.splitlines() if line.startswith(INJECTED)]


def test_tracebacks_stay_indented_under_their_record():
    """Finding 7: the formatter both log handlers use keeps an exception's lines indented
    (and escaped), so only records start at column 0."""
    formatter = SafeFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError(f"bad\n{INJECTED}")
    except ValueError:
        record = logging.LogRecord("lsp_server", logging.ERROR, __file__, 1, "failed %s", ("a\u2028b",), sys.exc_info())
    lines = formatter.format(record).split("\n")
    assert lines[0] == "ERROR lsp_server: failed a\\u2028b"
    assert len(lines) > 2 and all(line.startswith("    ") for line in lines[1:])
    assert f"    {INJECTED}" in lines  # the exception's own newline: indented, not a record
