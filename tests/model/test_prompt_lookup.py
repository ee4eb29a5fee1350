"""Prompt-lookup decoding (model/prompt_lookup.py) on the real llama.cpp: the same greedy
tokens as plain decoding, drafts that a copying model accepts, and a KV cache left sound for
the backend's own next call.

The copying model is a scripted GGUF (tests/assistant/scripted_chat_model.py): its greedy
answer after the prompt's last token is a known text, which the prompt also holds, as a next
edit's current window holds most of its answer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.prompt import marker
from model.prompt_lookup import find_draft, generate_with_lookup
from model.tokens import FILE_SEP

sys.path.insert(0, str(Path(__file__).parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402

pytestmark = pytest.mark.slow

WINDOW = "def scale(w):\n    return w * 3"  # distinct tokens, no bare "\n" (the prompt's last token)
CURRENT = "def scale(w):\n    return width * 3"


def nes_like(window: str) -> str:
    return (marker(FILE_SEP) + f"current/scale.py\n{window}\n" + marker(FILE_SEP) + "updated/scale.py\n")


@pytest.fixture(scope="module")
def tiny(tiny_model):
    be = LlamaCppBackend(tiny_model.gguf, n_ctx=1024, n_threads=2)
    yield be
    be.close()


@pytest.fixture(scope="module")
def copier(tiny_model):
    from model.tokenizer import load_fast_tokenizer

    after = load_fast_tokenizer().encode("updated/scale.py\n").ids[-1]
    be = LlamaCppBackend(scripted_gguf(tiny_model, WINDOW, after=after), n_ctx=1024, n_threads=2)
    yield be
    be.close()


def test_find_draft_takes_the_longest_newest_match():
    src = np.array([5, 1, 2, 3, 9, 1, 2, 4, 7, 8])
    assert find_draft(src, [0, 1, 2], max_ngram=3, max_draft=3) == [4, 7, 8]  # newest "1 2"
    assert find_draft(src, [3, 9], max_draft=2) == [1, 2]
    assert find_draft(src, [6]) == []
    assert find_draft(src, [8]) == []  # the last token has no successor


@pytest.mark.parametrize("prompt", [
    nes_like(CURRENT * 3),
    "def add(a, b):\n    return a + b\n\ndef add(a, b):\n    return a + b\n\ndef add(",
])
def test_same_greedy_tokens_as_plain_decoding(tiny, prompt):
    request = GenerationRequest(prompt, max_tokens=48, stop_ids=frozenset())
    tiny.reset_cache()
    plain = tiny.generate(request)
    tiny.reset_cache()
    fast, stats = generate_with_lookup(tiny, request)
    assert fast.token_ids == plain.token_ids and fast.text == plain.text
    assert fast.stop_reason == plain.stop_reason == "length"
    assert np.allclose(fast.logprobs, plain.logprobs, atol=1e-3)
    assert stats.steps + stats.accepted == len(fast.token_ids) - 1  # the last token is not evaluated
    assert stats.drafted <= 2 * stats.steps + 10 * (stats.accepted + 1)  # misses keep drafts short
    # the backend's own next call, on the cache lookup left, is the plain answer again
    again = tiny.generate(request)
    assert again.token_ids == plain.token_ids and again.reused_tokens > 0


def test_a_copying_model_accepts_the_drafts(copier):
    request = GenerationRequest(nes_like(CURRENT), max_tokens=64)
    copier.reset_cache()
    plain = copier.generate(request)
    assert plain.text == WINDOW and plain.stop_reason == "eos"
    copier.reset_cache()
    fast, stats = generate_with_lookup(copier, request)
    assert (fast.text, fast.stop_reason, fast.token_ids) == (WINDOW, "eos", plain.token_ids)
    n = len(fast.token_ids)
    assert stats.accepted >= n - 4 and stats.steps <= 4, (stats, n)  # "w" breaks the copy of "width" once


def test_limits_and_stop_texts_are_those_of_plain_decoding(copier):
    for request in (GenerationRequest(nes_like(CURRENT), max_tokens=5),
                    GenerationRequest(nes_like(CURRENT), max_tokens=64, stop_texts=("return",))):
        copier.reset_cache()
        plain = copier.generate(request)
        fast, _ = generate_with_lookup(copier, request)
        assert (fast.text, fast.stop_reason, len(fast.token_ids)) == (plain.text, plain.stop_reason, len(plain.token_ids))
    assert fast.text == "def scale(w):\n    " and fast.stop_reason == "stop_text"


def test_streams_the_same_text_and_can_be_cancelled(copier):
    import threading

    pieces: list[str] = []
    fast, _ = generate_with_lookup(copier, GenerationRequest(nes_like(CURRENT), max_tokens=64), on_text=pieces.append)
    assert "".join(pieces) == fast.text == WINDOW
    cancel = threading.Event()
    cancel.set()
    stopped, _ = generate_with_lookup(copier, GenerationRequest(nes_like(CURRENT) + " ", max_tokens=64), cancel=cancel)
    assert stopped.stop_reason == "cancelled" and stopped.text == ""
