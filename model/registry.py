"""The model registry: every released Qwen2.5-Coder size, base and instruct, Qwen3-Coder-30B-A3B,
Sweep's next-edit model, and each family's prompt format.

For each registry name (``qwen2.5-coder-1.5b``, ``qwen2.5-coder-1.5b-instruct`` ...) it knows
the Hugging Face repository of the safetensors weights, the GGUF repository and file names by
quantization, the context length, the architecture shape and the family. Qwen2.5 shapes are
the released configs (with the technical report's two misprints corrected). Each family has
a ``PromptFormat`` (PSM or SPM, repository-level layout or not, the marker strings), which
``model.prompt`` builds from, so a new family is a registry entry, not code. Token *IDs* are
not here: a backend reads them from the loaded model's vocabulary (``model.tokens``).
Pure data and lookups: no I/O (``backend_format`` logs the warning it adds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Literal

from model.errors import ModelNotFound
from model.tokens import (
    CONTROL_TOKENS,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PREFIX,
    FIM_SUFFIX,
    IM_END,
    IM_START,
    PADDED_VOCAB_LARGE,
    PADDED_VOCAB_SMALL,
    REPO_NAME,
    REPO_TEXTS,
    SpecialTokens,
)


@dataclass(frozen=True)
class PromptFormat:
    """How a family's prompts are laid out: what ``model.prompt`` needs to build them.

    Marker strings must be control-token strings ``model.tokens`` knows (so text that spells
    them is never taken for them); their IDs come from the loaded model's vocabulary.
    """

    family: str
    architectures: tuple[str, ...] = ()  # GGUF general.architecture values of this family
    fim_mode: Literal["psm", "spm"] = "psm"  # inference order: prefix-suffix-middle or suffix first
    repo_level: bool = True  # <|repo_name|> / <|file_sep|> layout (Qwen2.5 report, Figure 4)
    fim_prefix: str = FIM_PREFIX
    fim_suffix: str = FIM_SUFFIX
    fim_middle: str = FIM_MIDDLE
    repo_name: str = REPO_NAME
    file_sep: str = FILE_SEP
    im_start: str = IM_START
    im_end: str = IM_END

    def __post_init__(self) -> None:
        if self.fim_mode not in ("psm", "spm"):
            raise ValueError(f"{self.family}: unknown FIM mode {self.fim_mode!r}: use 'psm' or 'spm'")
        unknown = [m for m in self.markers if m not in CONTROL_TOKENS]
        if unknown:
            raise ValueError(f"{self.family}: marker strings {unknown} are not control tokens model.tokens knows")

    @property
    def markers(self) -> tuple[str, ...]:
        return (self.fim_prefix, self.fim_suffix, self.fim_middle, self.repo_name, self.file_sep, self.im_start, self.im_end)


#: Prompt formats by family. Qwen3-Coder keeps Qwen2.5-Coder's FIM and repo strings (its
#: README's FIM example); only the IDs may differ, and those are read from the model.
FORMATS: dict[str, PromptFormat] = {
    "qwen2.5-coder": PromptFormat("qwen2.5-coder", ("qwen2",)),
    "qwen3-coder": PromptFormat("qwen3-coder", ("qwen3moe",)),
}
DEFAULT_FORMAT = FORMATS["qwen2.5-coder"]
#: Every GGUF architecture some family runs on (``model.gguf_check`` refuses the others).
ARCHITECTURES: tuple[str, ...] = tuple(a for f in FORMATS.values() for a in f.architectures)


def format_for_architecture(arch: str) -> PromptFormat:
    """The prompt format of a loaded model, by its architecture (GGUF ``general.architecture``
    or a Hugging Face ``model_type``: ``qwen3_moe`` is ``qwen3moe``); Qwen2.5-Coder's if unknown."""
    arch = arch.replace("_", "").lower()
    return next((f for f in FORMATS.values() if arch in f.architectures), DEFAULT_FORMAT)


def usable_format(fmt: PromptFormat, special: SpecialTokens | None) -> tuple[PromptFormat, str | None]:
    """``fmt`` as a loaded model with ``special`` (its vocabulary's control tokens; None: not
    known, taken as complete) can take it: without the repository-level layout when it lacks
    ``<|repo_name|>`` or ``<|file_sep|>``, with the warning that says so (the words of
    ``model.backends.base.fit_prompt``, which does the same to a prompt built without this)."""
    lacking = special.missing(REPO_TEXTS) if special is not None and fmt.repo_level else []
    if not lacking:
        return fmt, None
    note = (
        f"{special.source} lacks {', '.join(lacking)}: completions use file-level FIM without "
        "repository context; use a model whose vocabulary has the repo tokens for cross-file context"
    )
    return replace(fmt, repo_level=False), note


def backend_format(backend: object) -> PromptFormat:
    """The prompt format to build for a loaded backend (or the server's shared wrapper around
    it, ``.inner``): its family's, without the repository-level layout when its vocabulary
    lacks the repo tokens. That warning joins the backend's ``warnings`` once, so the CLI and
    the server show it, and the context explanation lists only snippets really sent."""
    model = getattr(backend, "inner", backend)
    fmt, note = usable_format(getattr(model, "prompt_format", DEFAULT_FORMAT), getattr(model, "special", None))
    said = getattr(model, "warnings", None)
    if note and isinstance(said, list) and note not in said:
        said.append(note)
        logging.getLogger("qwenpair.model").info("%s", note)  # the CLI and the server show it to the user
    return fmt


def prompt_format(family: str | None) -> PromptFormat:
    """The prompt format of ``family`` (None: Qwen2.5-Coder's)."""
    if family is None:
        return DEFAULT_FORMAT
    try:
        return FORMATS[family]
    except KeyError:
        raise ModelNotFound(f"unknown model family {family!r}; known: {', '.join(FORMATS)}") from None


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
    experts: int = 0  # MoE: routed experts per layer (0: dense); ffn is then each expert's width
    experts_used: int = 0  # MoE: experts each token goes through
    qkv_bias: bool = True  # Qwen2 has QKV bias; Qwen3 has none (it norms q and k instead)

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

    def parameters(self, *, active: bool = False) -> int:
        """Parameter count (embeddings included, counted once when tied); ``active``: those one
        token goes through (an MoE model's routed experts count ``experts_used`` times)."""
        attn = self.hidden * self.heads * self.head_dim * 2  # q and o
        attn += self.hidden * self.kv_heads * self.head_dim * 2  # k and v
        if self.qkv_bias:
            attn += (self.heads + 2 * self.kv_heads) * self.head_dim
        else:
            attn += 2 * self.head_dim  # q and k norms
        mlp = 3 * self.hidden * self.ffn
        if self.experts:
            mlp = mlp * (self.experts_used if active else self.experts) + self.hidden * self.experts  # + router
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
    family: str = "qwen2.5-coder"  # its PromptFormat in FORMATS
    fim: bool | None = None  # does completion (FIM) work with it; None: base models yes, instruct no
    arch_shape: Shape | None = field(default=None, repr=False)  # a shape not in SHAPES (other families)
    tested_here: bool = True  # False: entry from the published files, never run by this project
    next_edit: bool = False  # a next-edit model (docs/next-edit.md): writes updated windows, not FIM

    @property
    def shape(self) -> Shape:
        return self.arch_shape or SHAPES[self.size]

    @property
    def prompt_format(self) -> PromptFormat:
        return prompt_format(self.family)

    @property
    def context(self) -> int:
        return self.shape.context

    @property
    def role(self) -> str:
        if self.next_edit:
            return "next edit"
        fim = (not self.instruct) if self.fim is None else self.fim
        if self.instruct and fim:
            return "chat/edit + FIM"
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


#: Qwen3-Coder-30B-A3B-Instruct's published config.json: qwen3_moe, 48 layers, 128 experts of
#: width 768 with 8 used per token (about 30.5B parameters, 3.3B active: it runs on a CPU with
#: ~20 GB of memory at Q4_K_M), 256K native context. Not tested here (no download in this
#: project's CI); the FIM and stop token IDs are read from the GGUF when it is loaded.
QWEN3_CODER_30B_A3B = Shape(
    2_048, 48, 32, 4, 128, 768, False, 262_144, PADDED_VOCAB_SMALL,
    rope_theta=10_000_000.0, native_context=262_144, experts=128, experts_used=8, qkv_bias=False,
)
#: No Qwen-published GGUF of it was found when this entry was written; these are a community
#: conversion's files (seen on the hub: Q4_K_M, 18.6 GB). Not tested here: check the file with
#: `qwenpair doctor` after a pull.
QWEN3_CODER_GGUF_REPO = "prithivMLmods/Qwen3-Coder-30B-A3B-Instruct-GGUF"
QWEN3_CODER_GGUF_QUANTS = ("q4_k_m",)


def _qwen3_coder() -> ModelSpec:
    name = "qwen3-coder-30b-a3b-instruct"
    files = {q: f"{name}-{q}.gguf" for q in QWEN3_CODER_GGUF_QUANTS}
    return ModelSpec(
        name, "30b-a3b", True, "Qwen/Qwen3-Coder-30B-A3B-Instruct", QWEN3_CODER_GGUF_REPO, files, "q4_k_m",
        family="qwen3-coder", fim=True, arch_shape=QWEN3_CODER_30B_A3B, tested_here=False,
    )


def _sweep_next_edit() -> ModelSpec:
    """sweepai's next-edit model, a Qwen2.5-Coder-1.5B fine-tune (the 1.5B shape, Qwen's
    vocabulary) that writes the updated window of the Sweep prompt (docs/next-edit.md). Its
    published Q8_0 GGUF; `model pull` checks the file's SHA-256 against the hub's, as for every
    entry. Not run here (no download in this project's CI): the Sweep prompt format is what is
    tested (tests/model/test_nes_prompt.py)."""
    repo = "sweepai/sweep-next-edit-1.5B"
    return ModelSpec(
        "sweep-next-edit-1.5b", "1.5b", False, repo, repo, {"q8_0": "sweep-next-edit-1.5b.q8_0.v2.gguf"}, "q8_0",
        fim=False, tested_here=False, next_edit=True,
    )


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec for size in SHAPES for spec in (_make(size, False), _make(size, True))
}
REGISTRY[_qwen3_coder().name] = _qwen3_coder()
REGISTRY[_sweep_next_edit().name] = _sweep_next_edit()

#: Completion uses a base model; chat and edit an instruct model.
DEFAULT_COMPLETION_MODEL = "qwen2.5-coder-1.5b"
DEFAULT_CHAT_MODEL = "qwen2.5-coder-1.5b-instruct"
#: The next-edit model to pull for `next_edit.model` (docs/next-edit.md).
NEXT_EDIT_MODEL = "sweep-next-edit-1.5b"


def get(name: str) -> ModelSpec:
    """The registry entry for ``name`` (case-insensitive); unknown names list the valid ones."""
    spec = REGISTRY.get(name.strip().lower())
    if spec is None:
        raise ModelNotFound(
            f"unknown model {name!r}. Valid names: {', '.join(REGISTRY)}; "
            "or give a path to a .gguf file."
        )
    return spec
