"""``qwenpair chat`` and ``qwenpair edit`` as a user runs them: real subprocesses, the tiny
model on llama.cpp (random weights: structure, not content), real files and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

pytestmark = pytest.mark.slow

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
SCRIPTED = "    return b + a"  # what the scripted model answers to anything


@pytest.fixture(scope="session")
def scripted(tiny_model) -> Path:
    return scripted_gguf(tiny_model, SCRIPTED)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "calc.py").write_text(CODE)
    (tmp_path / ".env").write_text("API_KEY=sk-secret\n")
    return tmp_path


def qp(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qwenpair", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=dict(os.environ, **(env or {})))


class Live:
    """A running ``qwenpair`` whose stdout and stderr are collected as they come."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "qwenpair", *args], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out = bytearray()
        self.err = bytearray()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream, sink: bytearray) -> None:
        while chunk := os.read(stream.fileno(), 4096):
            sink.extend(chunk)

    def wait_for(self, test, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not test():
            assert self.proc.poll() is None, f"exited early waiting for {what}: {self.err.decode()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.err.decode()}"
            time.sleep(0.05)

    def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()


def test_one_shot_chat_streams_a_repository_aware_answer(repo, tiny_model):
    res = qp("chat", "What do these do?", "--file", f"{repo / 'calc.py'}:1-2", "--model", str(tiny_model.gguf),
             "--max-tokens", "8", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["prompt_format"] == "gguf" and out["stop_reason"] in ("eos", "length")
    assert 0 < out["generated_tokens"] <= 8 and out["prompt_tokens"] > 30
    assert {"kind": "selection", "source": "calc.py:1-2"} == {k: v for k, v in out["context"][-1].items() if k != "tokens"}


def test_ctrl_c_stops_a_one_shot_answer(repo, tiny_model):
    live = Live("chat", "Write a long essay.", "--model", str(tiny_model.gguf), "--max-tokens", "3000", cwd=repo)
    live.wait_for(lambda: len(live.out) > 0, "the answer to start streaming")
    live.proc.send_signal(signal.SIGINT)
    assert live.proc.wait(timeout=60) == 130
    live.wait_for(lambda: b"[interrupted]" in live.err or live.proc.poll() is not None, "the message")
    assert b"[interrupted]" in live.err and b"Traceback" not in live.err


def test_repl_survives_ctrl_c_and_keeps_answering(repo, tiny_model):
    live = Live("chat", "--file", str(repo / "calc.py"), "--model", str(tiny_model.gguf), "--max-tokens", "3000",
                cwd=repo)
    live.wait_for(lambda: b"you> " in live.err, "the prompt")
    for turn in (1, 2):
        before = len(live.out)
        live.send(f"question {turn}: explain add")
        live.wait_for(lambda: len(live.out) > before, f"answer {turn} to stream")
        live.proc.send_signal(signal.SIGINT)
        live.wait_for(lambda: live.err.count(b"[interrupted]") == turn and live.err.count(b"you> ") == turn + 1,
                      f"answer {turn} to stop and the prompt to come back")
    (repo / "calc.py").unlink()  # a refusal (here: the file is gone) is said, and the session goes on
    live.send("question 3: and now?")
    live.wait_for(lambda: b"cannot read" in live.err and live.err.count(b"you> ") == 4, "the error and the prompt")
    live.send("/reset")
    live.proc.stdin.close()  # Ctrl-D
    assert live.proc.wait(timeout=60) == 0, live.err.decode()
    assert b"(conversation forgotten)" in live.err and b"Traceback" not in live.err


def test_ctrl_c_stops_an_edit_and_changes_nothing(repo, tiny_model):
    live = Live("edit", f"{repo / 'calc.py'}:1-2", "-m", "add type hints", "--apply", "--model", str(tiny_model.gguf),
                cwd=repo)
    live.wait_for(lambda: b"the model is writing the edit" in live.err, "the model to start answering")
    live.proc.send_signal(signal.SIGINT)
    assert live.proc.wait(timeout=60) == 130
    live.wait_for(lambda: b"nothing was changed" in live.err or live.proc.poll() is not None, "the message")
    assert b"the edit was cancelled; nothing was changed" in live.err and b"Traceback" not in live.err
    assert (repo / "calc.py").read_text() == CODE


def test_missing_instruct_model_says_how_to_get_it(repo, tmp_path):
    res = qp("chat", "hi", env={"QWENPAIR_MODELS_DIR": str(tmp_path / "none")})
    assert res.returncode == 2
    assert "qwenpair model pull qwen2.5-coder-1.5b-instruct" in res.stderr and "Traceback" not in res.stderr
    res = qp("edit", f"{repo / 'calc.py'}:1-2", "-m", "x", env={"QWENPAIR_MODELS_DIR": str(tmp_path / "none")})
    assert res.returncode == 2 and "qwenpair model pull qwen2.5-coder-1.5b-instruct" in res.stderr
    res = qp("chat", "hi", "--model", "qwen2.5-coder-1.5b", env={"QWENPAIR_MODELS_DIR": str(tmp_path / "none")})
    assert "is a base (completion) model; chat and edit want an instruct model" in res.stderr


def test_model_auto_falls_back_to_the_tiny_model_loudly(repo, tmp_path, tiny_model):
    res = qp("chat", "hi", "--model", "auto", "--max-tokens", "2", env={"QWENPAIR_MODELS_DIR": str(tmp_path / "none")})
    assert res.returncode == 0, res.stderr
    assert "tiny test model" in res.stderr and "meaningless" in res.stderr


def test_secret_file_is_refused_with_the_reason(repo, tiny_model):
    for args in (("chat", "what is in it?", "--file", str(repo / ".env")), ("edit", str(repo / ".env"), "-m", "x")):
        res = qp(*args, "--model", str(tiny_model.gguf))
        assert res.returncode == 2, res.stderr
        assert "secret file" in res.stderr and "not sent to the model" in res.stderr
        assert "sk-secret" not in res.stdout + res.stderr


def test_show_prompt_needs_no_model(repo, tmp_path):
    env = {"QWENPAIR_MODELS_DIR": str(tmp_path / "none")}
    res = qp("edit", f"{repo / 'calc.py'}:5-6", "-m", "add type hints", "--show-prompt", env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
    assert "Rewrite lines 5-6 of `calc.py`" in res.stdout and "`calc.py` lines 1-4, before the selection" in res.stdout
    assert res.stdout.endswith("<|im_start|>assistant\n")
    res = qp("chat", "why?", "--file", f"{repo / 'calc.py'}:2", "--show-prompt", env=env)
    assert res.returncode == 0 and "Selected lines 2-2 of `calc.py`" in res.stdout


def test_edit_refuses_bad_input_before_loading_a_model(repo, tmp_path):
    env = {"QWENPAIR_MODELS_DIR": str(tmp_path / "none")}
    res = qp("edit", str(repo / "calc.py"), "-m", " ", env=env)
    assert res.returncode == 2 and "instruction is empty" in res.stderr, res.stderr
    huge = repo / "huge.py"
    huge.write_text("".join(f"value_{i} = {i} * {i}\n" for i in range(2000)))
    res = qp("edit", str(huge), "-m", "x", "--show-prompt", env=env)
    assert res.returncode == 2 and "select less (one function or class at a time)" in res.stderr, res.stderr
    res = qp("edit", f"{repo / 'calc.py'}:5-9", "-m", "x", "--show-prompt", env=env)
    assert res.returncode == 2 and "outside calc.py, which has 6 lines" in res.stderr
    res = qp("edit", f"{repo / 'calc.py'}:3-2", "-m", "x", env=env)
    assert res.returncode == 2 and "START <= END" in res.stderr


def test_edit_prints_a_diff_and_apply_writes_only_the_requested_lines(repo, scripted):
    target = f"{repo / 'calc.py'}:2"
    res = qp("edit", target, "-m", "swap the operands", "--model", str(scripted))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ("--- a/calc.py\n+++ b/calc.py\n@@ -1,5 +1,5 @@\n def add(a, b):\n"
                          "-    return a + b\n+    return b + a\n \n \n def sub(a, b):\n")
    assert "not applied" in res.stderr and (repo / "calc.py").read_text() == CODE
    res = qp("edit", target, "-m", "swap the operands", "--model", str(scripted), "--apply")
    assert res.returncode == 0 and "applied to" in res.stderr, res.stderr
    assert (repo / "calc.py").read_text() == CODE.replace("return a + b", "return b + a")
    assert sorted(p.name for p in repo.iterdir()) == [".env", ".git", "calc.py"]  # no temporary file left


def test_one_shot_chat_prints_exactly_the_streamed_answer(repo, scripted):
    res = qp("chat", "Why?", "--file", str(repo / "calc.py"), "--model", str(scripted))
    assert res.returncode == 0, res.stderr
    assert res.stdout == SCRIPTED + "\n"
