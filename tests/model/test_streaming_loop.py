"""The one token-streaming loop (``model.backends.base.stream_tokens``) that every backend runs.

Each finding is checked twice: through the fake backend (a scripted token stream, exact), and
through the real llama.cpp backend on the tiny model, where the model's own evaluation,
vocabulary bytes and KV cache are used and only the next-token choice is scripted where a
test needs particular tokens (``Scripted``). The transformers and OpenAI backends run the same
loop; their tests are in test_other_backends.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from model.backends.base import GenerationRequest, GenerationResult, Token, stream_tokens
from model.backends.fake import FakeBackend
from model.backends.llama_cpp import LlamaCppBackend
from model.prompt import fim

PROMPT = fim("def add(a, b):\n    return ", "\n")
MELT = "\U0001fae0"  # 🫠: three tokens in Qwen's vocabulary (b"\xf0\x9f", b"\xab", b"\xa0")


def _run(backend, request, *, cancel=None, on_piece=None):
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if on_piece is not None:
            on_piece(piece)

    result = backend.generate(request, on_text=on_text, cancel=cancel)
    return result, pieces


# -- the fake backend: exact token streams ----------------------------------------------------
def test_a_character_split_across_tokens_is_released_whole():
    melt = MELT.encode()
    fake = FakeBackend([b"ok ", melt[:2], melt[2:3], melt[3:], b" \xc3", b"\xa9"])
    result, pieces = _run(fake, GenerationRequest("p", stop_ids=frozenset()))
    assert result.text == f"ok {MELT} é" and result.stop_reason == "eos"
    assert "".join(pieces) == result.text
    assert not any("\ufffd" in p for p in pieces)  # no guessed character ever reached on_text


def test_a_stream_cut_inside_a_character_drops_its_bytes():
    fake = FakeBackend([b"x", b"\xc3", b"\xa9"])
    result, pieces = _run(fake, GenerationRequest("p", max_tokens=2, stop_ids=frozenset()))
    assert (result.text, result.stop_reason, pieces) == ("x", "length", ["x"])
    assert len(result.token_ids) == 2


def test_invalid_bytes_are_replaced_not_dropped():
    result, _ = _run(FakeBackend([b"a", b"\xff", b"b"]), GenerationRequest("p", stop_ids=frozenset()))
    assert result.text == "a\ufffdb"


def test_a_stop_text_split_across_tokens_is_never_streamed():
    fake = FakeBackend("x = 1\n\ny = 2")
    result, pieces = _run(fake, GenerationRequest("p", stop_texts=("\n\n",)))
    assert (result.text, result.stop_reason) == ("x = 1", "stop_text")
    assert "".join(pieces) == "x = 1"  # the first "\n" was held back, then cut with its pair


def test_a_stop_text_inside_a_split_character():
    melt = MELT.encode()
    fake = FakeBackend([b"a", melt[:2], melt[2:], b"b"])
    result, pieces = _run(fake, GenerationRequest("p", stop_texts=(MELT,)))
    assert (result.text, result.stop_reason, "".join(pieces)) == ("a", "stop_text", "a")


def test_held_back_text_that_is_no_stop_text_comes_at_the_end():
    result, pieces = _run(FakeBackend("abEN"), GenerationRequest("p", stop_texts=("END",)))
    assert result.text == "abEN" and result.stop_reason == "eos"
    assert pieces == ["a", "b", "EN"]  # "E", "EN" could still have begun END


def test_a_stop_id_ends_before_its_token():
    result, pieces = _run(FakeBackend("ab\ncd"), GenerationRequest("p", stop_ids=frozenset({ord("\n")})))
    assert (result.text, result.stop_reason, result.token_ids) == ("ab", "eos", [ord("a"), ord("b")])


def test_cancel_between_tokens_keeps_what_was_streamed():
    cancel = threading.Event()
    result, pieces = _run(FakeBackend("abcdef"), GenerationRequest("p"), cancel=cancel,
                          on_piece=lambda _p: cancel.set())
    assert (result.text, result.stop_reason, pieces) == ("a", "cancelled", ["a"])


def test_the_deadline_stops_between_tokens():
    fake = FakeBackend("abcdefghij", seconds_per_token=0.05)
    result, pieces = _run(fake, GenerationRequest("p", time_limit_s=0.12))
    assert result.stop_reason == "time"
    assert 1 <= len(result.text) < 10 and "".join(pieces) == result.text


def test_leaked_control_token_text_ends_a_servers_stream():
    """The OpenAI backend's end texts: control-token text a server printed, split across chunks."""
    chunks = [Token(None, b"x = 1<|endof", (-0.5,)), Token(None, b"text|>junk", (-0.5,)), Token(None, b"more")]
    result = GenerationResult(text="")
    pieces: list[str] = []
    stream_tokens((c for c in chunks), GenerationRequest("p"), result, on_text=pieces.append, end_texts=("<|endoftext|>",))
    assert (result.text, result.stop_reason, "".join(pieces)) == ("x = 1", "eos", "x = 1")
    assert result.token_ids == [] and result.logprobs == [-0.5, -0.5]


def test_the_stream_is_closed_when_the_loop_stops():
    closed: list[bool] = []

    def tokens():
        try:
            while True:
                yield Token(1, b"a")
        finally:
            closed.append(True)

    cancel = threading.Event()
    cancel.set()
    result = GenerationResult(text="")
    stream_tokens(tokens(), GenerationRequest("p"), result, cancel=cancel)
    assert result.stop_reason == "cancelled" and closed == [True]


# -- the real llama.cpp backend on the tiny model ----------------------------------------------
class Scripted(LlamaCppBackend):
    """The real backend, with the next tokens chosen by the test (then greedy)."""

    script: list[int] = []

    def _pick(self, logits, temperature, rng) -> int:
        return self.script.pop(0) if self.script else super()._pick(logits, temperature, rng)


@pytest.fixture(scope="module")
def backend(tiny_model):
    be = Scripted(tiny_model.gguf, n_ctx=1024, n_threads=2)
    yield be
    be.close()


def test_llama_a_character_split_across_tokens_is_released_whole(backend):
    split = backend.tokenize(MELT)
    assert len(split) == 3  # the premise: Qwen's vocabulary spells it in three byte tokens
    backend.script = [*backend.tokenize("x = "), *split, *backend.tokenize(" # é")]
    n = len(backend.script)
    result, pieces = _run(backend, GenerationRequest(PROMPT, max_tokens=n, stop_ids=frozenset()))
    assert result.text == f"x = {MELT} # é" and result.stop_reason == "length"
    assert "".join(pieces) == result.text and not any("\ufffd" in p for p in pieces)
    backend.script = [*backend.tokenize("x"), *split[:2]]  # ends inside the character
    result, pieces = _run(backend, GenerationRequest(PROMPT, max_tokens=3, stop_ids=frozenset()))
    assert (result.text, "".join(pieces)) == ("x", "x")


def test_llama_a_stop_text_split_across_tokens(backend):
    free = backend.generate(GenerationRequest(PROMPT, max_tokens=24, stop_ids=frozenset()))
    ends = []  # where each token's text ends, in characters
    for k in range(1, len(free.token_ids) + 1):
        ends.append(len(backend.detokenize(free.token_ids[:k])))
    at = next(e for e, nxt in zip(ends, ends[1:]) if e > 0 and nxt > e and free.text[e - 1 : e + 1] not in free.text[: e - 1])
    stop = free.text[at - 1 : at + 1]  # the last character of one token and the first of the next
    result, pieces = _run(backend, GenerationRequest(PROMPT, max_tokens=24, stop_ids=frozenset(), stop_texts=(stop,)))
    assert result.stop_reason == "stop_text" and result.text == free.text[: at - 1]
    assert "".join(pieces) == result.text


def test_llama_cancel_between_tokens_leaves_the_cache_consistent(backend):
    free = backend.generate(GenerationRequest(PROMPT, max_tokens=12, stop_ids=frozenset()))
    cancel = threading.Event()
    result, pieces = _run(backend, GenerationRequest(PROMPT, max_tokens=12, stop_ids=frozenset()), cancel=cancel,
                          on_piece=lambda _p: cancel.set())
    assert result.stop_reason == "cancelled" and 1 <= len(result.token_ids) < 12
    assert "".join(pieces) == result.text and free.text.startswith(result.text)
    again = backend.generate(GenerationRequest(PROMPT, max_tokens=12, stop_ids=frozenset()))
    assert again.token_ids == free.token_ids  # the cancelled call's KV state was reused correctly


def test_llama_the_deadline_stops_between_tokens(backend):
    limit = 0.3
    t0 = time.perf_counter()
    result, pieces = _run(backend, GenerationRequest(PROMPT, max_tokens=64, stop_ids=frozenset(), time_limit_s=limit),
                          on_piece=lambda _p: time.sleep(limit / 2))
    assert result.stop_reason == "time"
    assert 1 <= len(result.token_ids) < 64 and "".join(pieces) == result.text
    assert time.perf_counter() - t0 < 10 * limit


# -- the transformers backend's token bytes ----------------------------------------------------
def test_hf_token_bytes_rebuild_the_text_a_split_character_included(qwen_tokenizer):
    """hf.py feeds the loop each token's bytes from the byte-level vocabulary (it re-decoded
    every token each step before, guessing at a trailing U+FFFD)."""
    from model.backends.hf import _token_bytes

    piece = _token_bytes(qwen_tokenizer, qwen_tokenizer.get_added_tokens_decoder())
    text = f"x = '{MELT} é'\n\tend"
    ids = qwen_tokenizer.encode(text, add_special_tokens=False).ids
    assert any(not _is_utf8(piece(i)) for i in ids)  # the premise: a character is split
    assert b"".join(piece(i) for i in ids) == text.encode()
    assert piece(qwen_tokenizer.token_to_id("<|endoftext|>")) == b"<|endoftext|>"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
