"""Resolve a model reference and load the backend for it.

A model reference is a registry name (``qwen2.5-coder-1.5b``), a path to a .gguf file, a
Hugging Face checkpoint directory (hf backend), or an ``http(s)://`` URL of an
OpenAI-compatible server. ``BackendConfig`` is the one typed description the CLI, the
engine and the server pass around.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from model import registry
from model.backends.base import Backend
from model.errors import ModelError, ModelNotFound
from model.paths import models_dir


@dataclass(frozen=True)
class BackendConfig:
    """How to load one model."""

    model: str = registry.DEFAULT_COMPLETION_MODEL
    """Registry name, .gguf path, HF checkpoint dir, or http(s) URL of a /v1 server."""
    backend: str = "auto"
    """"auto" (from the reference), "llama_cpp", "hf" or "openai"."""
    n_ctx: int = 4096
    """Context window to allocate (prompt + output)."""
    n_threads: int | None = None
    """CPU threads; None = one per core."""
    n_gpu_layers: int = 0
    """Layers to offload to a GPU build of llama.cpp (-1 = all)."""
    adapter: str | None = None
    """LoRA adapter: a GGUF LoRA for llama_cpp, a peft directory for hf."""
    quant: str | None = None
    """Quantization of a registry model (default: the registry's)."""
    api_key: str | None = None
    """Bearer token for an OpenAI-compatible server."""


def local_path(spec: registry.ModelSpec, quant: str | None = None) -> Path:
    """Where ``model pull`` puts (and loading looks for) a registry model's GGUF."""
    quant = (quant or spec.default_quant or "").lower()
    if quant not in spec.gguf_files:
        if not spec.gguf_files:
            raise ModelNotFound(
                f"{spec.name} has no published GGUF; use the hf backend with {spec.hf_repo}, "
                "or give a .gguf path"
            )
        raise ModelNotFound(
            f"{spec.name} has no {quant!r} GGUF; available: {', '.join(spec.gguf_files)}"
        )
    return models_dir() / spec.name / spec.gguf_files[quant]


def resolve_gguf(reference: str, quant: str | None = None) -> Path:
    """The .gguf file a reference names; registry models must have been pulled."""
    path = Path(reference).expanduser()
    if reference.endswith(".gguf") or path.exists():
        if not path.exists():
            raise ModelNotFound(f"model file {path} does not exist")
        return path
    spec = registry.get(reference)
    found = local_path(spec, quant)
    if not found.exists():
        raise ModelNotFound(
            f"{spec.name} is not downloaded (expected {found}). "
            f"Run `qwenpair model pull {spec.name}`, or give a path to a .gguf file."
        )
    return found


def backend_kind(config: BackendConfig) -> str:
    if config.backend != "auto":
        return config.backend
    if config.model.startswith(("http://", "https://")):
        return "openai"
    path = Path(config.model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return "hf"
    return "llama_cpp"


def load_backend(config: BackendConfig) -> Backend:
    """Load the model ``config`` describes; ``ModelError`` says what to do when it can't."""
    kind = backend_kind(config)
    _test_load_delay()
    if kind == "llama_cpp":
        from model.backends.llama_cpp import LlamaCppBackend

        return LlamaCppBackend(
            resolve_gguf(config.model, config.quant),
            n_ctx=config.n_ctx,
            n_threads=config.n_threads,
            n_gpu_layers=config.n_gpu_layers,
            lora_path=config.adapter,
        )
    if kind == "hf":
        from model.backends.hf import HfBackend

        ref = config.model
        if ref in registry.REGISTRY:
            ref = registry.get(ref).hf_repo
        return HfBackend(ref, adapter=config.adapter, n_ctx=config.n_ctx)
    if kind == "openai":
        from model.backends.openai import OpenAIBackend

        return OpenAIBackend(config.model, api_key=config.api_key, n_ctx=config.n_ctx)
    if kind == "fake":
        raise ModelError("the fake backend is for unit tests; build it with model.backends.fake")
    raise ModelError(f"unknown backend {kind!r}: use auto, llama_cpp, hf or openai")


def _test_load_delay() -> None:
    """TEST-ONLY: ``QWENPAIR_TEST_LOAD_DELAY_S`` seconds are added before the real load, so
    that tests can ask for completions while a tiny model "loads" (assistant/load_wait.py;
    tests/lsp_server/test_lsp_load_wait.py). The real load still runs after it. Not a setting:
    users never set it."""
    delay = os.environ.get("QWENPAIR_TEST_LOAD_DELAY_S")
    if delay:
        try:
            time.sleep(min(60.0, max(0.0, float(delay))))
        except ValueError:
            pass  # a malformed test value adds no delay
