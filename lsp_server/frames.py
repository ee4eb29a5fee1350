"""LSP base-protocol framing that survives bad frames: the reader and the message loop.

This replaces pygls' own loop (``pygls.io_.run_async``), which read whatever length a header
named: ``Content-Length: 99999999999999999999`` ended the server with an OverflowError,
``Content-Length: 2000000000`` made it wait for 2 GB that never came, and after a wrong
length the header of every later message ended up inside the previous body. Here
(docs/lsp.md, "Bad frames"):

- a body is at most ``MAX_FRAME_BYTES``; a larger one is skipped as it arrives, never held;
- a body is cut where the next header starts (``Content-Length: N`` followed by a raw
  newline cannot occur inside valid JSON, where a newline in a string is escaped), so a
  length that is too long costs one message, not the stream;
- stray bytes before a header are dropped;
- a frame that is too large or not JSON is answered with a JSON-RPC error when its request
  id can be read from what arrived (``top_level_fields``), and logged otherwise;
- a JSON array (a JSON-RPC batch, which LSP never sends) is answered -32600 per request.

What it is not: the TCP admission rules (``transport``) or the meaning of messages (pygls'
protocol, corrected in ``protocol``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

#: Largest message body read (documented in docs/lsp.md): room for a 50 MB document sent
#: whole with its JSON escaping. A larger frame is skipped as it arrives.
MAX_FRAME_BYTES = 64 * 1024 * 1024
#: Longest header block (Content-Length, Content-Type) before it counts as garbage.
MAX_HEADER_BYTES = 8192
#: How much of a bad body is searched for its request id and method.
PROBE_BYTES = 1024 * 1024
CHUNK = 65536

PARSE_ERROR = -32700
INVALID_REQUEST = -32600

_HEADER = re.compile(rb"content-length:", re.IGNORECASE)
#: A real header: never inside valid JSON (a raw newline cannot be in a JSON string).
_NEXT_HEADER = re.compile(rb"content-length:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_HEADERS_END = re.compile(rb"\r?\n\r?\n")
#: A Content-Type header before Content-Length (allowed; its value is always UTF-8 JSON here).
_OTHER_HEADER = re.compile(rb"\s*content-type:[^\n]*\n", re.IGNORECASE)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')
_COLON = re.compile(r"\s*:\s*")
_ARRAY = re.compile(rb"\s*\[")

ReadSome = Callable[[int], Awaitable[bytes]]


@dataclass
class BadFrame:
    """A frame that cannot be handled: ``why`` for the answer or the log, ``head`` the first
    bytes of its body (to find its id in), ``code`` the JSON-RPC error code."""

    why: str
    head: bytes
    code: int = PARSE_ERROR


class FrameReader:
    """Frames from ``read_some(n)`` (an awaitable returning 1 to n bytes, or b"" at the end)."""

    def __init__(self, read_some: ReadSome) -> None:
        self._read_some = read_some
        self._buf = bytearray()
        self._eof = False
        self._skip = 0  # bytes of an oversized body still to drop

    def push_back(self, data: bytes) -> None:
        """Bytes to be read again before anything else (an admitted first message)."""
        self._buf[:0] = data

    async def _more(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read_some(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def next_frame(self, max_bytes: int = MAX_FRAME_BYTES) -> bytes | BadFrame | None:
        """The next body (bytes), a ``BadFrame``, or None at the end of the stream."""
        while True:
            if self._skip and not await self._skip_body():
                return None
            start = await self._find_header()
            if start is None:
                return None
            end = _HEADERS_END.search(self._buf, start)
            while end is None and len(self._buf) - start <= MAX_HEADER_BYTES:
                if not await self._more():
                    return None
                end = _HEADERS_END.search(self._buf, start)
            if end is None:
                log.warning("dropped a header block of more than %d bytes", MAX_HEADER_BYTES)
                del self._buf[: start + len(b"content-length:")]
                continue
            length = _content_length(bytes(self._buf[start : end.start()]))
            del self._buf[: end.end()]
            if length is None:
                log.warning("dropped a frame whose Content-Length is not a number; resynchronising")
                continue
            if length > max_bytes:
                return await self._oversized(length, max_bytes)
            return await self._body(length)

    async def _find_header(self) -> int | None:
        """Offset of the next header in the buffer, dropping stray bytes before it."""
        while True:
            found = _HEADER.search(self._buf)
            if found is not None:
                if found.start():
                    stray = bytes(self._buf[: found.start()])
                    if stray.strip() and not _OTHER_HEADER.fullmatch(stray):
                        log.warning("skipped %d stray bytes before a header", len(stray))
                    del self._buf[: found.start()]
                return 0
            keep = len(_HEADER.pattern) - 1  # a header may straddle two reads
            waiting = len(self._buf) <= MAX_HEADER_BYTES and _OTHER_HEADER.match(self._buf + b"\n")
            if len(self._buf) > keep and not waiting:  # (a Content-Type line waits for its Content-Length)
                if bytes(self._buf[:-keep]).strip():
                    log.warning("skipped %d stray bytes looking for a header", len(self._buf) - keep)
                del self._buf[:-keep]
            if not await self._more():
                return None

    async def _body(self, length: int) -> bytes | BadFrame:
        """``length`` bytes, unless the next header starts first (a wrong length)."""
        scanned = 0
        while True:
            cut = _NEXT_HEADER.search(self._buf, max(0, scanned - 64), min(len(self._buf), length + 64))
            if cut is not None and cut.start() < length:
                head = bytes(self._buf[: cut.start()])
                del self._buf[: cut.start()]
                log.warning("a body overran the next header (wrong Content-Length); resynchronising")
                return BadFrame("the message ends before its Content-Length (the next header starts "
                                "inside it)", head)
            if len(self._buf) >= length:
                body = bytes(self._buf[:length])
                del self._buf[:length]
                return body
            scanned = len(self._buf)
            if not await self._more():
                return BadFrame("the stream ended inside the message", bytes(self._buf))

    async def _oversized(self, length: int, max_bytes: int) -> BadFrame:
        """Start skipping a body over the cap; what has arrived of it is kept to find its id."""
        while True:  # what has arrived, until the id shows, the next header starts or enough is here
            head = bytes(self._buf[: min(length, PROBE_BYTES)])
            cut = _NEXT_HEADER.search(head)
            if cut is not None:
                head = head[: cut.start()]
                break
            if len(head) >= min(length, PROBE_BYTES) or "id" in top_level_fields(head)[0]:
                break
            if not await self._more():
                break
        self._skip = length
        log.warning("skipping a message of %d bytes: larger than the %d MB frame cap", length, max_bytes >> 20)
        return BadFrame(f"the message is {length} bytes, over qwenpair's frame cap of {max_bytes >> 20} MB "
                        "(docs/lsp.md); it was skipped", head, INVALID_REQUEST)

    async def _skip_body(self) -> bool:
        """Drop the rest of an oversized body as it arrives, up to the next header; False at
        the end of the stream."""
        while self._skip:
            window = bytes(self._buf[: self._skip])
            cut = _NEXT_HEADER.search(window)
            if cut is not None:
                del self._buf[: cut.start()]
                self._skip = 0
                return True
            drop = max(0, len(window) - 64) if len(window) < self._skip else len(window)
            del self._buf[:drop]
            self._skip -= drop
            if self._skip and not await self._more():
                return False
        return True


def _content_length(headers: bytes) -> int | None:
    """The Content-Length of a header block, None when it is not a plain number."""
    for line in headers.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return None
            # int() refuses over 4,300 digits; anything over 18 is far over the cap anyway
            return int(value) if len(value) <= 18 else 10**18
    return None


def top_level_fields(head: bytes) -> tuple[dict[str, Any], set[str]]:
    """(``id`` (int or str) and ``method`` (str) of a JSON object's top level, the names of
    its top-level members) found in the first bytes of its text, however the rest is broken
    or missing. Members after the first that cannot be read are not seen."""
    text = head[:PROBE_BYTES].decode("utf-8", "replace")
    first = len(text) - len(text.lstrip())
    found: dict[str, Any] = {}
    keys: set[str] = set()
    if text[first : first + 1] != "{":
        return found, keys
    depth = 0
    decoder = json.JSONDecoder()
    for token in _TOKEN.finditer(text, first):
        mark = token.group()
        if mark in ("{", "["):
            depth += 1
        elif mark in ("}", "]"):
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1:
            colon = _COLON.match(text, token.end())
            if colon is None:
                continue  # a string value, not a member name
            try:
                key = json.loads(mark)
            except ValueError:
                continue
            keys.add(key)
            if key not in ("id", "method") or key in found:
                continue
            try:
                value, _ = decoder.raw_decode(text, colon.end())
            except ValueError:
                continue
            if isinstance(value, str) or (key == "id" and isinstance(value, int) and not isinstance(value, bool)):
                found[key] = value
    return found, keys


def handle_body(body: bytes, protocol: Any, error_handler: Callable[[Exception, Any], Any] | None) -> None:
    """Decode one body and hand it to the protocol; an undecodable one or a batch is answered."""
    if _ARRAY.match(body):
        _batch(body, protocol)
        return
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except ValueError as exc:  # not JSON, or not UTF-8
        answer_bad_frame(BadFrame(f"the message is not valid JSON ({_short(exc)})", body[:PROBE_BYTES]), protocol)
        return
    except Exception as exc:  # pygls could not structure it: its own loop logged these too
        log.warning("dropped a message pygls could not decode: %s", _short(exc))
        if error_handler is not None:
            error_handler(exc, type(exc))
        return
    try:
        protocol.handle_message(message)
    except Exception as exc:
        log.exception("unable to handle a message")
        if error_handler is not None:
            error_handler(exc, type(exc))


def answer_bad_frame(bad: BadFrame, protocol: Any) -> None:
    """An error response when the frame is a request whose id is known, else a log line
    (a notification, or a response of the client's, is never answered)."""
    fields, keys = top_level_fields(bad.head)
    msg_id = fields.get("id")
    what = f"{fields['method']} " if "method" in fields else ""
    if msg_id is None or keys & {"result", "error"}:
        log.warning("dropped a %smessage: %s", what, bad.why)
        return
    log.warning("answered request %r (%s): %s", msg_id, what.strip() or "method unknown", bad.why)
    protocol._send_response(msg_id, error=types.ResponseError(code=bad.code, message=bad.why))


def _batch(body: bytes, protocol: Any) -> None:
    why = "JSON-RPC batches are not supported (LSP sends one message per frame); send the requests one by one"
    try:
        items = json.loads(body)
    except ValueError as exc:
        answer_bad_frame(BadFrame(f"the message is not valid JSON ({_short(exc)})", body[:PROBE_BYTES]), protocol)
        return
    ids = [i["id"] for i in items if isinstance(i, dict) and "method" in i
           and (isinstance(i.get("id"), str) or (isinstance(i.get("id"), int) and not isinstance(i.get("id"), bool)))]
    if not ids:
        log.warning("dropped a batch of %d messages without a request id: %s", len(items), why)
    for msg_id in ids:
        log.warning("answered request %r of a batch: %s", msg_id, why)
        protocol._send_response(msg_id, error=types.ResponseError(code=INVALID_REQUEST, message=why))


def _short(exc: Exception) -> str:
    return str(exc)[:200]


async def run_frames(stop_event: Any, reader: FrameReader, protocol: Any,
                     error_handler: Callable[[Exception, Any], Any] | None = None) -> None:
    """The message loop: read frames until the stream ends or ``stop_event`` is set."""
    while not stop_event.is_set():
        frame = await reader.next_frame()
        if frame is None:
            break
        if isinstance(frame, BadFrame):
            answer_bad_frame(frame, protocol)
        else:
            handle_body(frame, protocol, error_handler)
