"""Server logging: a rotating file always, and ``window/logMessage`` to the editor.

Only qwenpair's own loggers reach the editor (pygls logs every message it sends, which
would echo forever); the file gets everything at the configured level.

Every record is one line: ``SafeFormatter`` escapes control characters (a newline in a
client's method name would otherwise start a line of the client's choosing), and indents
the lines of a traceback. The log path is the server's choice (``settings.SERVER_ONLY``).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path
from typing import Any

from lsprotocol import types

from model.paths import cache_dir

OUR_LOGGERS = ("lsp_server", "assistant", "model", "repo_index")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


#: C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``...)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group()) or (
        f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"), text)


class SafeFormatter(logging.Formatter):
    """A formatter whose record is one line (control characters escaped); a traceback or
    stack follows on lines indented by four spaces, so column 0 always starts a record."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        blocks = []
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            blocks.append(record.exc_text)
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            text += "".join("\n    " + escape_controls(line) for line in block.splitlines())
        return text


def default_log_file() -> Path:
    return cache_dir() / "logs" / "server.log"


class ClientLogHandler(logging.Handler):
    """Forwards records to the editor as window/logMessage."""

    _TYPES = {logging.ERROR: types.MessageType.Error, logging.WARNING: types.MessageType.Warning,
              logging.INFO: types.MessageType.Info}

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        kind = self._TYPES.get(record.levelno if record.levelno <= logging.ERROR else logging.ERROR,
                               types.MessageType.Log)
        text = self.format(record)
        try:
            self.server.call_soon(lambda: self.server.window_log_message(types.LogMessageParams(type=kind, message=text)))
        except Exception:  # no loop yet or already closed: the file has it
            pass


def configure(server: Any, log_file: str, level: str) -> Path | None:
    """(Re)configure the handlers; returns the log file in use (None if it cannot be opened)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "qwenpair", False):
            root.removeHandler(handler)
            handler.close()
    numeric = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(numeric)
    path: Path | None = Path(log_file).expanduser() if log_file else default_log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
        file_handler.setFormatter(SafeFormatter(_FORMAT))
        file_handler.qwenpair = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
    except OSError:
        path = None
    client = ClientLogHandler(server)
    client.setFormatter(SafeFormatter("%(name)s: %(message)s"))
    client.setLevel(max(numeric, logging.INFO))
    client.addFilter(lambda r: r.name.split(".")[0] in OUR_LOGGERS)
    client.qwenpair = True  # type: ignore[attr-defined]
    root.addHandler(client)
    # pygls logs every message at INFO: only at debug level is that wanted
    logging.getLogger("pygls").setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    return path
