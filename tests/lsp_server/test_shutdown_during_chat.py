"""``shutdown`` while a chat streams, over a real ``qwenpair serve`` with the tiny model
(issue 18 finding 5): pygls cancelled the other requests while iterating its table of
request futures, and cancelling the chat's future removed it from that table at once
("dictionary changed size during iteration"), so shutdown was answered -32603 and the
exit code was 1. Now shutdown answers null, the chat is answered exactly once (cancelled),
and exit ends the process with 0."""

from __future__ import annotations

from conftest import fast_options

LONG_CHAT = {"chat": {"max_answer_tokens": 2000}, "n_ctx": 4096}


def test_shutdown_during_a_streaming_chat_answers_null_and_exits_0(start, workspace, tiny_model):
    for attempt in range(3):  # the issue saw the failure in 3 of 3 runs
        wire = start()
        wire.initialize(workspace, fast_options(tiny_model.gguf, **LONG_CHAT))
        uri = wire.open(workspace / "pkg" / "greet.py")
        wire.wait_ready()
        stream = f"s{attempt}"
        chat = wire.request("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
            {"question": "Explain this file in detail.", "uri": uri, "streamId": stream}]})
        wire.wait_for(lambda: [n for n in wire.notifications("qwenpair/chatDelta") if n["streamId"] == stream],
                      what="a chat delta")
        assert wire.responses(chat) == [], "the chat must still be streaming when shutdown arrives"
        reply = wire.call("shutdown", timeout=30)
        assert reply.get("error") is None and reply["result"] is None, reply
        answer = wire.response(chat, 30)
        assert answer["error"]["code"] == -32800, answer
        wire.notify("exit")
        assert wire.process.wait(30) == 0
        assert len(wire.responses(chat)) == 1
