"""Checkpoints: written atomically, self-describing, checked on load.

Layout of a run's output folder::

    OUT/run.json                  the resolved config of the latest start (for people)
    OUT/metrics.jsonl             one line per optimizer step (rank 0)
    OUT/checkpoints/step-00000100/
        config.json, generation_config.json, model.safetensors   (Hugging Face format)
        tokenizer.json, tokenizer_config.json                    (the tokenizer it was trained with)
        optimizer.pt                                             (optimizer state, full)
        trainer_state.json                                       (step, data position, RNG)
        qwenpair.json                                            (stage, prompt format, tokenizer
                                                                  fingerprint, resolved config)
    OUT/checkpoints/LATEST        name of the newest complete checkpoint

A checkpoint is filled in a ``.tmp-`` folder and renamed when complete; LATEST is replaced
after that. A kill at any moment leaves the previous checkpoint and LATEST intact (the
leftover ``.tmp-`` folder is removed on the next start). Loading reads ``qwenpair.json`` and
refuses a prompt-format or tokenizer mismatch (``training.provenance``); resuming also
refuses a changed configuration.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.atomic import (TMP_PREFIX, clean_tmp, commit_dir, folder_bytes, is_out_of_space, read_json, space_note,
                             torch_save, write_json, write_text)
from training.errors import MismatchError, OutOfSpace, TrainingError
from training.provenance import check_prompt_format, check_tokenizer, config_diff

META = "qwenpair.json"
STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
LATEST = "LATEST"
_STEP_DIR = re.compile(r"^step-(\d{8})$")
#: Test hook: ``checkpoint:<step>`` SIGKILLs the process halfway through writing that step's
#: checkpoint (weights written, metadata not), to prove a kill cannot corrupt the last one.
FAULT_ENV = "QWENPAIR_FAULT"


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    state: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.state["step"])


def checkpoints_dir(out: Path) -> Path:
    return Path(out) / "checkpoints"


def step_name(step: int) -> str:
    return f"step-{step:08d}"


def save_checkpoint(out: Path, step: int, *, model, model_state: dict, optimizer_state: dict | None,
                    tokenizer, meta: dict[str, Any], state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``checkpoints/step-N`` atomically and point LATEST at it (rank 0 only)."""
    root = checkpoints_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    tmp = root / f"{TMP_PREFIX}{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    if getattr(model.config, "tie_word_embeddings", False):  # FSDP's full state dict copies the tied head
        model_state = {k: v for k, v in model_state.items() if k != "lm_head.weight"}
    try:
        model.save_pretrained(tmp, state_dict=model_state, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if optimizer_state is not None:
            torch_save(optimizer_state, tmp / OPTIMIZER)
        if os.environ.get(FAULT_ENV) == f"checkpoint:{step}":
            os.kill(os.getpid(), signal.SIGKILL)
        write_json(tmp / STATE, {**state, "step": step})
        write_json(tmp / META, meta)  # last: its presence means the folder is complete
        commit_dir(tmp, final)
    except BaseException as exc:
        written = folder_bytes(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if is_out_of_space(exc):
            last = latest_checkpoint(out)
            raise OutOfSpace(
                f"ran out of disk space writing checkpoint {final.name} in {root} "
                f"({space_note(root, max(written, folder_bytes(last)))}); the previous checkpoint "
                "is intact. Free some space and add --resume to continue."
            ) from exc
        raise
    write_text(root / LATEST, final.name + "\n")
    _prune(root, keep, final.name)
    return final


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint in a run folder, or None."""
    root = checkpoints_dir(out)
    try:
        name = (root / LATEST).read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    if name and _complete(root / name):
        return root / name
    done = sorted(p for p in root.glob("step-*") if _STEP_DIR.match(p.name) and _complete(p)) if root.is_dir() else []
    return done[-1] if done else None


def read_checkpoint(path: Path) -> Checkpoint:
    path = Path(path)
    if not _complete(path):
        raise TrainingError(f"{path} is not a complete qwenpair checkpoint (no {META})")
    return Checkpoint(path, read_json(path / META), read_json(path / STATE))


def check_compatible(meta: dict[str, Any], where: str, *, tokenizer_fp: str, stage: str | None = None,
                     config: dict[str, Any] | None = None) -> None:
    """Refuse a checkpoint made with another prompt format, tokenizer, stage or config."""
    check_prompt_format(meta.get("prompt_format_version"), where)
    check_tokenizer(tokenizer_fp, meta.get("tokenizer_fingerprint"), where)
    if stage is not None and meta.get("stage") != stage:
        raise MismatchError(f"{where} is a {meta.get('stage')!r} checkpoint, not {stage!r}: resume it with 'qwenpair train {meta.get('stage')}'")
    if config is not None and meta.get("config") != config:
        diff = "; ".join(config_diff(meta.get("config") or {}, config))
        raise MismatchError(
            f"cannot resume {where}: the configuration differs ({diff}). Resume with the same options, "
            "or start a new run in another --out."
        )


def prepare_out(out: Path, resume: bool) -> Path | None:
    """Clean leftovers; the checkpoint to resume from (or None). Refuses to overwrite a run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean_tmp(checkpoints_dir(out))
    last = latest_checkpoint(out)
    if resume and last is None:
        raise TrainingError(f"--resume: {out} has no complete checkpoint to resume from")
    if not resume and last is not None:
        raise TrainingError(f"{out} already holds checkpoints (latest {last.name}): add --resume to continue, or use another --out")
    return last if resume else None


def _complete(path: Path) -> bool:
    return (path / META).is_file() and (path / STATE).is_file()


def _prune(root: Path, keep: int, newest: str) -> None:
    if keep <= 0:
        return
    done = sorted(p for p in root.glob("step-*") if _STEP_DIR.match(p.name))
    for old in done[:-keep]:
        if old.name != newest:
            shutil.rmtree(old, ignore_errors=True)
