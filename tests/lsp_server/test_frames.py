"""Bad frames over a real ``qwenpair serve`` (issue 18 finding 4): a Content-Length too
large for a C size, one that promises 2 GB that never come, a body over the frame cap, a
body that is not JSON, and a JSON-RPC batch. Each used to end the server, silence it, or
drop a request without an answer; now each request is answered with an error when its id
can be read, and the server answers the next message (docs/lsp.md, "Bad frames")."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import fast_options

from lsp_server.frames import MAX_FRAME_BYTES

STATUS = {"command": "qwenpair.status"}


def _body(msg_id: int | None, method: str = "workspace/executeCommand", params=STATUS) -> bytes:
    message = {"jsonrpc": "2.0", **({"id": msg_id} if msg_id is not None else {}), "method": method, "params": params}
    return json.dumps(message).encode()


def _still_answers(wire) -> None:
    assert "error" not in wire.call("workspace/executeCommand", STATUS, timeout=20)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_content_length_beyond_any_size_is_answered_and_the_server_lives(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.send_raw(b"Content-Length: 99999999999999999999\r\n\r\n" + _body(31))
    reply = wire.response(31, timeout=20)
    assert reply["error"]["code"] == -32600 and "frame cap of 64 MB" in reply["error"]["message"], reply
    _still_answers(wire)
    wire.send_raw(b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n" + _body(32))  # past int()'s digit limit
    assert wire.response(32, timeout=20)["error"]["code"] == -32600
    _still_answers(wire)
    assert wire.process.poll() is None
    assert wire.shutdown_and_exit() == 0


def test_a_length_that_never_arrives_does_not_silence_the_server(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    # 2 GB promised, a short request sent, then ordinary traffic: the next header ends the skip
    wire.send_raw(b"Content-Length: 2000000000\r\n\r\n" + _body(41))
    assert wire.response(41, timeout=20)["error"]["code"] == -32600
    _still_answers(wire)
    # within the cap but far too long: the next header cuts it without waiting for the rest
    wire.send_raw(b"Content-Length: 60000000\r\n\r\n" + _body(42))
    next_id = wire.request("workspace/executeCommand", STATUS)
    assert wire.response(42, timeout=20)["error"]["code"] == -32700
    assert "error" not in wire.response(next_id, timeout=20)
    assert wire.shutdown_and_exit() == 0


def test_a_body_over_the_cap_is_skipped_as_it_arrives(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.wait_ready()  # the model and the index loaded: what grows after is the frame
    _still_answers(wire)
    before = _peak_rss_mb(wire.process.pid)
    text = "x = 1\n" * ((MAX_FRAME_BYTES + 4_000_000) // 6)
    uri = (workspace / "pkg" / "huge.py").as_uri()
    body = _body(51, "textDocument/hover", {"textDocument": {"uri": uri, "text": text}, "position": {"line": 0, "character": 0}})
    assert len(body) > MAX_FRAME_BYTES
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    reply = wire.response(51, timeout=60)
    assert reply["error"]["code"] == -32600 and "frame cap" in reply["error"]["message"]
    _still_answers(wire)
    grown = _peak_rss_mb(wire.process.pid) - before
    assert grown < 32, f"the skipped body was held: peak RSS grew {grown:.0f} MB"
    # a notification over the cap has no id to answer: it is logged, and the server goes on
    note = _body(None, "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % len(note) + note)
    _still_answers(wire)
    logs = [n["message"] for n in wire.notifications("window/logMessage")]
    assert any("textDocument/didOpen" in m and "frame cap" in m for m in logs), logs
    assert wire.status()["open_documents"] == 0
    assert wire.shutdown_and_exit() == 0


def test_unparsable_frames_and_batches_are_answered(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    broken = b'{"jsonrpc": "2.0", "id": 61, "method": "workspace/executeCommand", "params": {oops}}'
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % len(broken) + broken)
    reply = wire.response(61, timeout=20)
    assert reply["error"]["code"] == -32700 and "not valid JSON" in reply["error"]["message"], reply
    # the id after a huge member is still found, and a string id is kept as a string
    late = b'{"jsonrpc": "2.0", "params": {"command": "x", "arguments": ["' + b"a" * 100_000 + b'"]}, "id": "s-62", ]'
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % len(late) + late)
    assert wire.response("s-62", timeout=20)["error"]["code"] == -32700
    batch = b"[" + _body(63) + b"," + _body(None, "initialized", {}) + b"," + _body(64) + b"]"
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % len(batch) + batch)
    for msg_id in (63, 64):
        error = wire.response(msg_id, timeout=20)["error"]
        assert error["code"] == -32600 and "batch" in error["message"]
    # a wrong length that overran the next message: the cut one is answered, the next one too
    first, second = _body(65), _body(66)
    wire.send_raw(b"Content-Length: %d\r\n\r\n" % (len(first) + 30) + first + b"Content-Length: %d\r\n\r\n" % len(second) + second)
    assert wire.response(65, timeout=20)["error"]["code"] == -32700
    assert "error" not in wire.response(66, timeout=20)
    _still_answers(wire)
    for msg_id in (61, "s-62", 63, 64, 65, 66):
        assert len(wire.responses(msg_id)) == 1
    assert wire.shutdown_and_exit() == 0


def test_reader_handles_headers_in_any_order_and_bytes_one_at_a_time(caplog):
    """The reader alone: a Content-Type header first is no stray data, and a stream that
    arrives one byte at a time (headers split anywhere) gives the same frames."""
    import asyncio

    from lsp_server.frames import BadFrame, FrameReader

    first, second = _body(1), _body(2)
    stream = (b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(first)
              + first + b"Content-Length: 99999999999999999999\r\n\r\n" + _body(3)
              + b"Content-Length: %d\r\nContent-Type: x\r\n\r\n" % len(second) + second)

    def frames(step: int) -> list:
        data = bytearray(stream)

        async def read_some(n: int) -> bytes:
            out = bytes(data[: min(n, step)])
            del data[: len(out)]
            return out

        async def collect() -> list:
            reader, out = FrameReader(read_some), []
            while (frame := await reader.next_frame()) is not None:
                out.append(frame)
            return out

        return asyncio.run(collect())

    for step in (1, 7, 65536):
        caplog.clear()
        got = frames(step)
        assert got[0] == first and got[2] == second, (step, got)
        assert isinstance(got[1], BadFrame) and got[1].code == -32600 and b'"id": 3' in got[1].head
        assert not [r for r in caplog.records if "stray" in r.getMessage()], step
