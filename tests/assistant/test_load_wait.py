"""assistant.load_wait: the cap of a completion's wait for a loading model, superseding, and
the expected load time learnt from the last load (pure logic; the real server test is
tests/lsp_server/test_lsp_load_wait.py)."""

from __future__ import annotations

import time

from assistant.load_wait import MAX_WAIT_S, LoadWait


def test_cap_is_target_plus_expected_remaining_load_at_most_ten_seconds(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"\0" * 1000)
    wait = LoadWait()
    wait.begin(model)
    assert 1.5 <= wait.cap_s(1.5) <= 1.5 + 0.2 + 0.01  # a tiny file: the floor of the expected load
    wait.begin(tmp_path / "absent.gguf")  # unknown size: 3 s expected
    assert 4.0 < wait.cap_s(1.5) <= 4.5
    assert wait.cap_s(30.0) == MAX_WAIT_S
    wait.end(True)
    assert wait.cap_s(1.5) == 1.5


def test_a_newer_request_supersedes_and_outcomes_follow_the_load():
    wait = LoadWait()
    wait.begin(None)
    assert wait.blocks_completions()
    t1, d1 = wait.enter("a.py", 5.0)
    t2, d2 = wait.enter("a.py", 5.0)
    other, d3 = wait.enter("b.py", 5.0)
    assert wait.outcome("a.py", t1, d1) == "superseded"
    assert wait.outcome("a.py", t2, d2) == "wait"
    assert wait.outcome("a.py", t2, time.monotonic() - 1) == "timeout"
    assert wait.status()["waiting_completions"] == 1  # b.py
    wait.end(False)
    assert wait.outcome("b.py", other, d3) == "failed"
    t4, d4 = wait.enter("a.py", 5.0)
    wait.begin(None)
    wait.end(True)
    assert wait.outcome("a.py", t4, d4) == "ready"
    wait.begin(None)  # a switch: the running model answers meanwhile
    assert not wait.blocks_completions()


def test_the_next_load_is_expected_at_the_measured_rate(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"\0" * 2_000_000)
    wait = LoadWait()
    wait.begin(model)
    time.sleep(0.5)  # 2 MB in 0.5 s: 4 MB/s
    wait.end(True)
    wait.begin(model)
    assert 0.4 < wait.status()["expected_load_s"] < 0.6
