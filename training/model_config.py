"""The Qwen2 architecture a run trains: a released shape, the tiny test shape, or a custom
config, plus the RoPE settings of each pretraining stage.

Shapes come from ``model.registry.SHAPES`` (the six released configs, docs/design.md §3) and
``model.make_test.tiny_shape()``; a JSON file of ``Qwen2Config`` fields makes a custom one
(fields it leaves out come from the tiny shape). RoPE: the report trains the file-level
stage with base 10,000 and raises it to 1,000,000 for the repo-level stage at 32K tokens;
YaRN (factor 4 over 32K in the released models) is optional. transformers 5 keeps RoPE in
``rope_parameters``, 4.x in ``rope_theta``/``rope_scaling``; ``set_rope`` writes both forms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model.tokens import ENDOFTEXT_ID, TOKENIZER_SIZE
from training.errors import TrainingError

#: RoPE base per pretraining stage (technical report).
STAGE_ROPE_THETA = {"file": 10_000.0, "repo": 1_000_000.0}


def shape_names() -> tuple[str, ...]:
    from model.registry import SHAPES

    return ("tiny", *SHAPES)


def architecture(shape: str) -> dict[str, Any]:
    """``Qwen2Config`` keyword arguments for a shape name or a JSON file of fields."""
    from model.make_test import tiny_shape
    from model.registry import SHAPES

    base = tiny_shape().hf_config()
    if shape == "tiny":
        return base
    if shape.lower() in SHAPES:
        return SHAPES[shape.lower()].hf_config()
    path = Path(shape)
    if path.suffix == ".json" and path.is_file():
        try:
            custom = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise TrainingError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(custom, dict):
            raise TrainingError(f"{path} must hold an object of Qwen2Config fields")
        return {**base, **custom}
    raise TrainingError(f"unknown shape {shape!r}: use one of {', '.join(shape_names())} or a .json config file")


def build_config(arch: dict[str, Any], *, seq_len: int, rope_theta: float, yarn_factor: float | None = None,
                 yarn_original: int | None = None):
    """A ``Qwen2Config`` for training at ``seq_len`` with the given RoPE."""
    from transformers import Qwen2Config

    fields = dict(arch)
    fields.pop("rope_theta", None)
    fields.pop("rope_scaling", None)
    fields.pop("rope_parameters", None)
    if fields.get("vocab_size", 0) < TOKENIZER_SIZE:
        raise TrainingError(f"vocab_size {fields.get('vocab_size')} is smaller than the tokenizer ({TOKENIZER_SIZE})")
    config = Qwen2Config(**fields, bos_token_id=ENDOFTEXT_ID, eos_token_id=ENDOFTEXT_ID)
    set_rope(config, seq_len=seq_len, rope_theta=rope_theta, yarn_factor=yarn_factor, yarn_original=yarn_original)
    return config


def set_rope(config, *, seq_len: int, rope_theta: float, yarn_factor: float | None = None,
             yarn_original: int | None = None) -> None:
    """Set the RoPE base (and YaRN) and make the context at least ``seq_len``."""
    scaling = None
    if yarn_factor:
        original = yarn_original or int(seq_len / yarn_factor)
        scaling = {"rope_type": "yarn", "factor": float(yarn_factor), "original_max_position_embeddings": int(original)}
    config.max_position_embeddings = max(int(seq_len), int(getattr(config, "max_position_embeddings", 0) or 0)) \
        if not yarn_factor else int(seq_len)
    if hasattr(config, "rope_parameters"):  # transformers >= 5
        params = {"rope_type": "default", "rope_theta": float(rope_theta)}
        if scaling:
            params.update(scaling)
        config.rope_parameters = params
    else:  # transformers 4.x
        config.rope_theta = float(rope_theta)
        config.rope_scaling = {**scaling, "type": "yarn"} if scaling else None


def rope_of(config) -> dict[str, Any]:
    """The RoPE settings of a config, in one form whatever the transformers version."""
    params = getattr(config, "rope_parameters", None)
    if params:
        return dict(params)
    out = {"rope_type": "default", "rope_theta": getattr(config, "rope_theta", None)}
    if getattr(config, "rope_scaling", None):
        out.update(config.rope_scaling)
    return out
