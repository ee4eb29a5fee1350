"""The ``meta.json`` written beside every exported adapter or merged model, and the checks on load.

An adapter only means something on top of the base model it was trained on. Export
(``training.export_lora``) records that base here: its name, its architecture shape and
whether it is an instruct model, plus the prompt-format version the samples were built with,
the hyperparameters and the evaluation results. Loading (``LlamaCppBackend.set_adapter``,
the server's hot-swap) reads it back and refuses an adapter whose base does not match the
loaded model, naming both, instead of letting llama.cpp produce garbage (same shape, other
weights) or fail with a bare "could not init adapter".

What "matches" means: the same shape (hidden size, layers, query and KV heads, FFN size,
vocabulary rows: what decides whether the LoRA matrices even fit), and the same kind (base
vs instruct: same shape, different weights, the commonest mix-up). Names are only reported:
a GGUF's ``general.name`` and a registry name are spelt differently for the same model.

This module is plain data and JSON; it imports nothing heavy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.errors import ModelError
from model.prompt import PROMPT_FORMAT_VERSION

META_NAME = "meta.json"
#: Bumped when the layout of meta.json changes.
META_FORMAT = 1
#: The shape numbers compared, in the order they are reported.
SHAPE_KEYS = ("hidden", "layers", "heads", "kv_heads", "ffn", "vocab")


class AdapterMismatch(ModelError):
    """An adapter (or its meta.json) does not fit the model it is being loaded onto."""


@dataclass(frozen=True)
class BaseModel:
    """Identity of a base model: what an adapter must be applied to."""

    name: str  # registry name, checkpoint folder name or GGUF general.name (for messages)
    shape: dict[str, int]  # SHAPE_KEYS -> value
    instruct: bool = False

    def describe(self) -> str:
        numbers = ", ".join(f"{k} {self.shape.get(k)}" for k in SHAPE_KEYS)
        return f"{self.name} ({'instruct' if self.instruct else 'base'}; {numbers})"

    @classmethod
    def from_hf_config(cls, name: str, config: Mapping[str, Any]) -> BaseModel:
        """From a Hugging Face ``config.json`` (a dict)."""
        heads = int(config["num_attention_heads"])
        shape = {
            "hidden": int(config["hidden_size"]),
            "layers": int(config["num_hidden_layers"]),
            "heads": heads,
            "kv_heads": int(config.get("num_key_value_heads") or heads),
            "ffn": int(config["intermediate_size"]),
            "vocab": int(config["vocab_size"]),
        }
        return cls(name, shape, _looks_instruct(name))

    @classmethod
    def from_gguf_metadata(cls, metadata: Mapping[str, str], n_vocab: int, fallback_name: str) -> BaseModel:
        """From llama.cpp's model metadata (``Llama.metadata``: every key as a string)."""
        arch = metadata.get("general.architecture", "qwen2")

        def num(key: str) -> int:
            try:
                return int(metadata[f"{arch}.{key}"])
            except (KeyError, ValueError):
                return -1

        heads = num("attention.head_count")
        kv = num("attention.head_count_kv")
        shape = {
            "hidden": num("embedding_length"),
            "layers": num("block_count"),
            "heads": heads,
            "kv_heads": kv if kv > 0 else heads,
            "ffn": num("feed_forward_length"),
            "vocab": int(n_vocab),
        }
        name = metadata.get("qwenpair.base_model") or metadata.get("general.name") or fallback_name
        return cls(name, shape, _looks_instruct(name) or _looks_instruct(Path(fallback_name).name))


@dataclass
class AdapterMeta:
    """The content of ``meta.json``."""

    base: BaseModel
    kind: str = "lora"  # "lora" (adapter-only GGUF) or "merged" (a full model)
    prompt_format_version: int = PROMPT_FORMAT_VERSION
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # role -> file name beside meta.json
    format: int = META_FORMAT

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> AdapterMeta:
        try:
            base = data["base"]
            return cls(
                base=BaseModel(str(base["name"]), {k: int(v) for k, v in base["shape"].items()}, bool(base.get("instruct"))),
                kind=str(data.get("kind", "lora")),
                prompt_format_version=int(data["prompt_format_version"]),
                hyperparameters=dict(data.get("hyperparameters") or {}),
                eval=dict(data.get("eval") or {}),
                files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
                format=int(data.get("format", META_FORMAT)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AdapterMismatch(f"{where} is not a qwenpair adapter meta.json (missing or bad {exc}); re-export the adapter") from exc


def meta_path(adapter: str | Path) -> Path:
    """Where the meta.json of an adapter file (or export folder) lives."""
    adapter = Path(adapter)
    return adapter / META_NAME if adapter.is_dir() else adapter.with_name(META_NAME)


def read_meta(adapter: str | Path) -> AdapterMeta | None:
    """The meta.json beside ``adapter``, or None when there is none."""
    path = meta_path(adapter)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterMismatch(f"cannot read {path}: {exc}; re-export the adapter") from exc
    return AdapterMeta.from_json(data, str(path))


def check_adapter(adapter: str | Path, loaded: BaseModel) -> AdapterMeta | None:
    """Refuse ``adapter`` unless its recorded base matches the ``loaded`` model.

    Returns the meta (None for an adapter without meta.json: llama.cpp then only checks
    that the tensor shapes fit)."""
    meta = read_meta(adapter)
    if meta is None:
        return None
    if meta.prompt_format_version != PROMPT_FORMAT_VERSION:
        raise AdapterMismatch(
            f"adapter {adapter} was trained on prompt format version {meta.prompt_format_version}, but this "
            f"qwenpair sends version {PROMPT_FORMAT_VERSION}: retrain it with this version"
        )
    check_base(meta.base, loaded, str(adapter))
    return meta


def check_base(trained_on: BaseModel, loaded: BaseModel, adapter: str) -> None:
    differ = [k for k in SHAPE_KEYS if trained_on.shape.get(k) != loaded.shape.get(k)]
    if differ or trained_on.instruct != loaded.instruct:
        why = f"{', '.join(differ)} differ" if differ else "base vs instruct"
        raise AdapterMismatch(
            f"adapter {adapter} was trained for {trained_on.describe()}, but the loaded model is "
            f"{loaded.describe()} ({why}): load it on its own base model, or train an adapter for this one"
        )


def _looks_instruct(name: str) -> bool:
    return "instruct" in name.lower()
