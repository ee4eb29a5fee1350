"""Variants of the tiny test model whose vocabulary differs from Qwen2.5's in one way.

Each is the tiny model's Hugging Face folder with its added tokens renumbered or renamed in
``tokenizer.json`` and ``tokenizer_config.json``, converted to GGUF by the project's own
converter (``model.gguf_export``), so llama.cpp and transformers both load it for real. The
BPE vocabulary and the weights are the tiny model's; only where the control tokens sit changes.

- ``shifted``: the 21 tokens from ``<|im_start|>`` to ``<|file_sep|>`` rotated, so every FIM,
  repo and ChatML token has another ID (as a family with the same strings would number them).
- ``no_file_sep``: ``<|file_sep|>`` renamed (repository-level FIM is impossible).
- ``no_fim``: ``<|fim_prefix|>``, ``<|fim_suffix|>`` and ``<|fim_middle|>`` renamed.

``retype`` changes token types in a GGUF in place (FIM tokens flagged user-defined or normal
instead of control, as some converters write them).

``build_qwen3moe`` writes a tiny model of Qwen3-Coder's architecture (``qwen3moe``: q/k norms,
no QKV bias, routed experts) with random weights and a given tokenizer folder's vocabulary,
straight with gguf-py (the project's converter handles Qwen2 checkpoints only); llama.cpp
runs it like a real Qwen3-Coder GGUF.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from model.gguf_export import _read_tokenizer, _token_table, export_gguf
from model.tokens import CONTROL_TOKENS, TOKEN_IDS

FIRST, LAST = TOKEN_IDS["<|im_start|>"], TOKEN_IDS["<|file_sep|>"]
ROTATE = 15  # <|fim_prefix|> (the 16th of the 21) lands on <|im_start|>'s ID


def shifted_ids() -> dict[str, int]:
    """Token text -> ID in the ``shifted`` variant."""
    span = [t for t in CONTROL_TOKENS if FIRST <= TOKEN_IDS[t] <= LAST]
    n = len(span)
    out = dict(TOKEN_IDS)
    for k in range(n):
        out[span[(k + ROTATE) % n]] = FIRST + k
    return out


def _renumber(hf: Path, new_id: dict[str, int], renamed: dict[str, str]) -> None:
    tok_path, cfg_path = hf / "tokenizer.json", hf / "tokenizer_config.json"
    tok, cfg = json.loads(tok_path.read_text()), json.loads(cfg_path.read_text())
    for a in tok["added_tokens"]:
        a["id"] = new_id.get(a["content"], a["id"])
        a["content"] = renamed.get(a["content"], a["content"])
    tok["added_tokens"].sort(key=lambda a: a["id"])
    decoder = {}
    for entry in cfg["added_tokens_decoder"].values():
        token_id = new_id.get(entry["content"])
        entry["content"] = renamed.get(entry["content"], entry["content"])
        decoder[str(token_id)] = entry
    cfg["added_tokens_decoder"] = dict(sorted(decoder.items(), key=lambda kv: int(kv[0])))
    cfg["additional_special_tokens"] = [renamed.get(t, t) for t in cfg.get("additional_special_tokens", [])]
    tok_path.write_text(json.dumps(tok, ensure_ascii=False))
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=1))


def build_variant(tiny_model, kind: str, out_dir: Path) -> tuple[Path, Path]:
    """(GGUF, Hugging Face folder) of the variant ``kind`` under ``out_dir``."""
    hf = out_dir / kind / "hf"
    shutil.copytree(tiny_model.hf_dir, hf)
    if kind == "shifted":
        _renumber(hf, shifted_ids(), {})
    elif kind == "no_file_sep":
        _renumber(hf, dict(TOKEN_IDS), {"<|file_sep|>": "<|unused_0|>"})
    elif kind == "no_fim":
        renamed = {t: f"<|unused_{k}|>" for k, t in enumerate(("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))}
        _renumber(hf, dict(TOKEN_IDS), renamed)
    else:
        raise ValueError(kind)
    gguf = export_gguf(hf, out_dir / kind / f"tiny-{kind}-f16.gguf", out_type="f16", name=f"tiny-{kind}")
    return gguf, hf


def retype(path: Path, types: dict[int, int]) -> Path:
    """Set ``tokenizer.ggml.token_type`` of each ID in ``types`` (gguf.TokenType values) in place."""
    import gguf

    reader = gguf.GGUFReader(str(path), "r+")
    field = reader.fields["tokenizer.ggml.token_type"]
    for token_id, token_type in types.items():
        field.parts[field.data[token_id]][0] = int(token_type)
    del reader  # flushes the memory map
    return path


def build_qwen3moe(tokenizer_dir: Path, out: Path, *, seed: int = 0) -> Path:
    """A tiny qwen3moe GGUF (2 layers, 4 experts of which 2 per token, hidden 64, f32) with
    the vocabulary of ``tokenizer_dir`` (tokenizer.json + tokenizer_config.json)."""
    import gguf
    import numpy as np

    hidden, layers, heads, kv_heads, head_dim, experts, used, expert_ffn = 64, 2, 4, 2, 16, 4, 2, 32
    vocab = _read_tokenizer(tokenizer_dir)
    size = 151_936
    texts, types = _token_table(vocab, size, out)
    w = gguf.GGUFWriter(str(out), "qwen3moe")
    w.add_name("tiny-qwen3moe")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(4096)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(expert_ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(10_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_expert_count(experts)
    w.add_expert_used_count(used)
    w.add_expert_feed_forward_length(expert_ffn)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(texts)
    w.add_token_types(types)
    w.add_token_merges(vocab.merges)
    w.add_eos_token_id(vocab.id_of("<|im_end|>"))  # an instruct model, as Qwen3-Coder-30B-A3B is
    w.add_add_bos_token(False)
    rng = np.random.default_rng(seed)

    def rand(name: str, *shape: int) -> None:  # numpy order: ggml's dimensions reversed
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    def ones(name: str, n: int) -> None:
        w.add_tensor(name, np.ones(n, np.float32))

    rand("token_embd.weight", size, hidden)
    ones("output_norm.weight", hidden)
    rand("output.weight", size, hidden)
    for i in range(layers):
        b = f"blk.{i}."
        ones(b + "attn_norm.weight", hidden)
        rand(b + "attn_q.weight", heads * head_dim, hidden)
        rand(b + "attn_k.weight", kv_heads * head_dim, hidden)
        rand(b + "attn_v.weight", kv_heads * head_dim, hidden)
        rand(b + "attn_output.weight", hidden, heads * head_dim)
        ones(b + "attn_q_norm.weight", head_dim)
        ones(b + "attn_k_norm.weight", head_dim)
        ones(b + "ffn_norm.weight", hidden)
        rand(b + "ffn_gate_inp.weight", experts, hidden)
        rand(b + "ffn_gate_exps.weight", experts, expert_ffn, hidden)
        rand(b + "ffn_up_exps.weight", experts, expert_ffn, hidden)
        rand(b + "ffn_down_exps.weight", experts, hidden, expert_ffn)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out
