"""KV chunk reuse (model/kv_reuse.py) on the real llama.cpp with the tiny model: a prompt
whose early text lost a line reuses the cached entries after it, moved into place, and
answers as a fresh evaluation does (same greedy tokens, logprobs within tolerance); an
evaluation interrupted between steps leaves a cache the next completion can trust."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from model import kv_reuse
from model.backends.base import Cancelled, GenerationRequest

SOURCE = (Path(__file__).resolve().parents[2] / "assistant" / "cache.py").read_text().split("\n")
#: Logprobs of a moved chunk's continuation against a fresh evaluation (measured: 0.003).
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def backend(tiny_model):
    from model.backends.llama_cpp import LlamaCppBackend

    be = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=2)
    yield be
    be.close()


def _gen(be, prompt: str, reuse: bool = True):
    be.chunk_reuse = reuse
    try:
        return be.generate(GenerationRequest(prompt, max_tokens=10, stop_ids=frozenset()))
    finally:
        be.chunk_reuse = True


def _fresh(be, prompt: str):
    be.reset_cache()
    return _gen(be, prompt, reuse=False)


def test_plan_skips_removed_text_and_stops_at_inserted_text():
    cached = list(range(100))
    # tokens 10..19 removed: the prefix is kept, the rest is one chunk moved 10 to the left
    p = kv_reuse.plan(cached, cached[:10] + cached[20:] + [500], min_chunk=16)
    assert p.keep == 10 and [(c.old, c.new, c.length) for c in p.chunks] == [(20, 10, 80)]
    assert p.reused == 90
    # an insertion before cached text: nothing after it can be moved (it is appended instead)
    p = kv_reuse.plan(cached, cached[:10] + [700, 701] + cached[10:], min_chunk=16)
    assert p.keep == 10 and p.chunks == []
    # the last prompt token is always evaluated, even when cached
    assert kv_reuse.plan(cached, cached).keep == 99


def test_a_line_removed_early_reuses_the_rest_and_answers_as_a_fresh_evaluation(backend):
    before = "\n".join(SOURCE[:90]) + "\n    def tail(self"
    after = "\n".join(SOURCE[:5] + SOURCE[6:90]) + "\n    def tail(self"  # line 6 gone (a trimmed window)
    backend.reset_cache()
    _gen(backend, before)
    reused = _gen(backend, after)
    fresh = _fresh(backend, after)
    assert reused.prompt_tokens == fresh.prompt_tokens
    assert reused.evaluated_tokens <= 4, reused.evaluated_tokens  # only the tail, not the ~800 after the change
    assert fresh.evaluated_tokens == fresh.prompt_tokens
    assert reused.token_ids == fresh.token_ids
    assert max(abs(a - b) for a, b in zip(reused.logprobs, fresh.logprobs)) < TOLERANCE
    # off, the same change re-evaluates everything after it
    backend.reset_cache()
    _gen(backend, before)
    assert _gen(backend, after, reuse=False).evaluated_tokens > 500


class _CancelAfter(threading.Event):
    """A cancel event that reads as set from its ``n``-th check on: the evaluation stops
    between two of its steps, as when a request preempts background growth."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.checks, self.n = 0, n

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks >= self.n


class _CancelAtTokens(threading.Event):
    """A cancel event that reads as set once the cache holds ``n`` tokens: the evaluation
    stops between two of its steps, as when a request preempts background growth there
    (one inside a step is test_llama_backend's)."""

    def __init__(self, backend, n: int) -> None:
        super().__init__()
        self.backend, self.n = backend, n

    def is_set(self) -> bool:
        return self.backend._llm.n_tokens >= self.n  # noqa: SLF001


def test_a_prefill_interrupted_between_chunks_leaves_a_consistent_cache(backend):
    prompt = "\n".join(SOURCE[:80])
    backend.reset_cache()
    cancel = _CancelAtTokens(backend, 3 * 32)
    assert backend.prefill(prompt, cancel=cancel, chunk=32) == 0  # cancelled
    cached, total = backend.cached_tokens(prompt)
    assert cached == 3 * 32 and total > cached  # exactly the steps done
    follow = prompt + "\n    def tail(self"
    resumed = _gen(backend, follow)
    assert resumed.reused_tokens >= 3 * 32
    fresh = _fresh(backend, follow)
    assert resumed.token_ids == fresh.token_ids
    assert max(abs(a - b) for a, b in zip(resumed.logprobs, fresh.logprobs)) < 1e-3


def test_a_reuse_interrupted_while_evaluating_keeps_only_the_shared_prefix(backend):
    before = "\n".join(SOURCE[:90])
    after = "\n".join(SOURCE[:5] + SOURCE[6:60]) + "\n# new text that must be evaluated\n" * 40
    backend.reset_cache()
    _gen(backend, before)
    cancel = _CancelAfter(2)
    backend.chunk_reuse = True
    with backend._lock:  # noqa: SLF001 - the evaluation step itself, as generate calls it
        tokens = backend.tokenize(after)
        backend._llm.n_batch = 32
        try:
            with pytest.raises(Cancelled):
                backend._evaluate(tokens, cancel, None)
        finally:
            backend._llm.n_batch = 512
    old = backend.tokenize(before)
    shared = next(i for i, (a, b) in enumerate(zip(old, tokens)) if a != b)
    assert backend._llm.n_tokens == shared  # cut back to the shared prefix: moved cells are gone
    follow = after + "\n    def tail(self"
    resumed = _gen(backend, follow)
    fresh = _fresh(backend, follow)
    assert resumed.token_ids == fresh.token_ids
    assert max(abs(a - b) for a, b in zip(resumed.logprobs, fresh.logprobs)) < TOLERANCE
