"""stdio and TCP transports over a framing that survives bad frames, and the TCP
listener's admission rules.

pygls 2.1's own loop (``pygls.io_.run_async``) read whatever length a header named and lost
the stream after one wrong Content-Length; both transports run ``frames.run_frames``
instead: a capped frame size, resynchronisation on the next header, and an error answer to
a bad or batched request (docs/lsp.md, "Bad frames"). Everything else is pygls' protocol.

TCP peers are not trusted the way the editor that started us over stdio is
(docs/security.md): ``start_tcp`` listens on loopback addresses unless told otherwise,
admits a client only when its first message carries the token written to a 0600 file at
start, and serves one client at a time; anyone else gets one message saying why and is
disconnected, never a byte of the admitted client's session.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter

from lsp_server.frames import BadFrame, FrameReader, run_frames
from model.paths import cache_dir

log = logging.getLogger(__name__)

def stdin_source(stdin: BinaryIO, executor: Any) -> Callable[[int], Any]:
    """``read_some(n)`` over a blocking binary stream, read in ``executor``: whatever has
    arrived, up to ``n`` bytes (never waiting for all ``n``)."""
    read = getattr(stdin, "read1", None) or stdin.read

    def read_some(n: int) -> Any:
        return asyncio.get_running_loop().run_in_executor(executor, read, n)

    return read_some


def start_io(server: Any, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls' ``start_io`` with the frame loop of ``frames``."""
    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    reader = FrameReader(stdin_source(stdin, server.thread_pool))
    try:
        asyncio.run(run_frames(server._stop_event, reader, server.protocol, server.report_server_error))
    except BrokenPipeError:
        log.error("the connection to the client is lost")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


# -- TCP -------------------------------------------------------------------------------------

#: The method a client may send first, before ``initialize``, to present the token.
AUTH_METHOD = "qwenpair/authenticate"
#: JSON-RPC error code (implementation-defined range) for a refused TCP client.
UNAUTHORIZED = -32001
#: A connected client must present its token within this many seconds: a silent peer would
#: otherwise hold the one client slot forever.
AUTH_TIMEOUT_S = 15.0
#: How long a refused peer's further input is read and dropped before the socket closes.
REFUSE_LINGER_S = 2.0
#: Largest first message read before the client is admitted (an editor's initialize is ~20 KB).
MAX_AUTH_BYTES = 1_000_000


class ListenError(Exception):
    """The TCP listener cannot or must not start; the message says what to do."""

    user_facing = True


def new_token() -> str:
    """A fresh token for one server start."""
    return secrets.token_urlsafe(32)


def default_token_file(port: int) -> Path:
    """``<cache>/run/tcp-<port>.token`` (``$QWENPAIR_CACHE_DIR`` moves it)."""
    return cache_dir() / "run" / f"tcp-{port}.token"


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` to ``path`` readable by the owner only (0600). The file is created
    fresh next to ``path`` and renamed over it, so a file or symlink planted at ``path``
    can neither widen its mode nor redirect the write."""
    parent = path.parent
    fresh = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        parent.chmod(0o700)
    tmp = parent / f".{path.name}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask can only narrow the mode; say it exactly anyway
        os.write(fd, (token + "\n").encode("ascii"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def check_address(host: str, allow_remote: bool) -> list[str]:
    """Refuse (``ListenError``) a host reachable from other machines unless
    ``allow_remote``; returns the warnings to print when it is allowed."""
    literal = host.strip("[]")
    try:
        infos = socket.getaddrinfo(literal, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}: the name does not resolve ({exc.strerror}); "
                          "use 127.0.0.1, [::1] or localhost") from None
    remote = sorted({info[4][0] for info in infos
                     if not ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback})
    if not remote:
        return []
    if not allow_remote:
        raise ListenError(
            f"refusing to listen on {host} ({', '.join(remote)}): other machines could connect. "
            "--tcp listens on loopback only (127.0.0.1, [::1], localhost); add --allow-remote to "
            "listen on other addresses (see docs/security.md)")
    return [f"WARNING: listening on {host} ({', '.join(remote)}), reachable from other machines. "
            "The token is the only protection and the connection is not encrypted: anyone who "
            "reads the token file, or the traffic, can use your workspace and models."]


def start_tcp(server: Any, host: str, port: int, *, allow_remote: bool = False,
              token_file: Path | None = None, announce: Callable[[str], None] | None = None) -> None:
    """Serve one admitted client on ``host:port`` (pygls' ``start_tcp`` with the
    resynchronising reader and the admission rules in the module docstring). Its disconnect
    ends the server. ``port`` 0 picks a free port; ``announce`` gets the startup lines
    (stderr by default). Raises ``ListenError`` when the address is refused or in use."""
    say = announce or (lambda line: print(f"qwenpair serve: {line}", file=sys.stderr, flush=True))
    warnings = check_address(host, allow_remote)
    token = new_token()
    server._stop_event = stop_event = threading.Event()
    written: list[Path] = []

    async def main() -> None:
        done = asyncio.get_running_loop().create_future()
        holder: asyncio.StreamWriter | None = None  # the connection in the one client slot

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal holder
            peer = writer.get_extra_info("peername")
            if holder is not None or done.done():
                # Never touch the protocol's writer here: the admitted client's responses
                # would follow the newest connection.
                log.warning("refused a TCP client %s: another client is being served", peer)
                await _refuse(reader, writer, None, "qwenpair serve already serves a client on this port "
                              "(one client at a time); disconnected")
                return
            holder = writer
            admitted = False
            try:
                stream = FrameReader(reader.read)
                try:
                    refusal = await asyncio.wait_for(_admit(stream, writer, token), AUTH_TIMEOUT_S)
                except TimeoutError:
                    refusal = (None, f"no token within {AUTH_TIMEOUT_S:g} s; disconnected")
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    refusal = (None, "")  # the peer left, or sent an oversized line
                if refusal is not None:
                    msg_id, text = refusal
                    log.warning("refused a TCP client %s: %s", peer, text or "disconnected before presenting a token")
                    holder = None  # free the slot at once, not after the farewell
                    if text:
                        await _refuse(reader, writer, msg_id, text)
                    else:
                        writer.close()
                    return
                admitted = True
                log.info("admitted the TCP client %s", peer)
                server.protocol.set_writer(writer)
                await run_frames(stop_event, stream, server.protocol, server.report_server_error)
            finally:
                if admitted:
                    if not done.done():
                        done.set_result(None)
                elif holder is writer:
                    holder = None

        try:
            # Not accepting yet (no listen()): a client that connects finds the token file.
            listener = await asyncio.start_server(connection, host.strip("[]"), port, start_serving=False)
        except OSError as exc:
            raise ListenError(_bind_problem(host, port, exc)) from None
        bound = [s.getsockname() for s in listener.sockets]
        actual = bound[0][1]
        path = token_file or default_token_file(actual)
        try:
            write_token_file(path, token)
        except OSError as exc:
            listener.close()
            raise ListenError(f"cannot write the token file {path}: {exc.strerror or exc}; "
                              "pass --token-file PATH in a directory you own") from None
        written.append(path)
        try:  # SIGTERM ends the server like a disconnect, so that the token file goes too
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: done.done() or done.set_result(None))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
        await listener.start_serving()
        for line in warnings:
            say(line)
            log.warning("%s", line)
        where = ", ".join(_show(a[0], a[1]) for a in bound)
        say(f"listening on {where}; one client at a time")
        say(f"token file {path} (mode 0600): the client sends it as initializationOptions.token "
            f"or first as {AUTH_METHOD} {{\"token\": ...}} (docs/lsp.md)")
        log.info("listening on %s", where)
        async with listener:
            await done  # one client: its disconnect ends the server

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        pass
    finally:
        for path in written:
            path.unlink(missing_ok=True)
        server.shutdown()


def _show(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    where = _show(host.strip("[]"), port)
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (another qwenpair serve?); "
                "choose another port, or port 0 for a free one")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {where}: this machine has no such address (is IPv6 enabled?); try 127.0.0.1"
    return f"cannot listen on {where}: {exc.strerror or exc}"


async def _read_frame(stream: FrameReader) -> dict[str, Any] | None:
    """One framed message of at most ``MAX_AUTH_BYTES`` (None if it is not a JSON object)."""
    body = await stream.next_frame(MAX_AUTH_BYTES)
    if body is None:
        raise asyncio.IncompleteReadError(b"", None)
    if isinstance(body, BadFrame):
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


async def _admit(stream: FrameReader, writer: asyncio.StreamWriter, token: str) -> tuple[Any, str] | None:
    """Read the first message; None admits the client (the message, less its token, goes
    back into ``stream`` for the protocol), else (request id or None, why refused)."""
    message = await _read_frame(stream)
    if message is None:
        return None, "the first message must be a JSON-RPC object (initialize) carrying the token"
    msg_id = message.get("id")
    msg_id = msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None
    method = message.get("method")
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    if method == "initialize" and isinstance(options, dict):
        given = options.pop("token", None)
    elif method == AUTH_METHOD and isinstance(params, dict):
        given = params.get("token")
    else:
        given = None
    if given is None:
        return msg_id, ("this server needs a token: send the one in the token file printed by "
                        "`qwenpair serve --tcp` as initializationOptions.token (or first as "
                        f"{AUTH_METHOD} {{\"token\": ...}}); disconnected")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode("utf-8"), token.encode("ascii")):
        return msg_id, "wrong token (it changes at every server start; read the token file again); disconnected"
    if method == "initialize":
        stream.push_back(_frame(message))
    elif msg_id is not None:
        writer.write(_frame({"jsonrpc": "2.0", "id": msg_id, "result": None}))
    return None


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, msg_id: Any, text: str) -> None:
    """Tell a refused peer why (an error response to its request, else a
    window/showMessage notification), then disconnect it."""
    if msg_id is not None:
        message = {"jsonrpc": "2.0", "id": msg_id, "error": {"code": UNAUTHORIZED, "message": text}}
    else:
        message = {"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": 1, "message": text}}
    try:
        writer.write(_frame(message))
        await asyncio.wait_for(writer.drain(), 5)
        writer.write_eof()
        # Closing with unread input makes the kernel send a reset, which can destroy the
        # message before the peer reads it: take what it still sends, for a moment.
        await asyncio.wait_for(_discard(reader), REFUSE_LINGER_S)
    except (OSError, TimeoutError, ValueError):
        pass
    finally:
        writer.close()


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass
