"""LoRA training samples are built in the base model's prompt format, the one the server takes
from the model it loads (issue 22: a family is data, and training must send what serving sends).

Real parts: the completion engine on the training corpus's real index, the Qwen2 tokenizer.
"""

from __future__ import annotations

import json

from model import registry
from tests.training.test_lora import SAMPLES
from training.lora import base_format
from training.repo_samples import build_repo_samples


def test_the_base_models_family_gives_the_format(tiny_model, tmp_path):
    assert base_format(str(tiny_model.hf_dir)) is registry.FORMATS["qwen2.5-coder"]  # model_type qwen2
    moe = tmp_path / "qwen3-coder"
    moe.mkdir()
    (moe / "config.json").write_text(json.dumps({"model_type": "qwen3_moe"}))
    assert base_format(str(moe)) is registry.FORMATS["qwen3-coder"]
    assert base_format("qwen3-coder-30b-a3b-instruct") is registry.FORMATS["qwen3-coder"]
    assert base_format("qwen2.5-coder-1.5b") is registry.DEFAULT_FORMAT


def test_samples_follow_the_format_they_are_given(corpus):
    spm = registry.PromptFormat("spm-family", ("qwen2",), fim_mode="spm")
    built = build_repo_samples(corpus, SAMPLES, fmt=spm)
    prompts = [s.prompt for s in built.train + built.heldout]
    assert prompts and all(p.index("<|fim_suffix|>") < p.index("<|fim_prefix|>") for p in prompts)
    assert all(p.startswith("<|repo_name|>") for p in prompts)
    plain = build_repo_samples(corpus, SAMPLES)
    assert all(s.prompt.index("<|fim_prefix|>") < s.prompt.index("<|fim_suffix|>") for s in plain.train)
