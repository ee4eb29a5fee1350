"""Streaming of multi-line suggestions through the scheduler and the cache (engine logic, with
the fake backend; over the real server and llama.cpp: tests/lsp_server/test_lsp_streaming.py).

The first line is delivered and cached as soon as the model has written it; the whole block
then replaces it in the cache. The fake backend sleeps per character, so "before the block
is done" is a real moment in time, not a mocked one.
"""

from pathlib import Path

import pytest

from assistant.cache import CachedCompletion, CompletionCache
from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from assistant.scheduler import Superseded
from model.backends.fake import FakeBackend

PATH = Path("/work/space/acme/fib.py")
OPENER = "def fib(n):\n"
BLOCK = "\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)"
INSIDE = "def f(x):\n    \n"  # a blank line inside a block: multi-line
BODY = "y = x + 1\n    return y"


def _engine(reply: str, per_char: float = 0.02) -> tuple[CompletionEngine, FakeBackend]:
    backend = FakeBackend(reply, seconds_per_token=per_char)
    config = EngineConfig(latency_target_s=100.0, candidates=1, max_tokens_multi=128, generation_time_cap_s=30.0)
    return CompletionEngine(backend, config=config), backend


def test_the_first_line_comes_first_and_the_block_replaces_it_in_the_cache():
    eng, backend = _engine(BLOCK)
    try:
        req = CompletionRequest(PATH, OPENER, 0, len("def fib(n):"))
        first, final = eng.complete_streamed(req)
        early = first.result(timeout=10)
        assert not final.done(), "the first line must not wait for the whole block"
        assert early.stop_reason == "first_line"
        assert early.text == "\n    if n < 2:"
        # the editor asks again while the block is written: the first line, from the cache
        again = eng.complete_sync(CompletionRequest(PATH, OPENER, 0, len("def fib(n):")), timeout=10)
        assert (again.cache, again.text, again.stop_reason) == ("hit", early.text, "first_line")
        assert not final.done(), "a cache hit must not supersede the block being written"
        whole = final.result(timeout=10)
        assert whole.text == BLOCK.rstrip()
        assert whole.text.startswith(early.text)
        last = eng.complete_sync(CompletionRequest(PATH, OPENER, 0, len("def fib(n):")), timeout=10)
        assert (last.cache, last.text, last.stop_reason) == ("hit", whole.text, "")
        assert len(backend.calls) == 1
    finally:
        eng.close()


def test_typed_ahead_on_the_first_line_gets_the_block_once_it_lands():
    eng, backend = _engine(BODY)
    try:
        col = len("    ")
        first, final = eng.complete_streamed(CompletionRequest(PATH, INSIDE, 1, col))
        assert first.result(timeout=10).text == "y = x + 1"
        typed = eng.complete_sync(CompletionRequest(PATH, "def f(x):\n    y = \n", 1, col + 4), timeout=10)
        assert (typed.cache, typed.text) == ("typed", "x + 1")
        final.result(timeout=10)
        # the rest served while the block was written was not stored: it now comes from the block
        later = eng.complete_sync(CompletionRequest(PATH, "def f(x):\n    y = \n", 1, col + 4), timeout=10)
        assert (later.cache, later.text) == ("typed", "x + 1\n    return y")
        assert len(backend.calls) == 1
    finally:
        eng.close()


def test_a_newer_request_cancels_the_block_and_forgets_its_first_line():
    eng, backend = _engine(BLOCK, per_char=0.05)
    try:
        req = CompletionRequest(PATH, OPENER, 0, len("def fib(n):"))
        first, final = eng.complete_streamed(req)
        assert first.result(timeout=10).text == "\n    if n < 2:"
        other = "def fib(n):\n\nx = 1"
        eng.complete(CompletionRequest(PATH, other, 2, 5))  # a miss: supersedes the block
        with pytest.raises(Superseded):
            final.result(timeout=10)
        eng.scheduler.wait_idle(timeout=30)
        # the cut-short block left no partial entry behind: asked again, the model runs
        calls = len(backend.calls)
        eng.complete_sync(req, timeout=30)
        assert len(backend.calls) == calls + 1
    finally:
        eng.close()


def test_a_single_line_suggestion_is_one_result():
    eng, _ = _engine("len(sys.argv)", per_char=0.0)
    try:
        first, final = eng.complete_streamed(CompletionRequest(PATH, "x = foo() + 1\n", 0, len("x = foo(")))
        assert first.result(timeout=10) is final.result(timeout=10)
        assert final.result().stop_reason != "first_line"
    finally:
        eng.close()


def test_cache_partial_entries_serve_typed_ahead_without_storing_it():
    c = CompletionCache()
    entry = CachedCompletion("total + 1", partial=True)
    c.put("a.py", "    return ", "\n", entry)
    hit = c.get("a.py", "    return tot", "\n")
    assert hit.completion.text == "al + 1" and hit.completion.partial
    assert len(c) == 1, "a rest of a partial entry is not stored"
    c.discard_partial("a.py", "    return ", "\n")
    assert len(c) == 0
    c.put("a.py", "    return ", "\n", CachedCompletion("total + 1"))
    c.discard_partial("a.py", "    return ", "\n")
    assert len(c) == 1, "a whole entry is kept"
