"""Next edits end to end in the real llama.cpp: the user renames a parameter on line 1 and the
engine proposes the matching change on line 2, as a jump from line 1 and inline on line 2.

The model is a scripted GGUF (scripted_chat_model.py: real llama.cpp, weights chosen so that
its greedy answer after the Sweep prompt's last token is the updated window), so the test
checks the whole path: history -> prompt -> prompt-lookup generation -> parse -> diff -> choice.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant.edit_history import EditHistory
from assistant.next_edit import LineChange, NextEditConfig, NextEditEngine
from assistant.retrieval import PromptPolicy
from model.backends.llama_cpp import LlamaCppBackend

sys.path.insert(0, str(Path(__file__).parent))
from scripted_chat_model import scripted_gguf  # noqa: E402

pytestmark = pytest.mark.slow

ORIGINAL = "def scale(width):\n    return width * 3\n"
RENAMED = "def scale(w):\n    return width * 3\n"
ANSWER = "def scale(w):\n    return w * 3"  # distinct tokens: a bigram chain can say it


@pytest.fixture(scope="module")
def backend(tiny_model):
    from model.tokenizer import load_fast_tokenizer

    after = load_fast_tokenizer().encode("updated/scale.py\n").ids[-1]  # the Sweep prompt's last token
    be = LlamaCppBackend(scripted_gguf(tiny_model, ANSWER, after=after), n_ctx=2048, n_threads=2)
    yield be
    be.close()


@pytest.mark.parametrize("lookup", [True, False])
def test_rename_on_line_1_suggests_line_2(backend, tmp_path, lookup):
    eng = NextEditEngine(backend, EditHistory(PromptPolicy(tmp_path)), NextEditConfig(prompt_lookup=lookup),
                         root=tmp_path)
    path = tmp_path / "scale.py"
    eng.history.open(path, ORIGINAL)
    got = eng.suggest(path, RENAMED, 0, len("def scale(w"))
    assert got.kind == "jump", got.reason
    assert got.changes == [LineChange(1, 2, ("    return w * 3",), ("    return width * 3",))]
    assert (got.drafted > 0 and got.accepted > 0) == lookup
    # at line 2 the same edit is inline, with the range that replaces the line
    got = eng.suggest(path, RENAMED, 1, 4)
    assert got.kind == "inline"
    assert got.target.range_and_text(RENAMED.split("\n")[:2]) == ((1, 0), (1, 20), "    return w * 3")
    assert got.reused_tokens > 0  # the second request reuses the first one's KV prefix


def test_the_completion_prompt_filled_again_after_a_next_edit_is_warm(backend, tmp_path):
    """A next edit on the completion model leaves its own prompt in the one KV cache, and the
    next completion would evaluate its whole prompt; the server then pre-fills the completion's
    prompt again (``CompletionEngine.document_opened``, in the background: lsp_server/next_edit.py),
    after which a keystroke evaluates only the tail."""
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.request import CompletionRequest

    path = tmp_path / "scale.py"
    body = "".join(f"def helper_{k}(value):\n    return value * {k} + OFFSET_{k}\n\n" for k in range(30))
    text = ORIGINAL + body + "result = helper_"
    line = text.count("\n")
    config = EngineConfig(latency_target_s=100.0, max_tokens_single=4, max_tokens_multi=4, context_tokens=1024)
    completion = CompletionEngine(backend, config=config, workspace_root=tmp_path)
    nes = NextEditEngine(backend, EditHistory(PromptPolicy(tmp_path)), NextEditConfig(), root=tmp_path)
    nes.history.open(path, ORIGINAL)
    try:
        typed = [text + c for c in "12"]
        completion.complete_sync(CompletionRequest(path, text, line, len(text.split("\n")[-1])), timeout=120)
        nes.suggest(path, RENAMED, 0, 0)
        cold = completion.complete_sync(CompletionRequest(path, typed[0], line, len(typed[0].split("\n")[-1])), timeout=120)
        nes.suggest(path, RENAMED, 0, 0)
        completion.document_opened(path, typed[0], line)
        assert completion.scheduler.wait_idle(120)
        calls = completion.counters["model_calls"]
        warm = completion.complete_sync(CompletionRequest(path, typed[1], line, len(typed[1].split("\n")[-1])), timeout=120)
        assert completion.counters["model_calls"] == calls + 1  # a model call, not a cache hit
        assert cold.evaluated_tokens > 200 and warm.evaluated_tokens < 20, (cold.evaluated_tokens, warm.evaluated_tokens)
    finally:
        completion.close()
