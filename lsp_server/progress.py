"""Work-done progress that any thread may report, sent in order on the server's loop.

Server-initiated progress (indexing, model loading) first asks the client to create the
token (``window/workDoneProgress/create``) and is silent when the client did not declare
``window.workDoneProgress``; client-initiated progress (a request's ``workDoneToken``)
reports on the client's token. begin/report/end are queued and sent strictly in order.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)


class WorkProgress:
    def __init__(self, server: Any, title: str, token: types.ProgressToken | None = None) -> None:
        self.server = server
        self.title = title
        self._create = token is None
        self.token = token if token is not None else f"qwenpair-{uuid.uuid4().hex[:12]}"
        caps = server.client_capabilities.window if server.protocol.initialize_seen else None
        self.enabled = token is not None or bool(caps and caps.work_done_progress)
        self._lock: asyncio.Lock | None = None

    def begin(self, message: str = "", cancellable: bool = False) -> None:
        self._send("begin", types.WorkDoneProgressBegin(title=self.title, message=message or None,
                                                        cancellable=cancellable, percentage=0))

    def report(self, message: str, percentage: int | None = None) -> None:
        self._send("report", types.WorkDoneProgressReport(message=message, percentage=percentage))

    def end(self, message: str = "") -> None:
        self._send("end", types.WorkDoneProgressEnd(message=message or None))

    def _send(self, kind: str, value: Any) -> None:
        if not self.enabled:
            return
        self.server.call_soon(lambda: asyncio.ensure_future(self._ordered(kind, value)))

    async def _ordered(self, kind: str, value: Any) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                progress = self.server.work_done_progress
                if kind == "begin":
                    if self._create:
                        await progress.create_async(self.token)
                    progress.begin(self.token, value)
                elif kind == "report":
                    progress.report(self.token, value)
                else:
                    progress.end(self.token, value)
                    progress.tokens.pop(self.token, None)
            except Exception as exc:  # a client that refuses the token: no progress, no failure
                log.info("work-done progress %s not shown: %s", self.title, exc)
                self.enabled = False
