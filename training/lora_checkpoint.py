"""The files of a LoRA run: atomic checkpoints for ``--resume``, the best adapter, metrics.

Layout (``training.lora``)::

    OUT/checkpoints/step-N/   adapter_model.safetensors, adapter_config.json (peft),
                              optimizer.pt, trainer_state.json, qwenpair.json (last: complete)
    OUT/checkpoints/LATEST    the newest complete checkpoint
    OUT/adapter/              the adapter with the best held-out loss + qwenpair.json
    OUT/metrics.jsonl         one row per step

Folders are filled under a ``.tmp-`` name and renamed when complete (``training.atomic``), so
a kill or a full disk leaves the previous checkpoint and adapter intact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.atomic import (TMP_PREFIX, commit_dir, folder_bytes, is_out_of_space, read_json, recover_dir, space_note,
                             torch_save, write_json, write_text)
from training.checkpoint import FAULT_ENV, LATEST, META, OPTIMIZER, STATE, step_name
from training.errors import OutOfSpace, TrainingError

ADAPTER_DIR = "adapter"


def _save_dir(final: Path, fill: Callable[[Path], None], what: str, like: Path | None = None) -> Path:
    """Fill ``final`` under a temporary name and rename it when complete. ``like``: an earlier
    folder of the same kind, whose size says how much room this one needs."""
    recover_dir(final)  # what a killed earlier run left for this name
    tmp = final.with_name(f"{TMP_PREFIX}{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        commit_dir(tmp, final)
    except BaseException as exc:
        written = folder_bytes(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if is_out_of_space(exc):
            needed = max(written, folder_bytes(like or final))
            raise OutOfSpace(f"ran out of disk space writing {what} {final} ({space_note(final.parent, needed)}); "
                             "the previous one is intact. Free some space and add --resume to continue.") from exc
        raise
    return final


def save_adapter(model, final: Path, meta: dict[str, Any]) -> Path:
    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        write_json(tmp / META, meta)

    return _save_dir(final, fill, "the adapter")


def save_checkpoint(out: Path, step: int, model, optimizer, meta: dict[str, Any], state: dict[str, Any], keep: int) -> Path:
    root = out / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        torch_save(optimizer.state_dict(), tmp / OPTIMIZER)
        if os.environ.get(FAULT_ENV) == f"checkpoint:{step}":  # test hook: killed mid-checkpoint
            os.kill(os.getpid(), signal.SIGKILL)
        write_json(tmp / STATE, state)
        write_json(tmp / META, {**meta, "step": step})  # last: its presence marks the folder complete

    done = sorted(p for p in root.glob("step-*") if p.is_dir())
    final = _save_dir(root / step_name(step), fill, "checkpoint", like=done[-1] if done else None)
    write_text(root / LATEST, final.name + "\n")
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def trim_metrics(out: Path, step: int) -> None:
    """Drop metrics rows past ``step`` (a resumed run reads as one)."""
    path = out / "metrics.jsonl"
    if path.is_file():
        rows = [r for r in path.read_text(encoding="utf-8").splitlines() if r.strip() and json.loads(r)["step"] <= step]
        write_text(path, "".join(r + "\n" for r in rows))


def append_metrics(out: Path, row: dict[str, Any]) -> None:
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def read_adapter_meta(adapter_dir: Path) -> dict[str, Any]:
    """The ``qwenpair.json`` of a trained adapter folder (``OUT/adapter``) or of a run folder."""
    adapter_dir = Path(adapter_dir)
    if adapter_dir.is_dir():
        recover_dir(adapter_dir / ADAPTER_DIR)  # a run killed while replacing its best adapter
    if (adapter_dir / ADAPTER_DIR / META).is_file():
        adapter_dir = adapter_dir / ADAPTER_DIR
    if not (adapter_dir / META).is_file() or not (adapter_dir / "adapter_config.json").is_file():
        raise TrainingError(f"{adapter_dir} is not a trained adapter (no {META} and adapter_config.json): "
                            "give the --out folder of 'qwenpair train lora' or its adapter/ folder")
    meta = read_json(adapter_dir / META)
    meta["path"] = str(adapter_dir)
    if not math.isfinite(float(meta.get("heldout_loss", math.nan))):
        raise TrainingError(f"{adapter_dir}: its record has no held-out loss; the run did not finish an evaluation")
    return meta
