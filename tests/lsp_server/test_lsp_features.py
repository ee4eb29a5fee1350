"""Features over a real ``qwenpair serve`` with the tiny model: the completion fallback,
cancellation and superseding, progress, configuration changes, commands, code actions,
and a model that cannot load."""

from __future__ import annotations

import json
import time

import numpy as np
from conftest import EMOJI_LINE, EMOJI_UTF16, fast_options
from lsp_wire import default_capabilities

#: Long generations (about 5 s of the tiny model) to cancel while they run.
SLOW = {"engine": {"max_tokens_single": 2000, "max_tokens_multi": 2000, "generation_time_cap_s": 60.0,
                   "prompt_time_cap_s": 60.0, "latency_target_s": 60.0},
        "chat": {"max_answer_tokens": 2000}, "n_ctx": 4096}


def test_completion_fallback_for_clients_without_inline_completion(start, workspace, tiny_model):
    wire = start()
    caps = default_capabilities(textDocument={"completion": {"completionItem": {}}})
    wire.initialize(workspace, fast_options(tiny_model.gguf), caps)
    uri = wire.open(workspace / "pkg" / "greet.py")
    wire.wait_ready()
    result = wire.result("textDocument/completion", {"textDocument": {"uri": uri},
                                                     "position": {"line": EMOJI_LINE, "character": EMOJI_UTF16}})
    item = result["items"][0]
    assert item["textEdit"]["newText"].startswith(" name")
    where = {"line": EMOJI_LINE, "character": EMOJI_UTF16}
    assert item["textEdit"]["range"] == {"start": where, "end": where}
    assert item["label"].startswith("name")
    assert wire.shutdown_and_exit() == 0


def test_cancel_and_supersede_answer_minus_32800_once_and_sync_never_waits(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf, **SLOW))
    uri = wire.open(workspace / "pkg" / "greet.py")
    wire.wait_ready()
    first = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    time.sleep(0.5)  # the first is generating (about 5 s) when the second arrives
    second = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    assert wire.response(first, 30)["error"]["code"] == -32800
    # While the second generates, document sync and other requests go on.
    wire.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}}, "text": "    # ok\n"}]})
    status = wire.status()
    assert status["open_documents"] == 1
    assert wire.responses(second) == [], "the slow completion must still be running"
    wire.notify("$/cancelRequest", {"id": second})
    assert wire.response(second, 30)["error"]["code"] == -32800

    chat = wire.request("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "Explain.", "uri": uri, "streamId": "s1"}]})
    wire.wait_for(lambda: wire.notifications("qwenpair/chatDelta"), what="a chat delta")
    wire.notify("$/cancelRequest", {"id": chat})
    assert wire.response(chat, 30)["error"]["code"] == -32800
    after = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    wire.notify("$/cancelRequest", {"id": after})
    wire.response(after, 30)
    time.sleep(0.5)
    for msg_id in (first, second, chat, after):
        assert len(wire.responses(msg_id)) == 1
    assert wire.shutdown_and_exit() == 0


def _progress(wire, title_part):
    """(token, kinds) of the work-done progress whose title contains ``title_part``."""
    created = {m["params"]["token"] for m in wire.messages if m.get("method") == "window/workDoneProgress/create"}
    for p in wire.notifications("$/progress"):
        if p["value"].get("kind") == "begin" and title_part in p["value"]["title"]:
            token = p["token"]
            assert token in created, "a server-initiated token must be created first"
            return token, [q["value"]["kind"] for q in wire.notifications("$/progress") if q["token"] == token]
    return None, []


def test_progress_for_model_loading_and_indexing_and_reindex(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf, calibrate=True))
    status = wire.wait_ready()
    assert status["index"] == {"files": 2, "state": "ready", "roots": {str(workspace.resolve()): {"state": "ready", "files": 2}}}
    wire.wait_for(lambda: _progress(wire, "loading model")[1][-1:] == ["end"], what="model progress end")
    token, kinds = _progress(wire, "loading model")
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert status["engine"]["prompt_tokens_per_s"] > 0, "calibrated once after loading"
    assert _progress(wire, "indexing")[1][-1] == "end"
    (workspace / "pkg" / "more.py").write_text("def mul(a, b):\n    return a * b\n")
    before = len(wire.notifications("$/progress"))
    assert wire.result("workspace/executeCommand", {"command": "qwenpair.reindex"}) == {"files": 3}
    wire.wait_for(lambda: len(wire.notifications("$/progress")) > before, what="reindex progress")

    other = workspace.parent / "second-root"  # multi-root: a folder added later is indexed too
    other.mkdir()
    (other / "lib.py").write_text("def lib():\n    return 1\n")
    wire.notify("workspace/didChangeWorkspaceFolders", {"event": {
        "added": [{"uri": other.as_uri(), "name": "second-root"}], "removed": []}})
    wire.wait_for(lambda: wire.status()["index"]["roots"].get(str(other.resolve()), {}).get("state") == "ready",
                  what="the second root indexed")
    assert wire.status()["index"]["files"] == 4
    wire.notify("workspace/didChangeWorkspaceFolders", {"event": {
        "added": [], "removed": [{"uri": workspace.as_uri(), "name": "project"}]}})
    wire.wait_for(lambda: list(wire.status()["index"]["roots"]) == [str(other.resolve())], what="the first root removed")
    assert wire.shutdown_and_exit() == 0


def test_configuration_change_and_switch_model_without_restart(start, workspace, tiny_model):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf, threads="many"))
    wire.wait_ready()
    warnings = [m["message"] for m in wire.notifications("window/showMessage")]
    assert any("'threads'" in m for m in warnings), warnings
    pid = wire.process.pid

    f16 = str(tiny_model.gguf_f16)
    wire.notify("workspace/didChangeConfiguration", {"settings": {"qwenpair": {
        "model": f16, "chat_model": f16, "n_ctx": 2048, "engine": {"max_tokens_single": "lots"}}}})
    wire.wait_for(lambda: any("max_tokens_single" in m["message"] for m in wire.notifications("window/showMessage")),
                  what="a message naming the invalid key")
    deadline = time.monotonic() + 60
    while wire.status()["model"] != f16 or wire.status()["model_state"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    uri = wire.open(workspace / "pkg" / "greet.py")
    assert wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri},
                       "position": {"line": EMOJI_LINE, "character": EMOJI_UTF16}, "context": {"triggerKind": 1}})["items"]

    switched = wire.result("workspace/executeCommand", {"command": "qwenpair.switchModel",
                                                        "arguments": [{"model": str(tiny_model.gguf)}]})
    assert switched["model"] == str(tiny_model.gguf) and switched["model_state"] == "ready"
    assert switched["chat_model"] == f16, "the chat model is configured separately"
    bad = wire.call("workspace/executeCommand", {"command": "qwenpair.switchModel", "arguments": [{"modle": "x"}]})
    assert bad["error"]["code"] == -32602
    assert wire.process.pid == pid and wire.process.poll() is None
    assert wire.shutdown_and_exit() == 0


def _adapter(tiny_model, folder, base_name: str = "qwenpair-test-tiny"):
    """A real LoRA GGUF for the tiny model, with a meta.json naming its base."""
    from model.adapter_meta import AdapterMeta, BaseModel
    from model.lora_gguf import write_lora_gguf

    cfg = json.loads((tiny_model.hf_dir / "config.json").read_text())
    if base_name != "qwenpair-test-tiny":
        cfg = {**cfg, "num_hidden_layers": cfg["num_hidden_layers"] + 1}  # another base's shape
    rng = np.random.default_rng(0)
    pairs = {f"blk.{i}.attn_q.weight": (rng.normal(size=(4, cfg["hidden_size"])), rng.normal(size=(cfg["hidden_size"], 4)))
             for i in range(json.loads((tiny_model.hf_dir / "config.json").read_text())["num_hidden_layers"])}
    folder.mkdir(parents=True)
    path = write_lora_gguf(folder / "adapter.gguf", pairs, alpha=8.0)
    meta = AdapterMeta(base=BaseModel.from_hf_config(base_name, cfg), files={"adapter": "adapter.gguf"})
    (folder / "meta.json").write_text(json.dumps(meta.to_json()))
    return str(path)


def test_adapter_swaps_in_place_and_a_wrong_one_is_refused(start, workspace, tiny_model, tmp_path):
    wire = start()
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    wire.wait_ready()
    good = _adapter(tiny_model, tmp_path / "good")
    status = wire.result("workspace/executeCommand", {"command": "qwenpair.switchModel", "arguments": [{"adapter": good}]})
    assert status["adapter"] == good and status["model"] == str(tiny_model.gguf) and not status["model_problem"]
    wrong = _adapter(tiny_model, tmp_path / "wrong", base_name="other-base")
    status = wire.result("workspace/executeCommand", {"command": "qwenpair.switchModel", "arguments": [{"adapter": wrong}]})
    assert status["adapter"] == good and status["model_problem"]
    wire.wait_for(lambda: any("Still using adapter" in m["message"] for m in wire.notifications("window/showMessage")),
                  what="a message about the refused adapter")
    status = wire.result("workspace/executeCommand", {"command": "qwenpair.switchModel", "arguments": [{"adapter": None}]})
    assert status["adapter"] is None
    assert wire.shutdown_and_exit() == 0


def test_a_model_that_fails_to_load_gives_empty_completions_and_says_how_to_fix(start, workspace, tmp_path):
    wire = start()
    wire.initialize(workspace, {"model": str(tmp_path / "missing.gguf")})
    uri = wire.open(workspace / "pkg" / "greet.py")
    wire.wait_for(lambda: wire.notifications("window/showMessage"), what="an error message")
    message = wire.notifications("window/showMessage")[0]
    assert message["type"] == 1 and "missing.gguf" in message["message"] and "does not exist" in message["message"]
    assert wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
        "line": EMOJI_LINE, "character": EMOJI_UTF16}, "context": {"triggerKind": 1}}) == {"items": []}
    status = wire.status()
    assert status["model_state"] == "failed" and "missing.gguf" in status["model_problem"]
    assert wire.shutdown_and_exit() == 0

    wire = start()  # no model configured and the default one not downloaded
    wire.initialize(workspace, None)
    wire.wait_for(lambda: wire.notifications("window/showMessage"), what="an error message")
    assert "qwenpair model pull qwen2.5-coder-1.5b" in wire.notifications("window/showMessage")[0]["message"]
    assert wire.shutdown_and_exit() == 0


def test_commands_chat_edit_status_and_code_actions(start, workspace, tiny_model, tmp_path):
    log_file = tmp_path / "logs" / "server.log"
    wire = start("--log-file", str(log_file))  # a server-side setting: never from the client
    wire.initialize(workspace, fast_options(tiny_model.gguf))
    uri = wire.open(workspace / "pkg" / "util.py", version=3)
    status = wire.wait_ready()
    assert {"model", "chat_model", "adapter", "index", "last_latency_ms", "rss_mb", "position_encoding"} <= set(status)
    assert status["rss_mb"] > 10 and status["chat_model"] == str(tiny_model.gguf)

    no_duplicates = wire.result("textDocument/completion", {"textDocument": {"uri": uri},
                                                            "position": {"line": 1, "character": 16}})
    assert no_duplicates["items"] == [], "inline-capable clients get the completion inline only"

    selection = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    diagnostic = {"range": selection, "message": "missing type hints", "severity": 2}
    actions = wire.result("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": selection,
                                                       "context": {"diagnostics": [diagnostic]}})
    titles = [a["title"] for a in actions]
    assert titles == ["qwenpair: Edit selection…", "qwenpair: Explain", "qwenpair: Fix", "qwenpair: Add docstring",
                      "qwenpair: Generate tests"]
    edit_action = actions[0]["command"]
    assert edit_action["command"] == "qwenpair.edit" and "instruction" not in edit_action["arguments"][0]
    assert actions[2]["kind"] == "quickfix" and actions[2]["diagnostics"][0]["message"] == "missing type hints"

    answer = wire.result("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "What does add do?", "uri": uri, "range": selection, "streamId": "q1",
         "history": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]})
    assert set(answer) == {"text", "stop_reason", "warnings", "sent"}
    deltas = "".join(n["text"] for n in wire.notifications("qwenpair/chatDelta") if n["streamId"] == "q1")
    assert answer["text"] and deltas.startswith(answer["text"][:5])
    wire.result("workspace/executeCommand", {"command": "qwenpair.chat", "workDoneToken": "chat-1",
                                             "arguments": [{"question": "And sub?"}]})
    wire.wait_for(lambda: [p["value"]["kind"] for p in wire.notifications("$/progress") if p["token"] == "chat-1"][-1:] == ["end"],
                  what="progress on the client's token")
    assert [p["value"]["kind"] for p in wire.notifications("$/progress") if p["token"] == "chat-1"][0] == "begin"

    stale = wire.call("workspace/executeCommand", {"command": "qwenpair.edit", "arguments": [
        {"uri": uri, "range": selection, "instruction": "add type hints", "version": 2}]})
    assert stale["error"]["code"] == -32801
    no_instruction = wire.call("workspace/executeCommand", {"command": "qwenpair.edit", "arguments": [
        {"uri": uri, "range": selection}]})
    assert no_instruction["error"]["code"] == -32602 and "instruction" in no_instruction["error"]["message"]
    secret = wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "What is in it?", "uri": (workspace / ".env").as_uri(),
         "range": {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}}]})
    assert secret["error"]["code"] == -32803 and "secret" in secret["error"]["message"]
    outside = tmp_path / "elsewhere" / ".env"  # outside every root: the same rules hold
    outside.parent.mkdir()
    outside.write_text("API_KEY=secret\n")
    outside_uri = wire.open(outside)
    assert wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": outside_uri}, "position": {
        "line": 0, "character": 14}, "context": {"triggerKind": 1}}) == {"items": []}
    refused = wire.call("workspace/executeCommand", {"command": "qwenpair.chat", "arguments": [
        {"question": "What is in it?", "uri": outside_uri}]})
    assert refused["error"]["code"] == -32803 and "secret" in refused["error"]["message"]
    assert wire.call("workspace/executeCommand", {"command": "qwenpair.nope"})["error"]["code"] == -32602
    assert wire.shutdown_and_exit() == 0
    assert "model ready" in log_file.read_text()
    assert any("model ready" in m["message"] for m in wire.notifications("window/logMessage"))
