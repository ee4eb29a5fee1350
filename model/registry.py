"""The Qwen2.5-Coder model registry: every released size, base and instruct.

For each registry name (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-1.5b-instruct`` ...) it knows
the Hugging Face repository of the safetensors weights, the GGUF repository and file names by
quantization, the context length and the architecture shape. Shapes are the released configs
(DESIGN.md §3, with the technical report's two misprints corrected). Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import ModelNotFound
from model.tokens import PADDED_VOCAB_LARGE, PADDED_VOCAB_SMALL


@dataclass(frozen=True)
class Shape:
    """A Qwen2 architecture shape (what ``config.json`` of a released checkpoint says)."""

    hidden: int  # hidden_size
    layers: int  # num_hidden_layers
    heads: int  # num_attention_heads
    kv_heads: int  # num_key_value_heads (GQA)
    head_dim: int  # hidden / heads
    ffn: int  # intermediate_size (SwiGLU)
    tied_embeddings: bool  # tie_word_embeddings
    context: int  # supported context; 128K sizes reach it through YaRN (factor 4 over 32K)
    vocab: int  # embedding rows (padded beyond the 151,665 tokens)
    rope_theta: float = 1_000_000.0
    rms_eps: float = 1e-6
    native_context: int = 32_768  # max_position_embeddings in the released config

    def hf_config(self) -> dict:
        """Keyword arguments for ``transformers.Qwen2Config``."""
        return {
            "vocab_size": self.vocab,
            "hidden_size": self.hidden,
            "intermediate_size": self.ffn,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "max_position_embeddings": self.native_context,
            "rope_theta": self.rope_theta,
            "rms_norm_eps": self.rms_eps,
            "tie_word_embeddings": self.tied_embeddings,
            "hidden_act": "silu",
        }

    def parameters(self) -> int:
        """Parameter count (embeddings included, counted once when tied)."""
        attn = self.hidden * self.heads * self.head_dim * 2  # q and o
        attn += self.hidden * self.kv_heads * self.head_dim * 2  # k and v
        attn += (self.heads + 2 * self.kv_heads) * self.head_dim  # QKV bias
        mlp = 3 * self.hidden * self.ffn
        norms = 2 * self.hidden
        emb = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        return self.layers * (attn + mlp + norms) + emb + self.hidden


#: Released shapes, by size label.
SHAPES: dict[str, Shape] = {
    "0.5b": Shape(896, 24, 14, 2, 64, 4_864, True, 32_768, PADDED_VOCAB_SMALL),
    "1.5b": Shape(1_536, 28, 12, 2, 128, 8_960, True, 32_768, PADDED_VOCAB_SMALL),
    "3b": Shape(2_048, 36, 16, 2, 128, 11_008, True, 32_768, PADDED_VOCAB_SMALL),
    "7b": Shape(3_584, 28, 28, 4, 128, 18_944, False, 131_072, PADDED_VOCAB_LARGE),
    "14b": Shape(5_120, 48, 40, 8, 128, 13_824, False, 131_072, PADDED_VOCAB_LARGE),
    "32b": Shape(5_120, 64, 40, 8, 128, 27_648, False, 131_072, PADDED_VOCAB_LARGE),
}

#: rope_scaling for the 128K sizes beyond 32K (the released READMEs' recommendation).
YARN_128K = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32_768}

#: Quantizations published in Qwen's instruct GGUF repositories.
INSTRUCT_GGUF_QUANTS = ("q2_k", "q3_k_m", "q4_0", "q4_k_m", "q5_0", "q5_k_m", "q6_k", "q8_0")
#: Base-model GGUFs are published by ggml-org (what llama.vim uses), Q8_0 only.
BASE_GGUF_SIZES = ("0.5b", "1.5b", "3b", "7b")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry."""

    name: str  # registry name, e.g. "qwen2.5-coder-1.5b-instruct"
    size: str  # "0.5b" ... "32b"
    instruct: bool  # instruct (ChatML, EOS <|im_end|>) or base (FIM, EOS <|endoftext|>)
    hf_repo: str  # safetensors weights
    gguf_repo: str | None  # where published GGUFs live, if any
    gguf_files: dict[str, str]  # quantization -> file name (large ones may be split in parts)
    default_quant: str | None

    @property
    def shape(self) -> Shape:
        return SHAPES[self.size]

    @property
    def context(self) -> int:
        return self.shape.context

    @property
    def role(self) -> str:
        return "chat/edit" if self.instruct else "completion (FIM)"


def _label(size: str) -> str:
    return size.upper()  # "1.5b" -> "1.5B" as in the Hugging Face names


def _make(size: str, instruct: bool) -> ModelSpec:
    name = f"qwen2.5-coder-{size}" + ("-instruct" if instruct else "")
    hf_repo = f"Qwen/Qwen2.5-Coder-{_label(size)}" + ("-Instruct" if instruct else "")
    if instruct:
        files = {q: f"{name}-{q}.gguf" for q in INSTRUCT_GGUF_QUANTS}
        return ModelSpec(name, size, True, hf_repo, f"{hf_repo}-GGUF", files, "q8_0" if size in ("0.5b", "1.5b", "3b") else "q4_k_m")
    if size in BASE_GGUF_SIZES:
        repo = f"ggml-org/Qwen2.5-Coder-{_label(size)}-Q8_0-GGUF"
        return ModelSpec(name, size, False, hf_repo, repo, {"q8_0": f"{name}-q8_0.gguf"}, "q8_0")
    # No published base GGUF: use the hf backend, or convert + quantize the safetensors.
    return ModelSpec(name, size, False, hf_repo, None, {}, None)


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec for size in SHAPES for spec in (_make(size, False), _make(size, True))
}

#: Completion uses a base model; chat and edit an instruct model.
DEFAULT_COMPLETION_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_CHAT_MODEL = "qwen2.5-coder-1.5b-instruct"


def get(name: str) -> ModelSpec:
    """The registry entry for ``name`` (case-insensitive); unknown names list the valid ones."""
    spec = REGISTRY.get(name.strip().lower())
    if spec is None:
        raise ModelNotFound(
            f"unknown model {name!r}. Valid names: {', '.join(REGISTRY)}; "
            "or give a path to a .gguf file."
        )
    return spec
