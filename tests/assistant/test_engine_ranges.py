"""The engine's line-mode decision and item ranges, with the fake backend (engine logic only;
the same item over the real server and llama.cpp: tests/lsp_server/test_lsp_replace_range.py)."""

from pathlib import Path

from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from model.backends.fake import FakeBackend

PATH = Path("/work/space/acme/app/main.py")
DOC = "import sys\n\nprint()\n"
COL = len("print(")


def _engine(reply, **config) -> CompletionEngine:
    return CompletionEngine(FakeBackend(reply), config=EngineConfig(latency_target_s=100.0, **config))


def test_the_item_replaces_the_auto_closed_paren_and_a_cache_hit_keeps_the_range():
    eng = _engine("len(sys.argv))")
    try:
        result = eng.complete_sync(CompletionRequest(PATH, DOC, 2, COL))
        item = result.items[0]
        assert (item.text, item.line, item.col, item.end_line, item.end_col) == ("len(sys.argv))", 2, COL, 2, COL + 1)
        again = eng.complete_sync(CompletionRequest(PATH, DOC, 2, COL))
        assert again.cache == "hit" and again.items[0].end_col == COL + 1
        # typed ahead: the rest of the suggestion still replaces the `)`
        typed = eng.complete_sync(CompletionRequest(PATH, "import sys\n\nprint(len)\n", 2, COL + 3))
        assert typed.cache == "typed"
        assert typed.items[0].text == "(sys.argv))" and typed.items[0].end_col == COL + 4
    finally:
        eng.close()


def test_an_item_without_the_closers_is_a_plain_insertion():
    eng = _engine("len(sys.argv)")
    try:
        item = eng.complete_sync(CompletionRequest(PATH, DOC, 2, COL)).items[0]
        assert (item.text, item.end_col) == ("len(sys.argv)", COL)
    finally:
        eng.close()


def test_multi_line_at_a_block_opener_with_a_body_and_single_mid_line():
    backend = FakeBackend("\n        return 0")
    eng = CompletionEngine(backend, config=EngineConfig(latency_target_s=100.0))
    try:
        text = "def f(x):\n    if x < 0:\n        return 1\n"
        eng.complete_sync(CompletionRequest(PATH, text, 1, len("    if x < 0:")))
        assert "\n" not in backend.calls[-1].stop_texts, "a block opener with a body: multi-line"
        eng.complete_sync(CompletionRequest(PATH, "y = f() + 1\n", 0, len("y = f(")))
        assert "\n" in backend.calls[-1].stop_texts, "text after the cursor: single-line"
    finally:
        eng.close()


def test_speculation_applies_the_range_before_completing_after_the_suggestion():
    seen = []

    def reply(prompt: str) -> str:
        seen.append(str(prompt))
        return "len(sys.argv))"

    eng = _engine(reply, speculative=True)
    try:
        eng.complete_sync(CompletionRequest(PATH, DOC, 2, COL))
        assert eng.scheduler.wait_idle(timeout=5) and eng.counters["speculative"] == 1
        # the text after the suggestion has the `)` replaced, not doubled before the suffix
        assert "print(len(sys.argv))" in seen[-1] and "<|fim_suffix|>)" not in seen[-1]
    finally:
        eng.close()
