"""The llama.cpp backend on the real tiny model: reuse, stops, caps, cancel, streaming, bad files."""

from __future__ import annotations

import threading

import pytest

from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.errors import BadModelFile, ModelError
from model.prompt import fim, marker, repo_completion
from model.tokens import FIM_PREFIX, FIM_PREFIX_ID, REPO_NAME_ID, STOP_TOKEN_IDS

PROMPT = fim("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n")


@pytest.fixture(scope="module")
def backend(tiny_model):
    be = LlamaCppBackend(tiny_model.gguf, n_ctx=1024, n_threads=2)
    yield be
    be.close()


def test_special_tokens_are_single_ids(backend):
    ids = backend.tokenize(marker(FIM_PREFIX) + "def f")
    assert ids[0] == FIM_PREFIX_ID == 151659 and len(ids) == 3
    assert backend.tokenize(repo_completion("acme", [], "a.py", ""))[0] == REPO_NAME_ID
    # spelled in text (a plain str, or text inside a prompt) they are not (docs/security.md)
    assert FIM_PREFIX_ID not in backend.tokenize("<|fim_prefix|>def f")
    assert backend.tokenize(fim("<|fim_prefix|>", "")).count(FIM_PREFIX_ID) == 1


def test_greedy_generation_matches_llama_cpp_python_itself(backend):
    """Our decode loop must produce exactly what llama-cpp-python's own greedy sampling does."""
    ours = backend.generate(GenerationRequest(PROMPT, max_tokens=12, stop_ids=frozenset()))
    backend.reset_cache()
    tokens = backend.tokenize(PROMPT)
    direct = []
    for token in backend.raw.generate(tokens, temp=0.0, top_k=1, reset=True):
        direct.append(token)
        if len(direct) == 12:
            break
    backend.reset_cache()
    assert ours.token_ids == direct
    assert len(ours.logprobs) == 12 and all(lp <= 0 for lp in ours.logprobs)
    assert ours.stop_reason == "length"


def test_kv_prefix_is_reused_across_calls(backend):
    backend.reset_cache()
    first = backend.generate(GenerationRequest(PROMPT, max_tokens=4))
    assert first.reused_tokens == 0 and first.prompt_tokens > 20
    longer = PROMPT + "a +"
    second = backend.generate(GenerationRequest(longer, max_tokens=4))
    assert second.reused_tokens >= first.prompt_tokens - 1
    assert second.evaluated_tokens <= 4
    same = backend.generate(GenerationRequest(longer, max_tokens=4))
    assert same.evaluated_tokens <= 1
    assert same.text == second.text  # greedy and deterministic with a reused cache


def test_prefill_warms_the_cache(backend):
    backend.reset_cache()
    assert backend.prefill(PROMPT) == len(backend.tokenize(PROMPT))
    result = backend.generate(GenerationRequest(PROMPT + "x", max_tokens=2))
    assert result.evaluated_tokens <= 2


def test_stop_texts_cut_and_streaming_adds_up(backend):
    free = backend.generate(GenerationRequest(PROMPT, max_tokens=24, stop_ids=frozenset()))
    assert len(free.text) > 3
    stop = free.text[2:4]
    pieces: list[str] = []
    cut = backend.generate(GenerationRequest(PROMPT, max_tokens=24, stop_ids=frozenset(), stop_texts=(stop,)), on_text=pieces.append)
    assert cut.stop_reason == "stop_text"
    assert cut.text == free.text[: free.text.find(stop)]
    assert "".join(pieces) == cut.text


def test_stop_token_ids_end_generation(backend):
    result = backend.generate(GenerationRequest(PROMPT, max_tokens=64))
    assert not set(result.token_ids) & STOP_TOKEN_IDS


def test_cancel_between_decode_steps(backend):
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(piece):
        seen.append(piece)
        cancel.set()

    result = backend.generate(GenerationRequest(PROMPT, max_tokens=64, stop_ids=frozenset()), on_text=on_text, cancel=cancel)
    assert result.stop_reason == "cancelled"
    assert len(result.token_ids) <= 2


class _CancelInsideBatch(threading.Event):
    """A cancel that turns on after ``after`` questions: the evaluation loop asks once before
    each batch, llama.cpp's abort hook between graph nodes, so it turns on inside a batch."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.asked = after, 0

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked > self.after


def test_a_cancel_stops_llama_cpp_inside_a_batch_and_keeps_exactly_what_was_cached(backend):
    import llama_cpp

    text = "".join(f"value_{i} = compute({i}, scale=2)\n" for i in range(60))
    head = text[: len(text) // 2]
    backend.reset_cache()
    backend.prefill(head)
    kept = backend._llm.n_tokens
    cancel = _CancelInsideBatch(after=3)
    assert backend.prefill(text, cancel=cancel) == 0  # cancelled
    assert cancel.asked > 3  # asked inside llama.cpp's batch, not only before it
    memory = backend._llm._ctx.memory
    assert backend._llm.n_tokens == kept and llama_cpp.llama_memory_seq_pos_max(memory, 0) == kept - 1
    after = backend.generate(GenerationRequest(text, max_tokens=8, stop_ids=frozenset()))
    assert after.reused_tokens == kept
    backend.reset_cache()
    fresh = backend.generate(GenerationRequest(text, max_tokens=8, stop_ids=frozenset()))
    assert after.token_ids == fresh.token_ids
    assert max(abs(a - b) for a, b in zip(after.logprobs, fresh.logprobs)) < 1e-4


def test_the_tokens_remembered_for_a_prompt_are_its_own_markers_and_all(backend):
    as_marker = marker(FIM_PREFIX) + "x = 1"
    as_text = FIM_PREFIX + "x = 1"  # the same characters, written in a file
    assert str(as_marker) == as_text
    first, second = backend.tokenize(as_marker), backend.tokenize(as_text)
    assert first[0] == FIM_PREFIX_ID and FIM_PREFIX_ID not in second
    assert backend.tokenize(as_marker) == first and backend.tokenize(as_text) == second
    first.append(7)  # a caller's list is its own
    assert backend.tokenize(as_marker)[-1] != 7


def test_wall_clock_cap(backend):
    result = backend.generate(GenerationRequest(PROMPT + " ", max_tokens=100_000 // 100, stop_ids=frozenset(), time_limit_s=0.0))
    assert result.stop_reason == "time" and result.token_ids == []


def test_prompt_over_the_context_window_is_refused_clearly(backend):
    with pytest.raises(ModelError, match="context window"):
        backend.generate(GenerationRequest("x " * 5000))


def test_missing_file(tmp_path):
    with pytest.raises(BadModelFile, match="does not exist"):
        LlamaCppBackend(tmp_path / "nope.gguf")


def test_not_a_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(BadModelFile, match="not a GGUF file"):
        LlamaCppBackend(bad)


def test_truncated_gguf_names_the_file(tiny_model, tmp_path):
    data = tiny_model.gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadModelFile, match="truncated") as err:
        LlamaCppBackend(cut)
    assert str(cut) in str(err.value)


def test_corrupt_header(tiny_model, tmp_path):
    data = bytearray(tiny_model.gguf.read_bytes()[:4096])
    data[8:24] = b"\xff" * 16  # absurd tensor and metadata counts
    bad = tmp_path / "corrupt.gguf"
    bad.write_bytes(bytes(data))
    with pytest.raises(BadModelFile) as err:
        LlamaCppBackend(bad)
    assert str(bad) in str(err.value)


def test_wrong_architecture(tmp_path):
    import gguf
    import numpy as np

    path = tmp_path / "llama.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(BadModelFile, match="'llama' model"):
        LlamaCppBackend(path)


def test_missing_lora_adapter(tiny_model, tmp_path):
    with pytest.raises(BadModelFile, match="LoRA adapter"):
        LlamaCppBackend(tiny_model.gguf, lora_path=tmp_path / "adapter.gguf")


def _lora(tiny_model, tmp_path, scale: float):
    """An adapter on every attention query of the tiny model; scale 0 makes it a no-op."""
    import json

    import numpy as np

    from model.lora_gguf import write_lora_gguf

    cfg = json.loads((tiny_model.hf_dir / "config.json").read_text())
    hidden, layers, rank = cfg["hidden_size"], cfg["num_hidden_layers"], 4
    rng = np.random.default_rng(0)
    pairs = {
        f"blk.{i}.attn_q.weight": (rng.normal(size=(rank, hidden)), scale * rng.normal(size=(hidden, rank)))
        for i in range(layers)
    }
    return write_lora_gguf(tmp_path / f"lora-{scale}.gguf", pairs, alpha=8.0)


def test_a_lora_adapter_gguf_loads_and_changes_the_output(tiny_model, tmp_path):
    request = GenerationRequest(PROMPT, max_tokens=6, stop_ids=frozenset())
    base = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=512, n_threads=2)
    noop = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=512, n_threads=2, lora_path=_lora(tiny_model, tmp_path, 0.0))
    strong = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=512, n_threads=2, lora_path=_lora(tiny_model, tmp_path, 50.0))
    try:
        a, b, c = (be.generate(request) for be in (base, noop, strong))
        assert b.token_ids == a.token_ids and b.logprobs == pytest.approx(a.logprobs, abs=1e-3)
        assert c.logprobs != pytest.approx(a.logprobs, abs=1e-3)
        assert strong.lora_path is not None
    finally:
        for be in (base, noop, strong):
            be.close()
