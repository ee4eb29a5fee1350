"""Write a GGUF file from a Hugging Face Qwen2 checkpoint directory, with the ``gguf`` package.

Input: a directory with config.json (``model_type`` qwen2), safetensors weights (one file or
an index of shards; F32, F16 or BF16) and the tokenizer (tokenizer.json and
tokenizer_config.json, as ``model.tokenizer`` writes them or as released). Output: one GGUF of
architecture ``qwen2`` in F16 (matrices F16, norms and biases F32) or F32, which llama.cpp
loads and ``model.quantize`` quantizes. Tensors stream one at a time from memory-mapped
safetensors, so a 1.5B model converts in little memory. The file appears under its final
name only when complete.

This is our own writer, not llama.cpp's converter script: it knows exactly one architecture,
and the metadata and token types follow what llama.cpp's converter writes for the released
Qwen2.5 models, so our GGUFs load and tokenize the same way theirs do. Use it for test models
(``model.make_test``) and for exporting fine-tuned checkpoints (``meta`` records the base
model or adapter).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from model.errors import BadModelFile
from model.out_of_space import clean_dead_temps, is_out_of_space, no_space_error

ARCH = "qwen2"
OutType = Literal["f16", "f32"]

#: HF parameter name -> GGUF tensor name, per block ({n}) and global.
_BLOCK_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_BLOCK_RE = re.compile(r"model\.layers\.(\d+)\.(.+)")
#: Buffers some checkpoints carry that are recomputed at load time.
_IGNORED = re.compile(r".*rotary_emb\.inv_freq$")


@dataclass(frozen=True)
class Qwen2Hparams:
    """The architecture numbers a qwen2 GGUF records, read from config.json."""

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    context: int
    rope_theta: float
    rms_eps: float
    tied: bool
    head_dim: int
    yarn_factor: float | None = None
    yarn_original_context: int | None = None
    bos_token_id: int | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], source: Path) -> Qwen2Hparams:
        if cfg.get("model_type") != ARCH:
            raise BadModelFile(f"{source}: model_type is {cfg.get('model_type')!r}, not 'qwen2' (Qwen2.5)")
        # transformers 5 writes rope_parameters; released checkpoints have rope_theta/rope_scaling.
        rope = dict(cfg.get("rope_parameters") or {})
        scaling = dict(cfg.get("rope_scaling") or {}) or rope
        kind = scaling.get("rope_type") or scaling.get("type")
        yarn = kind == "yarn"
        try:
            heads = int(cfg["num_attention_heads"])
            return cls(
                vocab_size=int(cfg["vocab_size"]),
                hidden=int(cfg["hidden_size"]),
                layers=int(cfg["num_hidden_layers"]),
                heads=heads,
                kv_heads=int(cfg.get("num_key_value_heads") or heads),
                ffn=int(cfg["intermediate_size"]),
                context=int(cfg["max_position_embeddings"]),
                rope_theta=float(cfg.get("rope_theta") or rope.get("rope_theta") or 10_000.0),
                rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
                tied=bool(cfg.get("tie_word_embeddings", False)),
                head_dim=int(cfg.get("head_dim") or int(cfg["hidden_size"]) // heads),
                yarn_factor=float(scaling["factor"]) if yarn else None,
                yarn_original_context=int(scaling["original_max_position_embeddings"]) if yarn else None,
                bos_token_id=cfg.get("bos_token_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadModelFile(f"{source}: missing or bad setting {exc} for a qwen2 model") from exc


def export_gguf(
    hf_dir: Path,
    out: Path,
    *,
    out_type: OutType = "f16",
    name: str | None = None,
    tokenizer_dir: Path | None = None,
    meta: Mapping[str, str | int | float | bool] | None = None,
) -> Path:
    """Convert the Qwen2 checkpoint in ``hf_dir`` to the GGUF file ``out``; return ``out``.

    ``tokenizer_dir`` is where tokenizer.json / tokenizer_config.json are when ``hf_dir`` lacks
    them. ``meta`` adds key/value pairs (e.g. ``{"qwenpair.base_model": ...}``) to the header.
    """
    import gguf
    import numpy as np

    if out_type not in ("f16", "f32"):
        raise ValueError(f"unknown GGUF output type {out_type!r}: use 'f16' or 'f32'")
    hf_dir, out = Path(hf_dir), Path(out)
    config_path = hf_dir / "config.json"
    hp = Qwen2Hparams.from_config(_read_json(config_path), config_path)
    vocab = _read_tokenizer(tokenizer_dir if tokenizer_dir and not (hf_dir / "tokenizer.json").exists() else hf_dir)
    tensors = _plan_tensors(hf_dir, hp)

    out.parent.mkdir(parents=True, exist_ok=True)
    # A killed export left its temporary file: remove it (issue 18 fault matrix).
    clean_dead_temps(out.parent, re.compile(rf"\.{re.escape(out.name)}\.(?P<pid>\d+)\.tmp"))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(tmp, ARCH)
    try:
        _add_metadata(writer, hp, vocab, name or hf_dir.resolve().name, out_type, meta or {})
        for t in tensors:
            dtype = np.float16 if out_type == "f16" and len(t.shape) == 2 else np.float32
            writer.add_tensor_info(t.gguf_name, t.shape, np.dtype(dtype), t.numel * np.dtype(dtype).itemsize)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t in tensors:
            dtype = np.float16 if out_type == "f16" and len(t.shape) == 2 else np.float32
            writer.write_tensor_data(np.ascontiguousarray(t.load().astype(dtype, copy=False)))
        writer.close()
        os.replace(tmp, out)
    except BaseException as exc:
        try:
            writer.close()  # flushing on a full disk fails again
        except OSError:
            pass
        tmp.unlink(missing_ok=True)
        if is_out_of_space(exc):
            needed = sum(t.numel * (2 if out_type == "f16" and len(t.shape) == 2 else 4) for t in tensors)
            raise no_space_error(out, needed, exc) from exc
        raise
    return out


# -- tokenizer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocab:
    tokens: dict[int, str]  # id -> token text (byte-level alphabet for BPE tokens)
    added: dict[int, bool]  # id -> "special" flag, for added (control) tokens
    merges: list[str]
    config: dict[str, Any]  # tokenizer_config.json
    chat_template: str | None

    def id_of(self, value: Any) -> int | None:
        """The ID of a token named in tokenizer_config.json (a string or an AddedToken dict)."""
        if isinstance(value, dict):  # older configs store AddedToken dicts
            value = value.get("content")
        if not isinstance(value, str):
            return None
        return next((i for i in self.added if self.tokens[i] == value), None)


def _read_tokenizer(directory: Path) -> _Vocab:
    tok_path = directory / "tokenizer.json"
    tok = _read_json(tok_path)
    config = _read_json(directory / "tokenizer_config.json")
    model = tok.get("model") or {}
    if model.get("type") != "BPE":
        raise BadModelFile(f"{tok_path}: not a byte-level BPE tokenizer (Qwen2's)")
    tokens = {int(i): t for t, i in model["vocab"].items()}
    added = {int(a["id"]): bool(a.get("special")) for a in tok.get("added_tokens", [])}
    tokens.update({int(a["id"]): a["content"] for a in tok.get("added_tokens", [])})
    # tokenizers >= 0.20 saves merges as pairs, older releases as "a b" strings.
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    template = config.get("chat_template")
    jinja = directory / "chat_template.jinja"  # where transformers 5 saves it
    if template is None and jinja.is_file():
        template = jinja.read_text("utf-8")
    return _Vocab(tokens, added, merges, config, template if isinstance(template, str) else None)


def _looks_special(text: str) -> bool:
    # llama.cpp's converter treats <|...|> tokens as control even when not flagged special.
    return text.startswith("<|") and text.endswith("|>")


def _token_table(vocab: _Vocab, size: int, source: Path) -> tuple[list[str], list[int]]:
    import gguf

    if vocab.tokens and max(vocab.tokens) >= size:
        raise BadModelFile(f"{source}: tokenizer has token ID {max(vocab.tokens)} but the model only {size} rows")
    texts, types = [], []
    for i in range(size):
        text = vocab.tokens.get(i)
        if text is None:  # embedding rows past the tokenizer (151,665 -> 151,936)
            texts.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in vocab.added:
            texts.append(text)
            control = vocab.added[i] or _looks_special(text)
            # <tool_call> and </tool_call> come out USER_DEFINED, as in the released GGUFs.
            types.append(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED)
        else:
            texts.append(text)
            types.append(gguf.TokenType.NORMAL)
    return texts, [int(t) for t in types]


# -- metadata -------------------------------------------------------------------------------


def _add_metadata(
    writer: Any, hp: Qwen2Hparams, vocab: _Vocab, name: str, out_type: str, meta: Mapping[str, Any]
) -> None:
    import gguf

    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if out_type == "f16" else gguf.LlamaFileType.ALL_F32)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(hp.context)
    writer.add_embedding_length(hp.hidden)
    writer.add_block_count(hp.layers)
    writer.add_feed_forward_length(hp.ffn)
    writer.add_head_count(hp.heads)
    writer.add_head_count_kv(hp.kv_heads)
    if hp.head_dim * hp.heads != hp.hidden:
        writer.add_key_length(hp.head_dim)
        writer.add_value_length(hp.head_dim)
    writer.add_rope_freq_base(hp.rope_theta)
    writer.add_layer_norm_rms_eps(hp.rms_eps)
    if hp.yarn_factor is not None:
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(hp.yarn_factor)
        writer.add_rope_scaling_orig_ctx_len(hp.yarn_original_context)

    texts, types = _token_table(vocab, hp.vocab_size, Path(name))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(texts)
    writer.add_token_types(types)
    writer.add_token_merges(vocab.merges)
    cfg = vocab.config
    eos = vocab.id_of(cfg.get("eos_token"))
    pad = vocab.id_of(cfg.get("pad_token"))
    bos = vocab.id_of(cfg.get("bos_token"))
    bos = bos if bos is not None else hp.bos_token_id  # Qwen keeps it in config.json only
    if bos is not None:
        writer.add_bos_token_id(bos)
    if eos is not None:
        writer.add_eos_token_id(eos)
    if pad is not None:
        writer.add_pad_token_id(pad)
    writer.add_add_bos_token(bool(cfg.get("add_bos_token", False)))
    writer.add_add_eos_token(bool(cfg.get("add_eos_token", False)))
    fim = {
        gguf.Keys.Tokenizer.FIM_PRE_ID: "<|fim_prefix|>",
        gguf.Keys.Tokenizer.FIM_SUF_ID: "<|fim_suffix|>",
        gguf.Keys.Tokenizer.FIM_MID_ID: "<|fim_middle|>",
        gguf.Keys.Tokenizer.FIM_PAD_ID: "<|fim_pad|>",
        gguf.Keys.Tokenizer.FIM_REP_ID: "<|repo_name|>",
        gguf.Keys.Tokenizer.FIM_SEP_ID: "<|file_sep|>",
    }
    for key, text in fim.items():
        if (tid := vocab.id_of(text)) is not None:
            writer.add_uint32(key, tid)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
    for key, value in meta.items():
        _add_meta_value(writer, key, value)


def _add_meta_value(writer: Any, key: str, value: Any) -> None:
    if isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_int64(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, str):
        writer.add_string(key, value)
    else:
        raise TypeError(f"GGUF metadata {key!r} must be str, int, float or bool, not {type(value).__name__}")


# -- weights --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tensor:
    """One tensor to write: where its bytes are in a safetensors file and its GGUF name."""

    gguf_name: str
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int  # absolute byte offsets in ``file``
    end: int

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def load(self) -> Any:
        """The tensor as a float32 or float16 numpy array (memory-mapped where possible)."""
        import numpy as np

        raw = np.memmap(self.file, dtype=np.uint8, mode="r", offset=self.start, shape=(self.end - self.start,))
        if self.dtype == "F32":
            arr = raw.view(np.float32)
        elif self.dtype == "F16":
            arr = raw.view(np.float16)
        elif self.dtype == "BF16":  # bfloat16 is the top half of a float32
            arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise BadModelFile(f"{self.file}: tensor dtype {self.dtype} is not supported (F32, F16, BF16)")
        return arr.reshape(self.shape)


def _plan_tensors(hf_dir: Path, hp: Qwen2Hparams) -> list[_Tensor]:
    """Every tensor of the checkpoint mapped to its GGUF name, checked for completeness."""
    found: dict[str, _Tensor] = {}
    for hf_name, file, dtype, shape, start, end in _safetensors_entries(hf_dir):
        if _IGNORED.match(hf_name) or (hf_name == "lm_head.weight" and hp.tied):
            continue  # tied embeddings: llama.cpp reuses token_embd, no output tensor
        gguf_name = gguf_tensor_name(hf_name)
        if gguf_name is None:
            raise BadModelFile(f"{file}: unexpected tensor {hf_name!r} for a Qwen2 model")
        found[gguf_name] = _Tensor(gguf_name, file, dtype, shape, start, end)
    expected = ["token_embd.weight", "output_norm.weight"] + ([] if hp.tied else ["output.weight"])
    expected += [f"blk.{n}.{g}" for n in range(hp.layers) for g in _BLOCK_TENSORS.values()]
    missing = [e for e in expected if e not in found]
    if missing:
        raise BadModelFile(f"{hf_dir}: the weights lack {len(missing)} tensor(s), e.g. {missing[0]}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise BadModelFile(f"{hf_dir}: tensor {extra[0]} does not fit config.json ({hp.layers} layers)")
    embd = found["token_embd.weight"].shape
    if embd != (hp.vocab_size, hp.hidden):
        raise BadModelFile(f"{hf_dir}: token embedding is {embd}, config.json says {(hp.vocab_size, hp.hidden)}")
    return [found[e] for e in expected]


def gguf_tensor_name(hf_name: str) -> str | None:
    """The GGUF name of a Hugging Face Qwen2 tensor (None for one llama.cpp does not use)."""
    if hf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[hf_name]
    m = _BLOCK_RE.fullmatch(hf_name)
    if m and m.group(2) in _BLOCK_TENSORS:
        return f"blk.{m.group(1)}.{_BLOCK_TENSORS[m.group(2)]}"
    return None


def _safetensors_entries(hf_dir: Path) -> Iterator[tuple[str, Path, str, tuple[int, ...], int, int]]:
    """(name, file, dtype, shape, start, end) for every tensor in the checkpoint's safetensors."""
    index = hf_dir / "model.safetensors.index.json"
    if index.is_file():
        files = sorted({hf_dir / f for f in _read_json(index).get("weight_map", {}).values()})
    else:
        files = sorted(hf_dir.glob("*.safetensors"))
    if not files:
        raise BadModelFile(f"{hf_dir}: no *.safetensors weights (need model.safetensors or an index)")
    for file in files:
        yield from _read_safetensors_header(file)


def _read_safetensors_header(file: Path) -> Iterator[tuple[str, Path, str, tuple[int, ...], int, int]]:
    # Format: u64 little-endian header length, JSON header, then the raw tensor bytes.
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if n <= 0 or 8 + n > size:
                raise ValueError("header length beyond the end of the file")
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        raise BadModelFile(f"{file} is not a readable safetensors file ({exc})") from exc
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = (base + int(x) for x in info["data_offsets"])
        if end > size:
            raise BadModelFile(f"{file} is truncated: tensor {name} ends past the end of the file")
        yield name, file, info["dtype"], tuple(int(d) for d in info["shape"]), start, end


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BadModelFile(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise BadModelFile(f"{path} is not readable JSON ({exc})") from exc
