"""``qwenpair/nextEdit`` over the real server (docs/lsp.md, "Next edits"): the user renames a
parameter on line 1 and the server proposes the matching change on line 2, as a jump from
line 1 and as an inline item with a replacing range on line 2; a secret file gets none.

The model is a scripted GGUF (``scripted_chat_model``: real llama.cpp, weights chosen so that
its greedy answer after the next-edit prompt's last token is the updated window).
"""

from __future__ import annotations

import sys
from pathlib import Path

from conftest import fast_options

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

ORIGINAL = "def scale(width):\n    return width * 3\n"
ANSWER = "def scale(w):\n    return w * 3"  # distinct tokens: a bigram chain can say it
LINE_2 = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 20}}


def test_rename_then_next_edit_jump_and_inline(start, workspace, tiny_model):
    from model.tokenizer import load_fast_tokenizer

    model = scripted_gguf(tiny_model, ANSWER, after=load_fast_tokenizer().encode("updated/pkg/scale.py\n").ids[-1])
    path = workspace / "pkg" / "scale.py"
    path.write_text(ORIGINAL)
    wire = start()
    wire.initialize(workspace, fast_options(model))
    uri = wire.open(path)
    wire.wait_ready()
    for k, typed in enumerate(["", "w"]):  # "width" deleted, then "w" typed: one edit in the history
        wire.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": 2 + k},
            "contentChanges": [{"range": {"start": {"line": 0, "character": 10},
                                          "end": {"line": 0, "character": 15 if k == 0 else 10}}, "text": typed}]})

    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["kind"] == "jump", got
    assert got["edits"] == [{"range": LINE_2, "newText": "    return w * 3"}]
    assert got["jump"] == {"line": 1, "character": 0} and got["item"] is None

    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}})
    assert got["kind"] == "inline"
    assert got["item"] == {"insertText": "    return w * 3", "range": LINE_2,
                           "command": {"title": "next edit", "command": "qwenpair.nextEdit"}}

    # copilot-language-server's shape, for clients written for it (copilot-lsp)
    got = wire.result("textDocument/copilotInlineEdit", {"textDocument": {"uri": uri, "version": 3},
                                                          "position": {"line": 0, "character": 11}})
    assert got == {"edits": [{"text": "    return w * 3", "range": LINE_2, "textDocument": {"uri": uri, "version": 3},
                              "command": {"title": "next edit", "command": "qwenpair.nextEdit"}}]}
    assert wire.result("workspace/executeCommand", {"command": "qwenpair.nextEdit", "arguments": []}) is None

    secret = wire.open(workspace / ".env")
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": secret}, "position": {"line": 0, "character": 0}})
    assert got["kind"] == "none" and "secret file" in got["reason"] and got["edits"] == []
    assert wire.shutdown_and_exit() == 0


def test_a_change_to_the_document_cancels_its_running_next_edit(start, workspace, tiny_model):
    """The tiny model's random weights write no window, so its answer runs on for seconds;
    the user typing makes it stale, and the shared model must be freed at once."""
    import time

    path = workspace / "pkg" / "scale.py"
    path.write_text(ORIGINAL)
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    uri = wire.open(path)
    wire.wait_ready()
    msg_id = wire.request("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}})
    time.sleep(0.2)  # the request starts
    t0 = time.monotonic()
    # The user keeps typing (a change every 0.1 s) until the answer comes: a change handled
    # before the request started cannot cancel it, the next one does; the 512-token answer
    # takes about a second on an idle machine (CI once finished it before a single change
    # sent after 1 s of sleep).
    version = 2
    while not wire.responses(msg_id) and time.monotonic() - t0 < 30:
        wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": ORIGINAL + f"# typed {version}\n"}]})
        version += 1
        time.sleep(0.1)
    got = wire.response(msg_id)["result"]
    assert got["kind"] == "none" and "(cancelled)" in got["reason"], got
    assert time.monotonic() - t0 < 5
    assert wire.shutdown_and_exit() == 0
