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
    wire.initialize(workspace, fast_options(model, next_edit={"pause_ms": 0}))
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
    assert got["precomputed"] is False and isinstance(got["id"], str) and got["id"]

    # the same text, the cursor on line 2: answered from that prediction, retargeted
    again = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4}})
    assert again["kind"] == "inline" and again["precomputed"] is True and again["id"] == got["id"]  # the same suggestion
    assert again["item"] == {"insertText": "    return w * 3", "range": LINE_2, "command": {
        "title": "qwenpair", "command": "qwenpair.nextEdit", "arguments": [{"id": again["id"], "kind": "next_edit"}]}}

    # copilot-language-server's shape, for clients written for it (copilot-lsp)
    got = wire.result("textDocument/copilotInlineEdit", {"textDocument": {"uri": uri, "version": 3},
                                                          "position": {"line": 0, "character": 11}})
    sid = got["edits"][0]["command"]["arguments"][0]["id"]
    assert got == {"edits": [{"text": "    return w * 3", "range": LINE_2, "textDocument": {"uri": uri, "version": 3},
                              "command": {"title": "qwenpair", "command": "qwenpair.nextEdit",
                                          "arguments": [{"id": sid, "kind": "next_edit"}]}}]}
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


RENAMED = "def scale(w):\n    return w * 3\n\nx = scale(w)"  # two edits after line 1's (a bigram chain can say it)
TEXT = "def scale(width):\n    return width * 3\n\nx = scale(width)\n"


def _scripted(tiny_model, name: str = "pkg/scale.py") -> Path:
    from model.tokenizer import load_fast_tokenizer

    return scripted_gguf(tiny_model, RENAMED, after=load_fast_tokenizer().encode(f"updated/{name}\n").ids[-1])


def _rename_parameter(wire, uri: str, version: int = 2) -> None:
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 10}, "end": {"line": 0, "character": 15}}, "text": "w"}]})


def _ready(wire, uri: str, version: int) -> None:
    wire.wait_for(lambda: {"uri": uri, "version": version} in [n["textDocument"] for n in wire.notifications(
        "qwenpair/nextEditReady")], timeout=60, what=f"qwenpair/nextEditReady for version {version}")


def _renamed_session(start, workspace, gguf: Path, **next_edit):
    """A server on ``gguf`` with ``TEXT`` open and its parameter renamed on line 1: (wire, uri)."""
    path = workspace / "pkg" / "scale.py"
    path.write_text(TEXT)
    wire = start()
    wire.initialize(workspace, fast_options(gguf, next_edit=next_edit))
    uri = wire.open(path)
    wire.wait_ready()
    _rename_parameter(wire, uri)
    return wire, uri


def test_after_an_edit_pause_the_next_edit_is_ready_and_answers_at_once(start, workspace, tiny_model):
    """The pause trigger: no request, the server computes the next edit in the background and
    says so; then qwenpair/nextEdit and textDocument/inlineCompletion answer from it."""
    wire, uri = _renamed_session(start, workspace, _scripted(tiny_model), pause_ms=50)
    _ready(wire, uri, 2)
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["precomputed"] is True and got["kind"] == "jump" and got["jump"] == {"line": 1, "character": 0}
    assert [e["newText"] for e in got["edits"]] == ["    return w * 3\n", "x = scale(w)"]  # the last line: no line break

    # an inline completion on line 2 gets the next edit as its first item: a range that replaces the line
    reply = wire.response(wire.inline(uri, 1, 4))["result"]
    first = reply["items"][0]
    assert first["insertText"] == "    return w * 3\n"
    assert first["range"] == {"start": {"line": 1, "character": 0}, "end": {"line": 2, "character": 0}}
    assert first["command"]["command"] == "qwenpair.nextEdit"
    assert first["command"]["arguments"] == [{"id": first["command"]["arguments"][0]["id"], "kind": "next_edit"}]
    # on line 3 (no edit at the cursor) the completion items stand alone
    reply = wire.response(wire.inline(uri, 2, 4))["result"]
    assert all((i.get("command") or {}).get("command") != "qwenpair.nextEdit" for i in reply["items"])
    assert wire.shutdown_and_exit() == 0


def test_accepting_a_next_edit_computes_the_one_after_it(start, workspace, tiny_model):
    """The accept trigger (pause_ms 0: no pause trigger): the client applies the jump's edit
    and runs the item's command with its id; the next edit (line 4) is computed at once."""
    wire, uri = _renamed_session(start, workspace, _scripted(tiny_model), pause_ms=0)
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["kind"] == "jump" and got["target"]["newText"] == "    return w * 3\n"
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": got["target"]["range"], "text": got["target"]["newText"]}]})
    assert wire.notifications("qwenpair/nextEditReady") == []  # no pause trigger
    wire.result("workspace/executeCommand", {"command": "qwenpair.nextEdit",
                                             "arguments": [{"id": got["id"], "kind": "next_edit"}]})
    _ready(wire, uri, 3)
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}})
    assert got["precomputed"] is True and got["kind"] == "jump" and got["jump"] == {"line": 3, "character": 0}
    assert got["edits"] == [{"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 16}},
                             "newText": "x = scale(w)"}]
    assert wire.shutdown_and_exit() == 0


def test_the_history_follows_a_renamed_file(start, workspace, tiny_model):
    """workspace/didRenameFiles, then the editor's open and close: the parameter's rename is
    still in the next-edit prompt under the new name (its .diff block and original window: more
    prompt tokens than the same text opened with no history)."""
    old, new, fresh = (workspace / "pkg" / n for n in ("scale.py", "size.py", "fresh.py"))
    text = TEXT
    renamed = text.replace("def scale(width)", "def scale(w)")
    old.write_text(text)
    fresh.write_text(renamed)
    wire = start()
    wire.initialize(workspace, fast_options(_scripted(tiny_model), next_edit={"pause_ms": 0}))
    fresh_uri = wire.open(fresh)
    wire.wait_ready()
    position = {"line": 0, "character": 11}
    alone = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": fresh_uri}, "position": position})
    assert alone["kind"] == "jump", alone
    wire.notify("textDocument/didClose", {"textDocument": {"uri": fresh_uri}})

    uri = wire.open(old)
    _rename_parameter(wire, uri)
    old.rename(new)
    wire.notify("workspace/didRenameFiles", {"files": [{"oldUri": uri, "newUri": new.as_uri()}]})
    new_uri = wire.open(new, renamed, version=3)  # the new name opens before the old one closes:
    wire.notify("textDocument/didClose", {"textDocument": {"uri": uri}})  # only didRenameFiles carries it
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": new_uri}, "position": position})
    assert got["kind"] == "jump" and got["edits"] == alone["edits"], got
    assert got["timings"]["prompt_tokens"] >= alone["timings"]["prompt_tokens"] + 10, (got["timings"], alone["timings"])
    assert wire.shutdown_and_exit() == 0


def test_a_separate_next_edit_model_is_loaded_on_first_use(start, workspace, tiny_model):
    """next_edit.model names another GGUF: completions stay on the tiny model, next edits come
    from the scripted one (the tiny model's random weights write no window); a model that
    cannot be loaded gives no suggestion, with a reason naming the setting."""
    wire, uri = _renamed_session(start, workspace, tiny_model.gguf, pause_ms=0, model=str(_scripted(tiny_model)))
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["kind"] == "jump" and got["target"]["newText"] == "    return w * 3\n", got
    assert wire.status()["model"] == str(tiny_model.gguf)

    missing = workspace / "nowhere.gguf"
    wire.notify("workspace/didChangeConfiguration", {"settings": {"qwenpair": {"next_edit": {"model": str(missing)}}}})
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}})
    assert got["kind"] == "none" and "next_edit.model" in got["reason"] and "nowhere.gguf" in got["reason"], got
    assert wire.shutdown_and_exit() == 0


def test_a_next_edit_computing_ahead_never_delays_a_completion(start, workspace, tiny_model):
    """The tiny model's random weights write on until the token cap, so a next edit takes long;
    one computing ahead after a pause gives way to an inline completion at once (a background
    job of the shared scheduler, cancelled at its next token), where a next-edit request of the
    same length takes the whole time."""
    import time

    slow = {"pause_ms": 50, "max_tokens": 2000, "generation_time_cap_s": 120, "prompt_time_cap_s": 60}
    wire, uri = _renamed_session(start, workspace, tiny_model.gguf, **slow)
    t0 = time.monotonic()
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}},
                      timeout=300)
    nes_s = time.monotonic() - t0
    assert got["kind"] == "none" and "(length)" in got["reason"], got  # it wrote all 2,000 tokens
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "text": "# note\n"}]})
    time.sleep(0.3)  # past the 50 ms pause: the next edit is computing ahead
    t0 = time.monotonic()
    reply = wire.response(wire.inline(uri, 2, 6), timeout=300)
    fim_s = time.monotonic() - t0
    assert "result" in reply, reply
    assert fim_s < nes_s / 2, (fim_s, nes_s)
    assert wire.shutdown_and_exit() == 0


def test_accepting_a_completion_computes_the_next_edit(start, workspace, tiny_model):
    """qwenpair.accepted (a completion's command, its id from the inline completion's item)
    also triggers the next edit, in the document the client just changed (pause_ms 0)."""
    wire, uri = _renamed_session(start, workspace, _scripted(tiny_model), pause_ms=0)
    items = wire.response(wire.inline(uri, 0, 13))["result"]["items"]
    assert items and items[0]["command"]["command"] == "qwenpair.accepted", items
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "text": "# ok"}]})
    assert wire.notifications("qwenpair/nextEditReady") == []
    wire.result("workspace/executeCommand", {"command": "qwenpair.accepted", "arguments": items[0]["command"]["arguments"]})
    _ready(wire, uri, 3)
    assert wire.shutdown_and_exit() == 0


def test_next_edits_turned_off_compute_nothing_until_turned_on(start, workspace, tiny_model):
    """next_edit.enabled = false: no background next edit after the pause or an accept, none
    among inline completions, and a request says why; turned on again, the same request gets
    the rename (so what stayed silent was the setting, not the model)."""
    import time

    wire, uri = _renamed_session(start, workspace, _scripted(tiny_model), pause_ms=50, enabled=False)
    wire.result("workspace/executeCommand", {"command": "qwenpair.nextEdit", "arguments": [{"id": "x", "kind": "next_edit"}]})
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["kind"] == "none" and "next_edit.enabled" in got["reason"]
    reply = wire.response(wire.inline(uri, 1, 4))["result"]
    assert all((i.get("command") or {}).get("command") != "qwenpair.nextEdit" for i in reply["items"])
    time.sleep(2.0)  # many times the pause: a background next edit on this model takes well under a second
    wire.status()
    assert wire.notifications("qwenpair/nextEditReady") == []

    wire.notify("workspace/didChangeConfiguration", {"settings": {"next_edit": {"pause_ms": 50, "enabled": True}}})
    wire.status()
    got = wire.result("qwenpair/nextEdit", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}})
    assert got["kind"] == "jump" and got["target"]["newText"] == "    return w * 3\n"
    assert wire.shutdown_and_exit() == 0
