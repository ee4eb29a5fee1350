"""A multi-line suggestion over the real server: the first line answers the request, the
whole block follows as a ``qwenpair/inlineCompletionExtended`` notification and is what the
next request at the same place gets, from the cache (docs/lsp.md, "Multi-line suggestions").

The model is a scripted GGUF (``scripted_chat_model``: real llama.cpp, weights chosen so that
the greedy continuation of the prompt's last token is known): at the end of
``def total(values):`` it writes a two-line body. The chain is fast, so the block lands
within milliseconds of the first line, but the request is still answered with the first
line alone: that is the moment the engine hands it over.
"""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import fast_options

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

ANSWER = "\n    if values:\n        return sum(values)"
FIRST_LINE = "\n    if values:"
DOCUMENT = "def total(values):\n"
CURSOR = {"line": 0, "character": len("def total(values):")}
EXTENDED = "qwenpair/inlineCompletionExtended"


def test_first_line_answers_and_the_block_follows(start, workspace, tiny_model):
    from model.tokenizer import load_fast_tokenizer

    model = scripted_gguf(tiny_model, ANSWER, after=load_fast_tokenizer().encode("def total(values):").ids[-1])
    (workspace / "pkg" / "total.py").write_text(DOCUMENT)
    wire = start()
    wire.initialize(workspace, fast_options(model, engine={"max_tokens_single": 16, "max_tokens_multi": 32}))
    uri = wire.open(workspace / "pkg" / "total.py")
    wire.wait_ready()
    params = {"textDocument": {"uri": uri}, "position": CURSOR, "context": {"triggerKind": 1}}

    msg_id = wire.request("textDocument/inlineCompletion", params)
    first = wire.response(msg_id)["result"]
    assert [i["insertText"] for i in first["items"]] == [FIRST_LINE]

    wire.wait_for(lambda: wire.notifications(EXTENDED), timeout=30, what="the extended suggestion")
    order = [m.get("method", m.get("id")) for m in wire.messages
             if ("method" not in m and m.get("id") == msg_id) or m.get("method") == EXTENDED]
    assert order == [msg_id, EXTENDED], "the block's notification never overtakes the first line's answer"
    (note,) = wire.notifications(EXTENDED)
    assert note["textDocument"] == {"uri": uri, "version": 1}
    assert note["position"] == CURSOR
    (item,) = note["items"]
    assert {k: v for k, v in item.items() if k != "command"} == {"insertText": ANSWER,
                                                                 "range": {"start": CURSOR, "end": CURSOR}}
    assert item["command"]["arguments"][0]["kind"] == "fim_block"  # a suggestion of its own (docs/lsp.md)
    assert item["command"]["arguments"][0]["id"] != first["items"][0]["command"]["arguments"][0]["id"]

    again = wire.result("textDocument/inlineCompletion", params)
    assert again["items"] == note["items"]
    assert wire.status()["engine"]["model_calls"] == 1
    assert len(wire.notifications(EXTENDED)) == 1, "a cache hit sends no notification"
    assert wire.shutdown_and_exit() == 0
