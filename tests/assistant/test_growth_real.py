"""Progressive context (issue 15) on the real llama.cpp with the tiny model: the first
completion is sized by the latency target, the full prompt then grows into the KV cache in
the background, and the next keystroke sends it whole, evaluating only its tail. Faults:
growth interrupted by a request, a file replaced wholesale, a short file, a 1 MB file, a
model switched and an adapter swapped mid-growth, shutdown during growth."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from model.backends.base import GenerationRequest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = (ROOT / "assistant" / "engine.py").read_text()
#: A latency target nothing cold fits: cold prompts are cut to about the smallest size (64 tokens,
#: a little more when the tiny model measures fast), far below the full 1,024.
CONFIG = EngineConfig(latency_target_s=0.01, max_tokens_single=6, max_tokens_multi=6, context_tokens=1024)
LINE = 200


@pytest.fixture
def backend(tiny_model):
    from model.backends.llama_cpp import LlamaCppBackend

    be = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=1)
    yield be
    be.close()


def _doc(text: str, typed: str, line: int = LINE) -> CompletionRequest:
    lines = text.split("\n")
    lines[line] += typed
    return CompletionRequest(ROOT / "assistant" / "engine.py", "\n".join(lines), line, len(lines[line]), explain=True)


def _engine(backend) -> CompletionEngine:
    return CompletionEngine(backend, config=CONFIG, workspace_root=ROOT)


def _wait_state(engine: CompletionEngine, states: tuple[str, ...], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = engine.status()["prompt"]
        if status["state"] in states:
            return status
        time.sleep(0.005)
    raise AssertionError(f"growth never reached {states}: {engine.status()['prompt']}")


def _tail_only(backend, result, request: CompletionRequest) -> bool:
    """Only the current line (the part after the grown stable prompt) was evaluated."""
    line = request.text.split("\n")[request.line]
    return result.evaluated_tokens <= len(backend.tokenize(line)) + 3


def _fresh(backend, prompt: str):
    backend.reset_cache()
    return backend.generate(GenerationRequest(prompt, max_tokens=6, stop_ids=frozenset()))


def _first_line(text: str) -> str:
    """What the engine's answer and a fresh evaluation must share: a single-line request stops
    at the model's first newline while ``_fresh`` writes on (CI once got ``')])`` against
    ``')])\n')])...``), and stale KV would already change the first tokens."""
    return text.strip().split("\n", 1)[0]


def test_the_prompt_grows_to_the_full_budget_and_the_next_keystroke_evaluates_its_tail(backend):
    engine = _engine(backend)
    try:
        first = engine.complete_sync(_doc(SOURCE, " a"))
        assert first.prompt_tokens < 300  # sized by the latency target
        assert "latency target" in first.explain[0].reason
        assert engine.scheduler.wait_idle(120)
        grown = engine.status()["prompt"]
        assert grown["state"] == "full" and grown["full_tokens"] > 800 and grown["cached_tokens"] == grown["full_tokens"]
        second = engine.complete_sync(request := _doc(SOURCE, " ab"))
        assert second.prompt_tokens > 800 and _tail_only(backend, second, request)
        assert "full budget" in second.explain[0].reason and "growth full" in second.explain[0].reason
        assert engine.status()["prompt"]["sized_by"] == "full budget"
    finally:
        engine.close()


def test_growth_interrupted_by_a_request_leaves_a_cache_that_answers_as_a_fresh_evaluation(backend):
    engine = _engine(backend)
    try:
        engine.complete_sync(_doc(SOURCE, " a"))
        status = _wait_state(engine, ("growing",))
        assert status["cached_tokens"] < status["full_tokens"]
        t0 = time.perf_counter()
        mid = engine.complete_sync(_doc(SOURCE, " ab"))  # preempts growth at a step boundary
        assert time.perf_counter() - t0 < 10
        assert engine.status()["prompt"]["interruptions"] == 1
        fresh = _fresh(backend, mid.prompt)
        assert mid.text and _first_line(mid.text) == _first_line(fresh.text)
    finally:
        engine.close()


def test_a_keystroke_while_the_prompt_grows_sends_all_that_grew_then_the_text_near_the_cursor(backend):
    engine = _engine(backend)
    try:
        first = engine.complete_sync(_doc(SOURCE, " a"))
        _wait_state(engine, ("growing",))
        deadline = time.monotonic() + 120
        while engine.status()["prompt"]["cached_tokens"] < 400 and time.monotonic() < deadline:
            time.sleep(0.005)
        mid = engine.complete_sync(_doc(SOURCE, " ab"))  # growth is not done: it stops mid-step
        status = engine.status()["prompt"]
        assert status["state"] == "interrupted" and 400 <= status["cached_tokens"] < status["full_tokens"]
        assert mid.prompt_tokens >= status["cached_tokens"] - 8 > first.prompt_tokens + 300  # every grown token
        assert mid.evaluated_tokens <= 64 + 16  # the text near the cursor (the cold budget), not the grown part
        assert any("what growth cached" in e.reason for e in mid.explain)
        assert any("left out until the prompt grows" in e.reason for e in mid.explain)
        fresh = _fresh(backend, mid.prompt)  # the aborted step left nothing stale behind
        assert mid.text and _first_line(mid.text) == _first_line(fresh.text)
        nxt = engine.complete_sync(request := _doc(SOURCE, " abc"))  # typing on: the same layout
        assert nxt.prompt_tokens == mid.prompt_tokens + len(backend.tokenize(" abc")) - len(backend.tokenize(" ab"))
        assert _tail_only(backend, nxt, request)
    finally:
        engine.close()


def test_a_document_replaced_wholesale_starts_cold_and_grows_again(backend):
    engine = _engine(backend)
    try:
        engine.complete_sync(_doc(SOURCE, " a"))
        assert engine.scheduler.wait_idle(120)
        other = (ROOT / "assistant" / "context.py").read_text()  # a git checkout: all text changed
        cold = engine.complete_sync(_doc(other, " x", line=100))
        assert cold.prompt_tokens < 300
        assert engine.scheduler.wait_idle(120)
        assert engine.status()["prompt"]["state"] == "full"
        warm = engine.complete_sync(request := _doc(other, " xy", line=100))
        assert warm.prompt_tokens > 800 and _tail_only(backend, warm, request)
    finally:
        engine.close()


def test_a_file_shorter_than_the_budget_grows_to_its_size_and_stops(backend):
    engine = _engine(backend)
    short = "import os\n\n\ndef main():\n    path = os.getcwd()\n    return path\n" * 3
    try:
        engine.complete_sync(CompletionRequest(ROOT / "short.py", short + "x = ", 18, 4))
        assert engine.scheduler.wait_idle(60)
        status = engine.status()["prompt"]
        assert status["state"] == "full" and status["full_tokens"] < 300
        steps = status["steps"]
        again = engine.complete_sync(request := CompletionRequest(ROOT / "short.py", short + "x = o", 18, 5))
        assert engine.scheduler.wait_idle(60)
        assert _tail_only(backend, again, request)
        assert engine.status()["prompt"]["steps"] == steps  # nothing left to grow: no step taken
    finally:
        engine.close()


def test_a_1_mb_file_completes_and_growth_ends(backend):
    engine = _engine(backend)
    big = "".join(f"value_{i} = compute({i}, scale=2)\n" for i in range(40_000))  # ~1.3 MB
    assert len(big) > 1_000_000
    try:
        request = CompletionRequest(ROOT / "big.py", big, 20_000, len("value_20000 = compute(20000, "))
        t0 = time.perf_counter()
        engine.complete_sync(request)
        assert engine.scheduler.wait_idle(120)
        assert engine.status()["prompt"]["state"] in ("full", "stopped")
        assert time.perf_counter() - t0 < 120
    finally:
        engine.close()


def test_a_model_switched_mid_growth_restarts_growth_with_no_stale_cache(backend, tiny_model):
    from model.backends.llama_cpp import LlamaCppBackend

    engine = _engine(backend)
    other = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=2048, n_threads=1)  # another file, other numbers
    try:
        engine.complete_sync(_doc(SOURCE, " a"))
        _wait_state(engine, ("growing",))
        old = engine.set_backend(other)  # a request: it preempts growth
        assert old is backend
        assert engine.status()["prompt"]["state"] == "idle"  # reset: nothing grown before counts
        first = engine.complete_sync(_doc(SOURCE, " ab"))
        assert first.prompt_tokens < 300 and engine.status()["prompt"]["sized_by"] == "latency target"  # cold on the new model
        assert engine.scheduler.wait_idle(120)
        assert engine.status()["prompt"]["state"] == "full"
        warm = engine.complete_sync(request := _doc(SOURCE, " abc"))
        assert _tail_only(other, warm, request)
        fresh = _fresh(other, warm.prompt)
        assert _first_line(warm.text) == _first_line(fresh.text)
    finally:
        engine.close()
        other.close()


def test_an_adapter_swapped_mid_growth_leaves_no_stale_cache(tiny_model, tmp_path):
    from model.backends.llama_cpp import LlamaCppBackend

    sys.path.insert(0, str(ROOT / "tests" / "model"))
    from test_llama_backend import _lora

    be = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=2048, n_threads=1)
    engine = _engine(be)
    try:
        engine.complete_sync(_doc(SOURCE, " a"))
        _wait_state(engine, ("growing",))
        be.set_adapter(_lora(tiny_model, tmp_path, 50.0))  # what the server does: the KV cache is dropped
        engine.set_backend(be)  # and the engine is told (lsp_server/background.py)
        assert engine.scheduler.wait_idle(120) is True
        after = engine.complete_sync(_doc(SOURCE, " ab"))
        fresh = _fresh(be, after.prompt)
        assert _first_line(after.text) == _first_line(fresh.text)
    finally:
        engine.close()
        be.close()


def test_shutdown_during_growth_does_not_hang(backend):
    engine = _engine(backend)
    engine.complete_sync(_doc(SOURCE, " a"))
    _wait_state(engine, ("growing",))
    t0 = time.perf_counter()
    engine.close()
    assert time.perf_counter() - t0 < 5
    assert not engine.scheduler._thread.is_alive()


class _ShiftingRetriever:
    """Retrieval whose answer changes every time it is asked (an index that moves on): what
    a snippet refresh after a pause can do to a grown prompt's prefix."""

    def __init__(self) -> None:
        self.calls = 0

    def retrieve(self, path, text, line, col):
        from repo_index import Snippet

        self.calls += 1
        body = "".join(f"def helper_{self.calls}_{i}(x):\n    return x + {i}\n" for i in range(8))
        return [Snippet(path="pkg/helpers.py", start_line=0, end_line=16, text=body, score=1.0, kind="definition",
                        reason="test")]


def test_a_pause_on_the_same_line_keeps_the_grown_prompt_s_snippets(backend):
    retriever = _ShiftingRetriever()
    engine = CompletionEngine(backend, config=CONFIG, workspace_root=ROOT, retriever=retriever)
    try:
        engine.complete_sync(_doc(SOURCE, " a"))
        assert engine.scheduler.wait_idle(120)
        assert engine.status()["prompt"]["state"] == "full"
        time.sleep(CONFIG.snippet_refresh_s + 0.3)  # a pause: snippets would be re-ranked
        asked = retriever.calls
        after = engine.complete_sync(request := _doc(SOURCE, " ab"))
        assert retriever.calls == asked  # held: not asked again
        assert "helper_" in after.prompt and after.prompt_tokens > 800 and _tail_only(backend, after, request)
        # another line: the set is refreshed as before
        engine.complete_sync(_doc(SOURCE, " x", line=LINE + 2))
        assert retriever.calls > asked
    finally:
        engine.close()
