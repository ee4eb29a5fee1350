"""Adapters on the llama.cpp backend: meta.json checks (another base is refused, naming both)
and the runtime swap (apply, replace, remove, without reloading the model).

The adapters are real GGUF LoRA files (``model.lora_gguf``) for the tiny test model, with a
strong random update so that applying one visibly changes the output.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from model.adapter_meta import AdapterMeta, AdapterMismatch, BaseModel, check_adapter, read_meta
from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.errors import BadModelFile
from model.lora_gguf import write_lora_gguf
from model.prompt import PROMPT_FORMAT_VERSION, fim

REQUEST = GenerationRequest(fim("def add(a, b):\n    return ", "\n"), max_tokens=4, stop_ids=frozenset())
OTHER_BASE = BaseModel("qwen2.5-coder-1.5b", {"hidden": 1536, "layers": 28, "heads": 12, "kv_heads": 2, "ffn": 8960,
                                              "vocab": 151936})


def tiny_base(tiny_model) -> BaseModel:
    return BaseModel.from_hf_config("tiny", json.loads((tiny_model.hf_dir / "config.json").read_text()))


def adapter(tiny_model, folder, *, seed: int, base: BaseModel | None = None):
    cfg = json.loads((tiny_model.hf_dir / "config.json").read_text())
    hidden, rank = cfg["hidden_size"], 4
    rng = np.random.default_rng(seed)
    pairs = {f"blk.{i}.attn_q.weight": (rng.normal(size=(rank, hidden)), 40 * rng.normal(size=(hidden, rank)))
             for i in range(cfg["num_hidden_layers"])}
    folder.mkdir(parents=True, exist_ok=True)
    path = write_lora_gguf(folder / "adapter.gguf", pairs, alpha=8.0)
    if base is not None:
        (folder / "meta.json").write_text(json.dumps(AdapterMeta(base=base, files={"adapter": "adapter.gguf"}).to_json()))
    return path


@pytest.fixture(scope="module")
def backend(tiny_model):
    be = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=256, n_threads=2)
    yield be
    be.close()


def test_the_loaded_model_knows_its_shape(backend, tiny_model):
    assert backend.base_model().shape == tiny_base(tiny_model).shape
    assert backend.base_model().name == "qwenpair-test-tiny" and not backend.base_model().instruct


def test_swap_in_replace_and_remove_without_reloading(backend, tiny_model, tmp_path):
    first = adapter(tiny_model, tmp_path / "a", seed=1, base=tiny_base(tiny_model))
    second = adapter(tiny_model, tmp_path / "b", seed=2, base=tiny_base(tiny_model))
    llm = backend.raw
    plain = backend.generate(REQUEST)
    backend.set_adapter(first)
    with_first = backend.generate(REQUEST)
    assert backend.adapter == str(first) and with_first.logprobs != pytest.approx(plain.logprobs, abs=1e-3)
    backend.set_adapter(second)
    with_second = backend.generate(REQUEST)
    assert with_second.logprobs != pytest.approx(with_first.logprobs, abs=1e-3)
    backend.set_adapter(None)
    again = backend.generate(REQUEST)
    assert backend.adapter is None and backend.raw is llm  # the same loaded model throughout
    assert again.token_ids == plain.token_ids and again.logprobs == pytest.approx(plain.logprobs, abs=1e-4)

    fresh = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=256, n_threads=2, lora_path=second)
    try:  # a swapped-in adapter acts exactly as one given at load time
        assert fresh.generate(REQUEST).logprobs == pytest.approx(with_second.logprobs, abs=1e-4)
    finally:
        fresh.close()


def test_an_adapter_for_another_base_is_refused_naming_both(backend, tiny_model, tmp_path):
    good = adapter(tiny_model, tmp_path / "good", seed=1, base=tiny_base(tiny_model))
    bad = adapter(tiny_model, tmp_path / "bad", seed=3, base=OTHER_BASE)
    backend.set_adapter(good)
    try:
        with pytest.raises(AdapterMismatch) as err:
            backend.set_adapter(bad)
        message = str(err.value)
        assert "qwen2.5-coder-1.5b" in message and "qwenpair-test-tiny" in message
        assert "hidden 1536" in message and "hidden 64" in message
        assert backend.adapter == str(good)  # the previous adapter stays in place
        with pytest.raises(AdapterMismatch, match="qwen2.5-coder-1.5b"):
            LlamaCppBackend(tiny_model.gguf_f16, n_ctx=256, n_threads=2, lora_path=bad)
    finally:
        backend.set_adapter(None)


def test_base_and_instruct_of_one_shape_do_not_mix(tiny_model, tmp_path):
    base = tiny_base(tiny_model)
    path = adapter(tiny_model, tmp_path / "instruct", seed=1,
                   base=BaseModel("qwen2.5-coder-0.5b-instruct", base.shape, instruct=True))
    with pytest.raises(AdapterMismatch, match="base vs instruct"):
        check_adapter(path, base)


def test_another_prompt_format_is_refused(tiny_model, tmp_path):
    path = adapter(tiny_model, tmp_path / "old", seed=1, base=tiny_base(tiny_model))
    meta = json.loads((tmp_path / "old" / "meta.json").read_text())
    meta["prompt_format_version"] = PROMPT_FORMAT_VERSION + 1
    (tmp_path / "old" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(AdapterMismatch, match="prompt format version"):
        check_adapter(path, tiny_base(tiny_model))


def test_a_broken_meta_json_says_to_re_export(tiny_model, tmp_path):
    path = adapter(tiny_model, tmp_path / "broken", seed=1)
    (tmp_path / "broken" / "meta.json").write_text('{"base": {"name": "x"}}')
    with pytest.raises(AdapterMismatch, match="re-export"):
        read_meta(path)


def test_an_adapter_that_does_not_fit_is_refused_and_the_model_keeps_working(backend, tmp_path):
    rng = np.random.default_rng(0)
    wrong = write_lora_gguf(tmp_path / "wrong.gguf", {"blk.0.attn_q.weight": (rng.normal(size=(4, 32)),
                                                                              rng.normal(size=(32, 4)))}, alpha=8.0)
    before = backend.generate(REQUEST)
    with pytest.raises(BadModelFile, match="does not fit"):
        backend.set_adapter(wrong)
    assert backend.adapter is None and backend.generate(REQUEST).token_ids == before.token_ids
    with pytest.raises(BadModelFile, match="does not exist"):
        backend.set_adapter(tmp_path / "missing.gguf")
