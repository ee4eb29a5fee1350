"""What every training stage does around the loop: load the tokenizer, load or check the
model it starts from, write ``run.json``, and make the checkpoint writer.

A stage starts from one of: a qwenpair checkpoint (its ``qwenpair.json`` is checked: prompt
format and tokenizer must match this run), a plain Hugging Face folder (a released Qwen2.5
checkpoint, or ``model make-test``'s tiny model: its tokenizer files, when present, must match
ours), or, for pretraining only, a fresh model from a config.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from training.atomic import write_json
from training.checkpoint import META, check_compatible, read_checkpoint, save_checkpoint
from training.errors import MismatchError, TrainingError
from training.provenance import provenance, tokenizer_fingerprint


@dataclass
class Tok:
    """The run's tokenizer (transformers) and its fingerprint."""

    hf: Any
    fingerprint: str


@lru_cache(maxsize=2)
def load_tokenizer(instruct: bool = False) -> Tok:
    """Loaded once per process and kind (base: EOS <|endoftext|>; instruct: <|im_end|>)."""
    from model.tokenizer import load_hf_tokenizer
    from model.tokens import IM_END

    tok = load_hf_tokenizer()
    if instruct:  # instruct checkpoints end turns with <|im_end|> (docs/design.md §3)
        tok.eos_token = IM_END
    return Tok(tok, tokenizer_fingerprint(tok))


def quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def check_base(path: Path, tok: Tok) -> dict[str, Any] | None:
    """Check a starting checkpoint; returns its qwenpair metadata (None for a plain HF folder)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise TrainingError(f"{path} is not a model folder (no config.json)")
    if (path / META).is_file():
        ckpt = read_checkpoint(path)
        check_compatible(ckpt.meta, str(path), tokenizer_fp=tok.fingerprint)
        return ckpt.meta
    if (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        found = tokenizer_fingerprint(Tokenizer.from_file(str(path / "tokenizer.json")))
        if found != tok.fingerprint:
            raise MismatchError(
                f"{path} comes with a different tokenizer (fingerprint {found}) than the Qwen2.5 tokenizer "
                f"({tok.fingerprint}): training it on our token IDs would corrupt it"
            )
    return None


def load_model(path: Path, config=None):
    """A Qwen2 causal LM in float32 from a checkpoint or Hugging Face folder (``config``
    overrides the folder's, e.g. with new RoPE settings)."""
    import torch
    from transformers import AutoModelForCausalLM

    quiet_transformers()
    kwargs = {"config": config} if config is not None else {}
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation="sdpa", **kwargs)


def checkpoint_writer(out: Path, model, tok: Tok, meta: dict[str, Any], keep: int,
                      log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Callable[..., Path]:
    """``save(step, model_state, optimizer_state, state)`` for ``training.loop.fit``."""

    def save(step: int, model_state: dict, optimizer_state: dict | None, state: dict[str, Any]) -> Path:
        path = save_checkpoint(out, step, model=model, model_state=model_state, optimizer_state=optimizer_state,
                               tokenizer=tok.hf, meta={**meta, "step": step}, state=state, keep=keep)
        log(f"saved {path}")
        return path

    return save


def write_run(out: Path, stage: str, tok: Tok, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The stage's provenance record; also written to ``OUT/run.json``."""
    meta = provenance(tok.fingerprint, config, stage=stage, **extra)
    write_json(Path(out) / "run.json", meta)
    return meta
