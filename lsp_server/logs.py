"""Server logging: a rotating file always, and ``window/logMessage`` to the editor.

Only qwenpair's own loggers reach the editor (pygls logs every message it sends, which
would echo forever); the file gets everything at the configured level.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from typing import Any

from lsprotocol import types

from model.paths import cache_dir

OUR_LOGGERS = ("lsp_server", "assistant", "model", "repo_index")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        file_handler.qwenpair = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)
    except OSError:
        path = None
    client = ClientLogHandler(server)
    client.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    client.setLevel(max(numeric, logging.INFO))
    client.addFilter(lambda r: r.name.split(".")[0] in OUR_LOGGERS)
    client.qwenpair = True  # type: ignore[attr-defined]
    root.addHandler(client)
    # pygls logs every message at INFO: only at debug level is that wanted
    logging.getLogger("pygls").setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    return path
