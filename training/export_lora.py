"""Export a trained adapter for llama.cpp: adapter-only GGUF LoRA, or merged into the base.

- ``export_adapter``: the peft adapter (``OUT/adapter`` of ``qwenpair train lora``) as a GGUF
  LoRA (``model.lora_gguf``) that llama.cpp applies on top of the base GGUF at load time, or
  swaps in while running (the server's hot-swap). A few MB; the base stays shared.
- ``export_merged``: the adapter merged into the base weights (peft ``merge_and_unload``),
  written as a GGUF F16 (``model.gguf_export``), then quantized (Q8_0, Q4_K_M...) by
  llama.cpp (``model.quantize``). A standalone model, as fast as the base.

Both write ``meta.json`` beside the GGUF (``model.adapter_meta``): the base model, the
prompt-format version, the hyperparameters, the held-out loss and any evaluation results.
Every file appears under its final name only when complete; a full disk (or a file-size
limit) leaves nothing half-written under a final name and raises ``OutOfSpace``.

    qwenpair train lora-export --adapter run/ --out export/ [--merge --quant Q8_0 --quant Q4_K_M]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from model.adapter_meta import META_NAME, AdapterMeta, BaseModel
from training.atomic import TMP_PREFIX, folder_bytes, is_out_of_space, space_note, write_json
from training.errors import OutOfSpace, TrainingError
from training.lora import resolve_base
from training.lora_checkpoint import read_adapter_meta

ADAPTER_GGUF = "adapter.gguf"
MERGED_F16 = "model-f16.gguf"
#: the merged checkpoint's scratch folder in the export folder: ``.tmp-merge-<pid>-<random>``
_SCRATCH = f"{TMP_PREFIX}merge-"
#: peft's saved key of a LoRA matrix: base_model.model.<hf module>.lora_{A,B}.weight
_PEFT_KEY = re.compile(r"^base_model\.model\.(.+)\.lora_([AB])\.weight$")


def adapter_pairs(adapter_dir: Path) -> tuple[dict[str, tuple[Any, Any]], float]:
    """({GGUF weight name: (lora_a, lora_b)}, alpha) of a saved peft adapter."""
    from safetensors.numpy import load_file

    from model.gguf_export import gguf_tensor_name  # the one HF -> GGUF name table

    config = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    if config.get("use_rslora") or config.get("use_dora"):
        raise TrainingError(f"{adapter_dir}: rsLoRA and DoRA adapters have no llama.cpp GGUF form; train plain LoRA")
    tensors = load_file(str(adapter_dir / "adapter_model.safetensors"))
    halves: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        m = _PEFT_KEY.match(key)
        if not m:
            raise TrainingError(f"{adapter_dir}: unexpected tensor {key} in the adapter (only LoRA matrices export)")
        name = gguf_tensor_name(f"{m.group(1)}.weight")
        if name is None:
            raise TrainingError(f"{adapter_dir}: the adapted module {m.group(1)} has no GGUF counterpart")
        halves.setdefault(name, {})[m.group(2)] = value
    pairs = {name: (h["A"], h["B"]) for name, h in halves.items() if "A" in h and "B" in h}
    if len(pairs) != len(halves):
        raise TrainingError(f"{adapter_dir}: the adapter has unpaired LoRA matrices; it is damaged, re-train it")
    return pairs, float(config["lora_alpha"])


def export_adapter(adapter: Path, out_dir: Path, *, eval_results: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/adapter.gguf`` and its ``meta.json``; returns the GGUF path."""
    from model.lora_gguf import write_lora_gguf

    meta = read_adapter_meta(adapter)
    adapter_dir = Path(meta["path"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs, alpha = adapter_pairs(adapter_dir)
    record = _meta(meta, "lora", {"adapter": ADAPTER_GGUF}, eval_results)
    final = out_dir / ADAPTER_GGUF
    needed = sum(a.size + b.size for a, b in pairs.values()) * 4 + 64 * 1024  # float32 matrices and the header
    with _out_of_space(final, needed):
        write_lora_gguf(final, pairs, alpha=alpha, base_name=record.base.name,
                        extra={"qwenpair.base_model": record.base.name,
                               "qwenpair.prompt_format_version": str(record.prompt_format_version)})
        write_json(out_dir / META_NAME, record.to_json())
    return final


def export_merged(adapter: Path, out_dir: Path, *, quants: Sequence[str] = ("Q8_0",), base: str | None = None,
                  eval_results: dict[str, Any] | None = None,
                  log: Callable[[str], None] = lambda m: None) -> dict[str, Path]:
    """Merge the adapter into its base and write GGUF F16 plus each of ``quants``.

    ``base`` overrides the base recorded in the run (the same model moved elsewhere)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from model.gguf_export import export_gguf
    from model.quantize import quant_type, quantize
    from training.runs import load_tokenizer, quiet_transformers

    meta = read_adapter_meta(adapter)
    source, _ = resolve_base(base or meta["config"]["base"])
    record = _meta(meta, "merged", {}, eval_results)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    quiet_transformers()
    files: dict[str, Path] = {}
    _clean_dead_scratch(out_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH}{os.getpid()}-", dir=out_dir))
    try:
        with _out_of_space(out_dir / MERGED_F16):
            log(f"merging {meta['path']} into {source}")
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
            model = PeftModel.from_pretrained(model, meta["path"]).merge_and_unload()
            model.save_pretrained(scratch, safe_serialization=True)
            load_tokenizer().hf.save_pretrained(scratch)
            del model
            files["F16"] = export_gguf(scratch, out_dir / MERGED_F16, out_type="f16",
                                       name=f"{record.base.name} + lora",
                                       meta={"qwenpair.base_model": record.base.name})
        for q in quants:
            canon = quant_type(q)
            if canon == "F16":
                continue
            final = out_dir / f"model-{canon.lower()}.gguf"
            log(f"quantizing to {canon}")
            with _out_of_space(final):
                files[canon] = quantize(files["F16"], final, canon)
        record.files = {k: v.name for k, v in files.items()}
        with _out_of_space(out_dir / META_NAME):
            write_json(out_dir / META_NAME, record.to_json())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return files


def _meta(run_meta: dict[str, Any], kind: str, files: dict[str, str], eval_results: dict[str, Any] | None) -> AdapterMeta:
    base = run_meta["base"]
    config = run_meta.get("config") or {}
    return AdapterMeta(
        base=BaseModel(base["name"], dict(base["shape"]), bool(base.get("instruct"))),
        kind=kind,
        prompt_format_version=int(run_meta["prompt_format_version"]),
        hyperparameters={"lora": config.get("lora"), "train": config.get("train"), "samples": config.get("samples"),
                         "qlora_used": run_meta.get("qlora_used"), "step": run_meta.get("step"),
                         "repo": config.get("repo"), "task": config.get("task", "fim"), "nes": config.get("nes"),
                         "heldout_files": (run_meta.get("split") or {}).get("heldout_files"),
                         "heldout_commits": (run_meta.get("split") or {}).get("heldout_commits")},
        eval={"heldout_loss": run_meta.get("heldout_loss"), "history": run_meta.get("history"), **(eval_results or {})},
        files=files,
    )


def _short_write(exc: BaseException) -> bool:
    """numpy's ``tofile`` (the gguf writer's) reports a full disk as an OSError without errno:
    "N requested and M written"."""
    return isinstance(exc, OSError) and exc.errno is None and bool(re.search(r"requested and \d+ written", str(exc)))


def _clean_dead_scratch(out_dir: Path) -> None:
    """Remove the scratch folders of merged exports that were killed (their process is gone)."""
    for p in out_dir.glob(f"{_SCRATCH}*"):
        pid = p.name[len(_SCRATCH):].split("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running: another export into the same folder
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            continue


class _out_of_space:
    """Turn a full disk while writing ``final`` into ``OutOfSpace`` naming it, about how much
    room it needs (``needed``, else the size of an earlier file of that name) and what is free."""

    def __init__(self, final: Path, needed: int = 0) -> None:
        self.final = final
        self.needed = needed

    def __enter__(self) -> _out_of_space:
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or isinstance(exc, OutOfSpace):
            return False
        causes = [c for c in (exc, exc.__cause__, exc.__context__) if c is not None]
        if any(is_out_of_space(c) or _short_write(c) for c in causes):
            note = space_note(self.final.parent, self.needed or folder_bytes(self.final))
            raise OutOfSpace(
                f"ran out of disk space writing {self.final} ({note}); nothing was left under that name and an "
                "earlier file there is unchanged. Free some space and run the export again."
            ) from exc
        return False
