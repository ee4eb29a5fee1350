"""Write a LoRA adapter as a GGUF that llama.cpp applies on top of its base model.

The layout llama.cpp expects (``llama_adapter_lora_init``): ``general.type = "adapter"``,
``adapter.type = "lora"``, ``adapter.lora.alpha``, and for each adapted weight ``W`` of the
base GGUF two tensors ``<W>.lora_a`` (rank x in, as peft stores ``lora_A``) and
``<W>.lora_b`` (out x rank, peft's ``lora_B``). The fine-tuning issue's export maps peft
module names onto GGUF tensor names and calls this; tests use it to prove adapters load.

The file is written under a temporary name unique to the writer (``.<name>.<pid>.<random>.tmp``
beside it) and renamed into place when complete, so two exports to one folder at once never
write into each other's file: the last rename wins with a whole adapter. A killed writer's
temporary is removed by the next export to that folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from model.errors import ModelError
from model.out_of_space import clean_dead_temps


def _temp_pattern(out: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(out.name)}\.(?P<pid>\d+)\.[^.]+\.tmp")


def write_lora_gguf(
    out: str | Path,
    pairs: Mapping[str, tuple[object, object]],
    *,
    alpha: float,
    architecture: str = "qwen2",
    base_name: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write ``{gguf weight name: (lora_a, lora_b)}`` (numpy arrays) to ``out`` atomically."""
    import gguf

    out = Path(out)
    if not pairs:
        raise ModelError("a LoRA adapter needs at least one adapted weight")
    clean_dead_temps(out.parent, _temp_pattern(out))  # what a killed export left
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        tmp = Path(name)
        writer = gguf.GGUFWriter(str(tmp), architecture)
        try:
            _write(writer, pairs, alpha, base_name, extra)
        finally:
            writer.close()
        os.replace(tmp, out)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ModelError(f"could not write the adapter {out}: {exc}") from exc
        raise
    return out


def _write(writer, pairs: Mapping[str, tuple[object, object]], alpha: float, base_name: str | None,
           extra: Mapping[str, str] | None) -> None:
    import numpy as np

    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    if base_name:
        writer.add_string("general.base_model.0.name", base_name)
    for key, value in (extra or {}).items():
        writer.add_string(key, value)
    for name, (a, b) in sorted(pairs.items()):
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
            raise ModelError(f"LoRA pair for {name} has shapes {a.shape} and {b.shape}; expected (r, in) and (out, r)")
        writer.add_tensor(f"{name}.lora_a", a)
        writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
