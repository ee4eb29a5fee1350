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
