"""Completions asked for while the model loads (issue 15): a real ``qwenpair serve`` whose
load takes a few seconds (``QWENPAIR_TEST_LOAD_DELAY_S``, test-only, before the real load of
the tiny model). The request waits for the model and gets a real completion; a newer one
supersedes it; the wait is capped; status says "loading" meanwhile."""

from __future__ import annotations

import time

from conftest import EMOJI_LINE, EMOJI_UTF16, fast_options
from lsp_wire import server_env

DELAY_S = 1.5


def _slow_loading(start, tmp_path, delay: float = DELAY_S):
    env = {**server_env(tmp_path), "QWENPAIR_TEST_LOAD_DELAY_S": str(delay)}
    return start(env=env)


def test_a_completion_asked_for_during_load_waits_and_gets_a_real_answer(start, workspace, tiny_model, tmp_path):
    wire = _slow_loading(start, tmp_path)
    # The cap is the latency target plus the expected remaining load: a 9.5 s target covers the
    # delay and the real load on a busy machine (the cap stays at most 10 s).
    wire.initialize(workspace, fast_options(tiny_model.gguf, engine={"max_tokens_single": 8, "max_tokens_multi": 8,
                                                                        "latency_target_s": 9.5}))
    uri = wire.open(workspace / "pkg" / "greet.py")
    t0 = time.monotonic()
    asked = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    time.sleep(0.5)
    status = wire.status()
    assert status["model_state"] == "loading"
    assert status["model_load"]["waiting_completions"] == 1
    reply = wire.response(asked, 60)
    waited = time.monotonic() - t0
    items = reply["result"]["items"]
    assert items and items[0]["insertText"].startswith(" name"), (waited, reply, wire.stderr.decode()[-3000:])  # the model's answer, not an empty one
    assert waited >= DELAY_S - 0.5  # it was answered after the load, not at once
    status = wire.status()
    assert status["model_state"] == "ready" and "model_load" not in status
    prompt = status["engine"]["prompt"]  # the prompt's size and growth state (issue 15)
    assert prompt["prompt_tokens"] > 0 and prompt["sized_by"] == "full budget"
    assert prompt["state"] in ("idle", "growing", "interrupted", "full", "stopped")
    assert wire.shutdown_and_exit() == 0


def test_a_newer_request_supersedes_a_waiting_one(start, workspace, tiny_model, tmp_path):
    wire = _slow_loading(start, tmp_path)
    wire.initialize(workspace, fast_options(tiny_model.gguf, engine={"max_tokens_single": 8, "max_tokens_multi": 8,
                                                                        "latency_target_s": 9.5}))
    uri = wire.open(workspace / "pkg" / "greet.py")
    first = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    time.sleep(0.3)
    second = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    assert wire.response(first, 30)["error"]["code"] == -32800  # at once, while still loading
    assert wire.status()["model_state"] == "loading"
    items = wire.response(second, 60)["result"]["items"]
    assert items and items[0]["insertText"].startswith(" name")
    assert len(wire.responses(first)) == 1 and len(wire.responses(second)) == 1
    assert wire.shutdown_and_exit() == 0


def test_the_wait_is_capped_by_the_latency_target_and_the_expected_load(start, workspace, tiny_model, tmp_path):
    wire = _slow_loading(start, tmp_path, delay=8.0)
    # The tiny model's expected load is well under a second: the cap is about 1 s here.
    wire.initialize(workspace, fast_options(tiny_model.gguf, engine={"latency_target_s": 0.8}))
    uri = wire.open(workspace / "pkg" / "greet.py")
    t0 = time.monotonic()
    asked = wire.inline(uri, EMOJI_LINE, EMOJI_UTF16)
    reply = wire.response(asked, 30)
    waited = time.monotonic() - t0
    assert reply["result"]["items"] == []  # answered empty when the cap passed
    assert 0.7 <= waited < 4.0, waited
    assert wire.status()["model_state"] == "loading"
    wire.kill()
