"""The tiny test model: built once, faithful to the checkpoint, loadable and quantizable by llama.cpp.

Everything runs the real parts: transformers builds the checkpoint, ``model.gguf_export``
writes the GGUF, llama.cpp (llama-cpp-python) loads, tokenizes, evaluates and quantizes it.
The model itself comes from the session fixture ``tiny_model`` (tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import closing

import pytest

from model.errors import BadModelFile, ModelError
from model.tokens import CONTROL_TOKENS, ENDOFTEXT_ID, FIM_PREFIX_ID, IM_END_ID, PADDED_VOCAB_SMALL, TOKEN_IDS

pytestmark = pytest.mark.slow

#: A FIM prompt's IDs (``<|fim_prefix|>def quicksort(arr<|fim_suffix|>\n<|fim_middle|>``-like).
PROMPT_IDS = [151659, 750, 3974, 6860, 10939, 982, 262, 421, 2422, 151661, 198, 151660]


def load(path, **kwargs):
    import llama_cpp

    return closing(llama_cpp.Llama(model_path=str(path), n_ctx=kwargs.pop("n_ctx", 256), verbose=False, **kwargs))


def test_files_manifest_and_meta(tiny_model):
    for path in (tiny_model.gguf, tiny_model.gguf_f16, tiny_model.hf_dir / "model.safetensors"):
        assert path.is_file()
    assert (tiny_model.tokenizer_dir / "tokenizer.json").is_file()
    manifest = json.loads((tiny_model.root / "make_test.json").read_text())
    assert manifest["shape"] == "tiny" and manifest["quants"] == ["Q8_0"]
    meta = json.loads((tiny_model.root / "meta.json").read_text())
    assert meta["random_weights"] is True and meta["gguf"]["Q8_0"] == tiny_model.gguf.name
    config = json.loads((tiny_model.hf_dir / "config.json").read_text())
    assert config["vocab_size"] == PADDED_VOCAB_SMALL and config["tie_word_embeddings"] is True


def test_second_build_reuses_the_first(tiny_model):
    from model.make_test import make_test_model

    before = (tiny_model.root / "make_test.json").stat().st_mtime_ns
    started = time.monotonic()
    again = make_test_model(tiny_model.root, "tiny")
    assert time.monotonic() - started < 2.0
    assert again == tiny_model
    assert (tiny_model.root / "make_test.json").stat().st_mtime_ns == before


def test_an_incomplete_build_is_not_reused(tiny_model, tmp_path):
    from model.make_test import load_test_model

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model.root, copy)
    assert load_test_model(copy, "tiny") is not None
    assert load_test_model(copy, "0.5b") is None  # another shape
    copy.joinpath(tiny_model.gguf.name).write_bytes(b"GGUF")  # a file cut short
    assert load_test_model(copy, "tiny") is None


def test_gguf_metadata_is_qwen2(tiny_model):
    with load(tiny_model.gguf_f16, vocab_only=True) as llm:
        meta = llm.metadata
    assert meta["general.architecture"] == "qwen2"
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "qwen2"
    expected = {
        "qwen2.block_count": "2",
        "qwen2.embedding_length": "64",
        "qwen2.feed_forward_length": "128",
        "qwen2.attention.head_count": "4",
        "qwen2.attention.head_count_kv": "2",
        "qwen2.context_length": "32768",
        "tokenizer.ggml.eos_token_id": str(ENDOFTEXT_ID),
        "tokenizer.ggml.padding_token_id": str(ENDOFTEXT_ID),
        "tokenizer.ggml.add_bos_token": "false",
        "qwenpair.random_weights": "true",
    }
    assert {k: meta.get(k) for k in expected} == expected
    assert float(meta["qwen2.rope.freq_base"]) == 1_000_000.0
    assert "<|im_start|>" in meta["tokenizer.chat_template"]


def test_llama_cpp_sees_the_vocabulary_as_the_released_ggufs_do(tiny_model):
    import llama_cpp

    with load(tiny_model.gguf, vocab_only=True) as llm:
        vocab = llm._model.vocab
        assert llama_cpp.llama_vocab_n_tokens(vocab) == PADDED_VOCAB_SMALL
        assert llama_cpp.llama_vocab_fim_pre(vocab) == FIM_PREFIX_ID
        assert llama_cpp.llama_vocab_eos(vocab) == ENDOFTEXT_ID
        assert not llama_cpp.llama_vocab_get_add_bos(vocab)
        fim = [llama_cpp.llama_vocab_fim_pre, llama_cpp.llama_vocab_fim_suf, llama_cpp.llama_vocab_fim_mid,
               llama_cpp.llama_vocab_fim_pad, llama_cpp.llama_vocab_fim_rep, llama_cpp.llama_vocab_fim_sep]  # fmt: skip
        names = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]
        assert [f(vocab) for f in fim] == [TOKEN_IDS[t] for t in names]
        # llama.cpp ends generation on these by itself; the engine adds the rest of
        # model.tokens.STOP_TOKEN_IDS (<|fim_prefix|>, <|fim_suffix|>, <|fim_middle|>).
        eog = [tid for tid in TOKEN_IDS.values() if llama_cpp.llama_vocab_is_eog(vocab, tid)]
        ends = [ENDOFTEXT_ID, IM_END_ID, *(TOKEN_IDS[t] for t in ("<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"))]
        assert eog == ends
        attr = lambda tid: llama_cpp.llama_vocab_get_attr(vocab, tid)  # noqa: E731
        assert attr(FIM_PREFIX_ID) & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
        assert attr(TOKEN_IDS["<tool_call>"]) & llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED  # as released
        assert attr(PADDED_VOCAB_SMALL - 1) & llama_cpp.LLAMA_TOKEN_ATTR_UNUSED


def test_special_tokens_are_single_ids_in_llama_cpp_as_in_hf(tiny_model, qwen_tokenizer):
    with load(tiny_model.gguf, vocab_only=True) as llm:
        assert llm.tokenize(b"<|fim_prefix|>def f", add_bos=True, special=True) == [FIM_PREFIX_ID, 750, 282]
        for text in CONTROL_TOKENS:
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == [TOKEN_IDS[text]], text
        sample = "<|repo_name|>r\n<|file_sep|>a.py\nx = 1 # ü 🦙\n<|fim_prefix|>def<|fim_suffix|>\n<|fim_middle|>"
        ids = qwen_tokenizer.encode(sample, add_special_tokens=False).ids
        assert llm.tokenize(sample.encode(), add_bos=False, special=True) == ids


def hf_logits(checkpoint):
    import torch
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    with torch.no_grad():
        return hf(torch.tensor([PROMPT_IDS])).logits[0].numpy()


def gguf_logits(path):
    import numpy as np

    with load(path, logits_all=True) as llm:
        llm.eval(PROMPT_IDS)
        return np.array(llm.scores[: len(PROMPT_IDS)])


def assert_close_logits(expected, actual, rel):
    import numpy as np

    scale = np.abs(expected).max()
    assert scale > 0.1  # random weights still give distinct logits
    assert np.abs(actual - expected).max() < rel * scale
    assert (actual.argmax(-1) == expected.argmax(-1)).all()


def test_llama_cpp_computes_what_transformers_computes(tiny_model):
    """The export maps every tensor right: F16 GGUF logits match the checkpoint's."""
    assert_close_logits(hf_logits(tiny_model.hf_dir), gguf_logits(tiny_model.gguf_f16), rel=0.01)  # seen: 0.04%


def test_generates_visible_text_deterministically(tiny_model):
    outputs = []
    for _ in range(2):
        with load(tiny_model.gguf) as llm:
            out = llm.create_completion(
                "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n<|fim_middle|>", max_tokens=8, temperature=0.0
            )
            outputs.append(out["choices"][0]["text"])
    assert outputs[0] == outputs[1]
    assert outputs[0].strip(), "greedy decoding should write ordinary tokens, not stop at once"


# -- quantize ---------------------------------------------------------------------------------


def test_quantize_makes_a_smaller_file_that_loads(tiny_model, tmp_path):
    from model.quantize import quantize

    out = quantize(tiny_model.gguf_f16, tmp_path / "q4.gguf", "q4_0")
    assert out.stat().st_size < tiny_model.gguf_f16.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["q4.gguf"]  # no temporary left behind
    with load(out) as llm:
        assert llm.metadata["general.file_type"] == "2"  # LLAMA_FTYPE_MOSTLY_Q4_0
        assert llm.tokenize(b"<|fim_prefix|>def f", add_bos=False, special=True) == [FIM_PREFIX_ID, 750, 282]
        assert llm.create_completion("def", max_tokens=2, temperature=0.0)["choices"][0]["finish_reason"]


def test_quantize_rejects_bad_input_naming_the_file(tiny_model, tmp_path):
    from model.quantize import quantize

    missing = tmp_path / "missing.gguf"
    with pytest.raises(BadModelFile, match=str(missing)):
        quantize(missing, tmp_path / "out.gguf", "Q8_0")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(BadModelFile, match="not a GGUF"):
        quantize(text, tmp_path / "out.gguf", "Q8_0")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(tiny_model.gguf_f16.read_bytes()[:9_000_000])
    with pytest.raises(ModelError, match=str(truncated)):
        quantize(truncated, tmp_path / "out.gguf", "Q8_0")
    assert not (tmp_path / "out.gguf").exists()
    with pytest.raises(ModelError, match="Q4_K_M"):  # the message lists the valid types
        quantize(tiny_model.gguf_f16, tmp_path / "out.gguf", "Q3_X")


# -- export -----------------------------------------------------------------------------------


def copy_checkpoint(tiny_model, dest):
    shutil.copytree(tiny_model.hf_dir, dest)
    return dest


def test_export_records_extra_metadata(tiny_model, tmp_path):
    from model.gguf_export import export_gguf

    out = export_gguf(tiny_model.hf_dir, tmp_path / "m.gguf", meta={"qwenpair.base_model": "qwen2.5-coder-0.5b"})
    with load(out, vocab_only=True) as llm:
        assert llm.metadata["qwenpair.base_model"] == "qwen2.5-coder-0.5b"


def test_export_of_a_bfloat16_checkpoint_to_f32(tiny_model, tmp_path):
    """Released checkpoints are bfloat16: exported exactly, llama.cpp computes what HF does."""
    import torch
    from safetensors.torch import load_file, save_file

    from model.gguf_export import export_gguf

    ckpt = copy_checkpoint(tiny_model, tmp_path / "bf16")
    weights = load_file(ckpt / "model.safetensors")
    bf16 = {k: v.to(torch.bfloat16) for k, v in weights.items()}
    save_file(bf16, ckpt / "model.safetensors", metadata={"format": "pt"})
    out = export_gguf(ckpt, tmp_path / "bf16-f32.gguf", out_type="f32")
    assert_close_logits(hf_logits(ckpt), gguf_logits(out), rel=0.005)  # the KV cache is F16 (seen: 0.02%)


def test_export_rejects_bad_checkpoints_naming_the_file(tiny_model, tmp_path):
    from model.gguf_export import export_gguf

    no_config = copy_checkpoint(tiny_model, tmp_path / "a")
    (no_config / "config.json").unlink()
    with pytest.raises(BadModelFile, match=str(no_config / "config.json")):
        export_gguf(no_config, tmp_path / "a.gguf")

    truncated = copy_checkpoint(tiny_model, tmp_path / "b")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1_000_000])
    with pytest.raises(BadModelFile, match=str(weights)):
        export_gguf(truncated, tmp_path / "b.gguf")

    llama = copy_checkpoint(tiny_model, tmp_path / "c")
    config = json.loads((llama / "config.json").read_text())
    (llama / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(BadModelFile, match="not 'qwen2'"):
        export_gguf(llama, tmp_path / "c.gguf")
    assert not list(tmp_path.glob("*.gguf")) and not list(tmp_path.glob(".*.tmp"))


# -- command line -----------------------------------------------------------------------------


def test_cli_make_test_reuses_and_reports(tiny_model, capsys):
    from qwenpair.cli import main

    assert main(["model", "make-test", str(tiny_model.root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["Q8_0"] == str(tiny_model.gguf) and report["shape"] == "tiny"


def test_cli_quantize_errors_are_one_line(tmp_path, capsys):
    from qwenpair.cli import main

    assert main(["model", "quantize", str(tmp_path / "in.gguf"), str(tmp_path / "out.gguf"), "--type", "Q8_0"]) == 2
    err = capsys.readouterr().err
    assert "in.gguf does not exist" in err and "Traceback" not in err
