"""Engine logic with the fake backend (character tokens): caching, cancellation, layout."""

from pathlib import Path

import pytest

from assistant.config import EngineConfig
from repo_index import Snippet
from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from model.backends.fake import FakeBackend

ROOT = Path("/work/space/acme").resolve()


class ListRetriever:
    """A retriever that answers from a fixed list and counts calls."""

    def __init__(self, snippets):
        self.snippets = snippets
        self.calls = 0

    def retrieve(self, path, text, line, col):
        self.calls += 1
        return self.snippets


@pytest.fixture()
def engine():
    eng = CompletionEngine(
        FakeBackend(lambda prompt: "total(items)\n    more()"),
        config=EngineConfig(latency_target_s=100.0),
        workspace_root=ROOT,
        retriever=ListRetriever(
            [Snippet(path="lib/util.py", start_line=3, end_line=5, text="def total(xs):\n    return sum(xs)",
                     score=1.0, kind="definition", reason="defines total, used near the cursor")]
        ),
    )
    yield eng
    eng.close()


def req(text, line, col, path=ROOT / "app" / "main.py", **kw):
    return CompletionRequest(path, text, line, col, **kw)


def test_repo_level_prompt_with_real_paths_and_the_current_line_after_fim_middle(engine):
    text = "import util\n\nx = \ny = 2\n"
    result = engine.complete_sync(req(text, 2, 4))
    assert result.prompt.startswith("<|repo_name|>acme\n<|file_sep|>lib/util.py\ndef total(xs):")
    assert "<|file_sep|>app/main.py\n<|fim_prefix|>import util\n\n<|fim_suffix|>\ny = 2\n<|fim_middle|>x = " in result.prompt
    assert result.prompt.endswith("<|fim_middle|>x = ")
    assert result.text == "total(items)"  # mid-line context ends at the line


def test_cache_hit_and_typed_ahead_make_no_model_call(engine):
    text = "x = \n"
    first = engine.complete_sync(req(text, 0, 4))
    assert first.cache == "miss" and first.text == "total(items)"
    calls = engine.counters["model_calls"]
    again = engine.complete_sync(req(text, 0, 4))
    assert again.cache == "hit" and again.text == "total(items)"
    typed = engine.complete_sync(req("x = tot\n", 0, 7))
    assert typed.cache == "typed" and typed.text == "al(items)"
    assert engine.counters["model_calls"] == calls


def test_typing_on_a_line_keeps_the_prompt_prefix_and_the_snippets(engine):
    retriever = engine.context.retriever
    base = "def f():\n    return \n"
    evaluated = []
    line = "    return "
    for typed in ["a", "ab", "abc", "abcd"]:
        text = f"def f():\n{line}{typed}\n"
        result = engine.complete_sync(req(text, 1, len(line) + len(typed)))
        if result.cache == "miss":
            evaluated.append(result.evaluated_tokens)
    assert retriever.calls == 1  # the snippet set is frozen while on this line
    assert evaluated and all(n <= 2 for n in evaluated[1:])  # only the typed characters
    del base


def test_moving_to_another_line_re_ranks(engine):
    engine.complete_sync(req("a\nb\n", 0, 1))
    engine.complete_sync(req("a\nb\n", 1, 1))
    assert engine.context.retriever.calls == 2


def test_file_outside_the_workspace_gets_a_file_level_prompt(engine):
    result = engine.complete_sync(req("x = \n", 0, 4, path=Path("/tmp/elsewhere/s.py")))
    assert result.prompt.startswith("<|fim_prefix|>")
    assert "<|repo_name|>" not in result.prompt


def test_path_policy_refusal_gives_an_empty_result_with_the_reason():
    eng = CompletionEngine(FakeBackend("SECRET"), workspace_root=ROOT, path_policy=lambda p, text=None: (False, "secret file"))
    try:
        result = eng.complete_sync(req("TOKEN=", 0, 6, path=ROOT / ".env"))
        assert result.items == [] and "secret file" in result.warnings[0]
        assert eng.backend.calls == []
    finally:
        eng.close()


def test_cursor_past_the_end_is_clamped_with_a_warning(engine):
    result = engine.complete_sync(req("x = 1\n", 7, 40))
    assert result.warnings and "past the end" in result.warnings[0]


def test_multiline_time_cap_keeps_the_last_complete_line():
    eng = CompletionEngine(
        FakeBackend("a = 1\nb = 2\nc = 3", seconds_per_token=0.02),
        config=EngineConfig(generation_time_cap_s=0.15, latency_target_s=100.0),
    )
    try:
        result = eng.complete_sync(req("def f():\n", 1, 0))
        assert result.stop_reason == "time"
        assert result.text.endswith(("= 1", "= 2")) and "\n" not in result.text[-1:]
    finally:
        eng.close()


def test_a_newer_request_supersedes_the_running_one():
    eng = CompletionEngine(FakeBackend("x" * 200, seconds_per_token=0.01), config=EngineConfig(latency_target_s=100.0))
    try:
        slow = eng.complete(req("a = \n", 0, 4))
        newer = eng.complete(req("a = b\n", 0, 5))
        from assistant.scheduler import Superseded

        with pytest.raises(Superseded):
            slow.result(timeout=5)
        assert newer.result(timeout=5).text.startswith("x")
    finally:
        eng.close()


def test_explain_lists_snippets_and_the_local_window(engine):
    result = engine.complete_sync(req("x = \n", 0, 4, explain=True))
    kinds = [(e.kind, e.source) for e in result.explain]
    assert ("snippet", "lib/util.py:4-5") in kinds
    assert any(k == "local" for k, _ in kinds)


def test_cold_prompt_is_sized_to_the_latency_target():
    big = "\n".join(f"line_{i} = {i}" for i in range(2000))
    eng = CompletionEngine(FakeBackend("1"), config=EngineConfig(latency_target_s=1.0, context_tokens=8000), workspace_root=ROOT)
    try:
        eng.latency.observe(prompt_tokens=1000, prompt_s=2.0, gen_tokens=100, gen_s=10.0)  # 500 tok/s, 10 tok/s
        result = eng.complete_sync(req(big + "\nx = ", 2000, 4))
        # 1.0 s minus ~1.2 s of expected generation leaves nothing: the 64-token floor
        assert result.prompt_tokens < 2000
        assert any("latency" in e.source for e in eng.complete_sync(req(big + "\ny = ", 2000, 4, explain=True)).explain)
    finally:
        eng.close()


def test_candidates_that_break_the_parse_rank_after_those_that_do_not():
    replies = iter(["x +", "x + 1"])  # the greedy one leaves the file unparsable
    eng = CompletionEngine(FakeBackend(lambda prompt: next(replies)), config=EngineConfig(latency_target_s=100.0))
    try:
        result = eng.complete_sync(req("def f(x):\n    return \n", 1, 11, candidates=2, explain=True))
        assert [i.text for i in result.items] == ["x + 1", "x +"]
        assert any(e.source == "syntax" and "'x +'" in e.reason for e in result.explain)
    finally:
        eng.close()


def test_rank_keeps_logprob_order_among_candidates_that_parse_no_worse():
    from assistant.ranking import rank as _rank
    from assistant.postprocess import Shown

    text = "def f(x):\n    return \n"
    offset = text.index("return ") + len("return ")
    cands = [(Shown("x)"), -0.2), (Shown("x * 2"), -0.5), (Shown("x"), -0.1)]
    ranked, demoted = _rank(Path("a.py"), text, offset, cands)
    assert [s.text for s, _ in ranked] == ["x", "x * 2", "x)"]
    assert demoted == [Shown("x)")]
    # an already broken file: a candidate that does not add errors is not demoted
    broken = "def f(x:\n    return \n"
    ranked, demoted = _rank(Path("a.py"), broken, broken.index("return ") + 7, [(Shown("x"), -0.3), (Shown("x)"), -0.1)])
    assert demoted == [] or Shown("x") not in demoted
    # unknown language: logprob order only
    ranked, demoted = _rank(Path("notes.txt"), text, offset, cands)
    assert [s.text for s, _ in ranked] == ["x", "x)", "x * 2"] and demoted == []
    # a candidate that replaces the closer after the cursor is judged with it replaced
    call = "print(len())\n"
    ranked, demoted = _rank(Path("a.py"), call, 10, [(Shown("xs))", 2), -0.1), (Shown("xs))"), -0.2)])
    assert demoted == [Shown("xs))")]


def test_speculative_completion_makes_accepting_a_suggestion_free():
    eng = CompletionEngine(FakeBackend(lambda prompt: "total(items)"),
                           config=EngineConfig(latency_target_s=100.0, speculative=True), workspace_root=ROOT)
    try:
        shown = eng.complete_sync(req("x = \n", 0, 4))
        assert shown.text == "total(items)"
        assert eng.scheduler.wait_idle(timeout=5)
        calls = eng.counters["model_calls"]
        assert calls == 2 and eng.counters["speculative"] == 1  # the suggestion, then what follows it
        accepted = eng.complete_sync(req("x = total(items)\n", 0, 16))
        assert accepted.cache == "hit" and eng.counters["model_calls"] == calls
    finally:
        eng.close()


def test_a_real_request_cancels_speculative_work():
    eng = CompletionEngine(FakeBackend(lambda prompt: "y" * 100, seconds_per_token=0.01),
                           config=EngineConfig(latency_target_s=100.0, speculative=True, max_tokens_single=100))
    try:
        shown = eng.complete_sync(req("a = \n", 0, 4))  # then ~1 s of speculation starts
        result = eng.complete_sync(req("a = b\n", 0, 5))  # typed on: speculation must yield
        assert result.cache == "miss" and result.text.startswith("y")
        assert eng.scheduler.wait_idle(timeout=10)
        # the cancelled speculation left nothing behind: accepting the first suggestion now misses
        calls = eng.counters["model_calls"]
        after = eng.complete(req("a = " + shown.text + "\n", 0, 4 + len(shown.text)))
        assert after.result(timeout=10).cache == "miss" and eng.counters["model_calls"] == calls + 1
    finally:
        eng.close()


def test_without_speculation_nothing_runs_after_the_request():
    eng = CompletionEngine(FakeBackend(lambda prompt: "total(items)"), config=EngineConfig(latency_target_s=100.0),
                           workspace_root=ROOT)
    try:
        eng.complete_sync(req("x = \n", 0, 4))
        assert eng.scheduler.wait_idle(timeout=5) and eng.counters["model_calls"] == 1
    finally:
        eng.close()


def test_an_empty_answer_is_cached_but_a_cut_off_one_is_not():
    eng = CompletionEngine(FakeBackend(lambda prompt: "   "), config=EngineConfig(latency_target_s=100.0))
    try:
        first = eng.complete_sync(req("x = \n", 0, 4))
        again = eng.complete_sync(req("x = \n", 0, 4))
        assert first.items == [] and first.cache == "miss"
        assert again.items == [] and again.cache == "hit" and eng.counters["model_calls"] == 1
    finally:
        eng.close()
    slow = CompletionEngine(FakeBackend(" " * 50, seconds_per_token=0.05),
                            config=EngineConfig(latency_target_s=100.0, generation_time_cap_s=0.01))
    try:
        cut = slow.complete_sync(req("x = \n", 0, 4))
        assert cut.stop_reason == "time" and cut.items == []
        slow.complete_sync(req("x = \n", 0, 4))
        assert slow.counters["model_calls"] == 2  # cut off before it said anything: asked again
    finally:
        slow.close()


@pytest.mark.parametrize(
    "reply",
    ["", "\n\n   \n\t", "<|fim_pad|><|endoftext|>", "<|file_sep|>other.py\nimport os", "y = 2\n"],
    ids=["nothing", "whitespace", "special-tokens", "leaked-file-sep", "repeats-the-next-line"],
)
def test_a_model_answering_nothing_or_garbage_gives_an_empty_result(reply):
    eng = CompletionEngine(FakeBackend(reply), config=EngineConfig(latency_target_s=100.0), workspace_root=ROOT)
    try:
        result = eng.complete_sync(req("x = 1\n\ny = 2\n", 1, 0))
        assert result.items == [] and result.text == ""
    finally:
        eng.close()
