"""stdio and TCP transports whose framing recovers from a wrong Content-Length.

pygls 2.1 reads frames with its own loop (``pygls.io_.run_async``), but once a
Content-Length is wrong the rest of the stream is lost: the header of every later message
ends up inside the previous body. ``ResyncReader`` sits under that loop: a header that
appears in the middle of a line starts a fresh line, and a body that is not JSON but
contains the next header is cut there, the rest going back into the stream. So after one
bad frame the server answers the next message (at most the bad one and the one it
overlapped are lost). Everything else is pygls' own loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any, BinaryIO

from pygls.io_ import StdinAsyncReader, StdoutWriter, run_async

log = logging.getLogger(__name__)

HEADER = b"Content-Length:"


class ResyncReader:
    """An async reader with a push-back buffer, over one with readline/readexactly."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._pending = b""

    async def readline(self) -> bytes:
        if self._pending:
            end = self._pending.find(b"\n")
            if end != -1:
                line, self._pending = self._pending[: end + 1], self._pending[end + 1 :]
            else:
                line, self._pending = self._pending + await self._inner.readline(), b""
        else:
            line = await self._inner.readline()
        at = line.find(HEADER)
        if at > 0:
            log.warning("skipped %d stray bytes before a header", at)
            line = line[at:]
        return line

    async def readexactly(self, n: int) -> bytes:
        data, self._pending = self._pending[:n], self._pending[n:]
        if len(data) < n:
            data += await self._inner.readexactly(n - len(data))
        at = data.find(HEADER)
        if at != -1 and not _is_json(data):
            log.warning("a body overran the next header (wrong Content-Length); resynchronising")
            self._pending = data[at:] + self._pending
            data = data[:at] or b"\n"  # never empty: pygls reads an empty body as end of stream
        return data


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def start_io(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' ``start_io`` with the resynchronising reader."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    reader = ResyncReader(StdinAsyncReader(stdin, server.thread_pool))
    try:
        asyncio.run(run_async(stop_event=server._stop_event, reader=reader, protocol=server.protocol,
                              logger=log, error_handler=server.report_server_error))
    except BrokenPipeError:
        log.error("the connection to the client is lost")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def start_tcp(server: Any, host: str, port: int) -> None:
    """Serve one client on ``host:port`` (pygls' ``start_tcp`` with the resynchronising reader)."""
    server._stop_event = stop_event = threading.Event()
    done: asyncio.Future | None = None

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)
        try:
            await run_async(stop_event=stop_event, reader=ResyncReader(reader), protocol=server.protocol,
                            logger=log, error_handler=server.report_server_error)
        finally:
            if done is not None and not done.done():
                done.set_result(None)

    async def main() -> None:
        nonlocal done
        done = asyncio.get_running_loop().create_future()
        listener = await asyncio.start_server(connection, host, port)
        log.info("listening on %s:%d", host, port)
        async with listener:
            await done  # one client: its disconnect ends the server

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        pass
    finally:
        server.shutdown()
