"""The scripted GGUF's spelling of an answer (scripted_chat_model.py): an answer whose usual
tokens repeat (a next-edit window) is said by distinct tokens with exactly its bytes, the
real llama.cpp then writes it exactly, and an answer no distinct tokens can say is refused
with the line that makes it impossible.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scripted_chat_model import NoDistinctTokens, distinct_tokens, scripted_gguf  # noqa: E402

# A next-edit window (tests/e2e/test_nvim_next_edit.py): "item", "return", " =", indents and
# line ends repeat in its usual tokens.
WINDOW = '''# Prices in the shop.

def price(item, factor):
    if item.free:
        return {}
    base = item.cost + item.shipping()
    return base * factor'''


def test_repeated_text_is_spelled_by_distinct_tokens(qwen_tokenizer):
    newline = qwen_tokenizer.encode("updated/shop.py\n").ids[-1]  # the token the answer follows
    usual = qwen_tokenizer.encode(WINDOW).ids
    assert len(set(usual)) < len(usual)
    ids = distinct_tokens(WINDOW, forbidden={newline})
    assert len(set(ids)) == len(ids) and newline not in ids
    assert qwen_tokenizer.decode(ids) == WINDOW


def test_an_answer_with_distinct_tokens_keeps_its_usual_ones(qwen_tokenizer):
    answer = "    return list(map(factor.__mul__, values))"
    assert distinct_tokens(answer) == qwen_tokenizer.encode(answer).ids


def test_an_impossible_answer_names_its_line(qwen_tokenizer):
    newline = qwen_tokenizer.encode("\n").ids[0]
    # ",\n" ends line 1; line 2 ends in a letter, which needs "\n" itself, and that is taken.
    with pytest.raises(NoDistinctTokens, match=r"line 2 \('b\\n'\)"):
        distinct_tokens("a,\nb\nc", forbidden={newline})


@pytest.mark.slow
def test_llama_cpp_writes_the_respelled_answer(tiny_model, qwen_tokenizer):
    from model.backends.base import GenerationRequest
    from model.backends.llama_cpp import LlamaCppBackend

    after = qwen_tokenizer.encode("updated/shop.py\n").ids[-1]
    be = LlamaCppBackend(scripted_gguf(tiny_model, WINDOW, after=after), n_ctx=1024, n_threads=2)
    try:
        got = be.generate(GenerationRequest("<|file_sep|>updated/shop.py\n", max_tokens=128))
    finally:
        be.close()
    assert (got.text, got.stop_reason) == (WINDOW, "eos")
    assert got.token_ids == distinct_tokens(WINDOW, forbidden={after})
