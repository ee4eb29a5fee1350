"""The registry covers all six sizes, base and instruct, with the released shapes."""

import pytest

from model import registry
from model.errors import ModelNotFound

# docs/design.md §3, corrected table: hidden, layers, Q heads, KV heads, head dim, FFN, tied, context
RELEASED = {
    "0.5b": (896, 24, 14, 2, 64, 4864, True, 32_768),
    "1.5b": (1536, 28, 12, 2, 128, 8960, True, 32_768),
    "3b": (2048, 36, 16, 2, 128, 11008, True, 32_768),
    "7b": (3584, 28, 28, 4, 128, 18944, False, 131_072),
    "14b": (5120, 48, 40, 8, 128, 13824, False, 131_072),
    "32b": (5120, 64, 40, 8, 128, 27648, False, 131_072),
}


@pytest.mark.parametrize("size", RELEASED)
def test_shapes_match_the_released_configs(size):
    s = registry.SHAPES[size]
    assert (s.hidden, s.layers, s.heads, s.kv_heads, s.head_dim, s.ffn, s.tied_embeddings, s.context) == RELEASED[size]
    assert s.hidden == s.heads * s.head_dim
    assert s.vocab == (151_936 if size in ("0.5b", "1.5b", "3b") else 152_064)
    assert s.rope_theta == 1_000_000 and s.rms_eps == 1e-6


@pytest.mark.parametrize(
    "size,billions", [("0.5b", 0.49), ("1.5b", 1.54), ("3b", 3.09), ("7b", 7.62), ("14b", 14.77), ("32b", 32.76)]
)
def test_parameter_counts_match_the_model_cards(size, billions):
    assert registry.SHAPES[size].parameters() / 1e9 == pytest.approx(billions, rel=0.01)


def test_every_size_has_base_and_instruct_with_hf_repos():
    assert len([n for n in registry.REGISTRY if n.startswith("qwen2.5-coder-")]) == 12
    for size in RELEASED:
        base = registry.get(f"qwen2.5-coder-{size}")
        inst = registry.get(f"qwen2.5-coder-{size}-instruct")
        assert not base.instruct and inst.instruct
        assert base.hf_repo == f"Qwen/Qwen2.5-Coder-{size.upper()}"
        assert inst.hf_repo == f"Qwen/Qwen2.5-Coder-{size.upper()}-Instruct"
        assert inst.gguf_repo == f"Qwen/Qwen2.5-Coder-{size.upper()}-Instruct-GGUF"
        assert inst.gguf_files["q4_k_m"] == f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf"


def test_base_gguf_is_the_one_llama_vim_uses():
    spec = registry.get("qwen2.5-coder-1.5b")
    assert spec.gguf_repo == "ggml-org/Qwen2.5-Coder-1.5B-Q8_0-GGUF"
    assert spec.gguf_files == {"q8_0": "qwen2.5-coder-1.5b-q8_0.gguf"}
    assert registry.get("qwen2.5-coder-32b").gguf_repo is None


def test_names_are_case_insensitive():
    assert registry.get("Qwen2.5-Coder-7B-Instruct").name == "qwen2.5-coder-7b-instruct"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ModelNotFound) as err:
        registry.get("qwen2.5-coder-2b")
    msg = str(err.value)
    assert "qwen2.5-coder-2b" in msg
    assert "qwen2.5-coder-1.5b-instruct" in msg and "qwen2.5-coder-32b" in msg
    assert ".gguf" in msg


def test_hf_config_is_a_valid_qwen2_config():
    import transformers
    cfg = transformers.Qwen2Config(**registry.SHAPES["1.5b"].hf_config())
    assert cfg.num_key_value_heads == 2 and cfg.tie_word_embeddings


def test_qwen3_coder_30b_a3b_is_an_moe_entry_marked_not_tested_here():
    spec = registry.get("qwen3-coder-30b-a3b-instruct")
    assert spec.hf_repo == "Qwen/Qwen3-Coder-30B-A3B-Instruct" and spec.instruct and not spec.tested_here
    assert spec.gguf_files == {"q4_k_m": "qwen3-coder-30b-a3b-instruct-q4_k_m.gguf"} and spec.default_quant == "q4_k_m"
    # The model card: 30.5B parameters in all, 3.3B activated (128 experts, 8 per token).
    assert spec.shape.parameters() / 1e9 == pytest.approx(30.5, rel=0.01)
    assert spec.shape.parameters(active=True) / 1e9 == pytest.approx(3.3, rel=0.03)
    assert spec.context == 262_144 and spec.role == "chat/edit + FIM"
    assert spec.prompt_format.family == "qwen3-coder" and spec.prompt_format.fim_mode == "psm"


def test_each_entry_has_a_known_prompt_format():
    for spec in registry.REGISTRY.values():
        assert spec.prompt_format is registry.FORMATS[spec.family]
    assert registry.get("qwen2.5-coder-1.5b").prompt_format is registry.DEFAULT_FORMAT


def test_a_format_with_marker_strings_no_one_knows_is_refused():
    with pytest.raises(ValueError, match="not control tokens"):
        registry.PromptFormat("other", fim_prefix="<PRE>")
    with pytest.raises(ValueError, match="unknown FIM mode"):
        registry.PromptFormat("other", fim_mode="mps")
    with pytest.raises(ModelNotFound, match="unknown model family"):
        registry.prompt_format("starcoder")


def test_model_list_marks_the_entries_not_tested_here(capsys):
    import json

    from qwenpair.cli import main

    assert main(["model", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["qwen3-coder-30b-a3b-instruct"]["tested_here"] is False
    assert all(r["tested_here"] for n, r in rows.items() if n.startswith("qwen2.5-coder-"))
    assert main(["model", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines if line.endswith("(not tested here)")] == [
        "qwen3-coder-30b-a3b-instruct", "sweep-next-edit-1.5b"]
