"""The transformers backend and the OpenAI-compatible backend, on the real tiny model.

The OpenAI test starts llama-cpp-python's own OpenAI-compatible server (a real server
process on loopback) and checks that going through HTTP yields the same greedy text as the
in-process backend.
"""

from __future__ import annotations

import socket
import threading

import pytest

from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.errors import ModelError
from model.loader import BackendConfig, backend_kind, load_backend
from model.prompt import fim
from tests.model.openai_server import llama_openai_server

PROMPT = fim("def add(a, b):\n    return ", "\n")


def test_hf_backend_generates_streams_and_stops(tiny_model):
    be = load_backend(BackendConfig(model=str(tiny_model.hf_dir), n_ctx=512))
    assert type(be).__name__ == "HfBackend"
    assert be.tokenize(fim("x", ""))[0] == 151659
    assert 151659 not in be.tokenize("<|fim_prefix|>x")  # text is text (docs/security.md)
    pieces: list[str] = []
    result = be.generate(GenerationRequest(PROMPT, max_tokens=8, stop_ids=frozenset()), on_text=pieces.append)
    assert len(result.token_ids) == 8 and len(result.logprobs) == 8
    assert "".join(pieces) == result.text
    cancel = threading.Event()
    cancel.set()
    assert be.generate(GenerationRequest(PROMPT, max_tokens=8), cancel=cancel).stop_reason == "cancelled"


def test_hf_and_llama_cpp_agree_on_the_first_greedy_token(tiny_model):
    """Same weights (f16 GGUF vs the HF checkpoint): the argmax of the first step must match."""
    hf = load_backend(BackendConfig(model=str(tiny_model.hf_dir), n_ctx=512))
    ll = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=512, n_threads=2)
    try:
        a = hf.generate(GenerationRequest(PROMPT, max_tokens=1, stop_ids=frozenset()))
        b = ll.generate(GenerationRequest(PROMPT, max_tokens=1, stop_ids=frozenset()))
        assert a.token_ids == b.token_ids
        assert a.logprobs[0] == pytest.approx(b.logprobs[0], abs=0.05)
    finally:
        ll.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def openai_server(tiny_model):
    with llama_openai_server(tiny_model.gguf) as url:
        yield url


def test_openai_backend_matches_the_in_process_backend(openai_server, tiny_model):
    assert backend_kind(BackendConfig(model=openai_server)) == "openai"
    remote = load_backend(BackendConfig(model=openai_server))
    local = LlamaCppBackend(tiny_model.gguf, n_ctx=1024, n_threads=2)
    try:
        pieces: list[str] = []
        r = remote.generate(GenerationRequest(PROMPT, max_tokens=10, stop_ids=frozenset()), on_text=pieces.append)
        l = local.generate(GenerationRequest(PROMPT, max_tokens=10))
        assert r.text == l.text
        assert "".join(pieces).startswith(r.text)
        assert r.prompt_tokens == l.prompt_tokens
    finally:
        local.close()


def test_openai_backend_unreachable_server_is_a_clear_error():
    be = load_backend(BackendConfig(model=f"http://127.0.0.1:{_free_port()}"))
    with pytest.raises(ModelError, match="cannot reach the completion server"):
        be.generate(GenerationRequest("x", max_tokens=2))
