"""Quantize a GGUF with llama.cpp's own quantizer, as exposed by llama-cpp-python.

``quantize(src, dst, "Q4_K_M")`` calls ``llama_cpp.llama_model_quantize`` (the code behind
llama.cpp's ``llama-quantize`` tool) with its default parameters and the requested file
type, so our files are quantized exactly as the published ones are. The input is checked
first (missing, not a GGUF); llama.cpp reports truncated or corrupt contents itself, and
its message is passed on with the file's name. The output appears under its final name only
when complete.

It does not convert checkpoints (``model.gguf_export`` does) or pick types for you.
Run it with ``qwenpair model quantize IN OUT --type T``.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
from pathlib import Path

from model.errors import BadModelFile, ModelError

#: Type name (as llama-quantize spells it) -> llama.cpp file type constant in llama_cpp.
QUANT_TYPES: dict[str, str] = {
    "F16": "LLAMA_FTYPE_MOSTLY_F16",
    "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "Q6_K": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "Q5_K_M": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
}


def quant_type(name: str) -> str:
    """The canonical type name for ``name`` (case-insensitive), or a ModelError listing them."""
    canon = name.strip().upper()
    if canon not in QUANT_TYPES:
        raise ModelError(f"unknown quantization type {name!r}: use one of {', '.join(QUANT_TYPES)}")
    return canon


def quantize(src: Path, dst: Path, type_name: str, *, threads: int | None = None) -> Path:
    """Quantize the GGUF ``src`` to ``dst`` as ``type_name`` (e.g. Q8_0, Q4_K_M); return ``dst``."""
    canon = quant_type(type_name)
    src, dst = Path(src), Path(dst)
    check_gguf(src)
    if src.resolve() == dst.resolve():
        raise ModelError(f"quantize {src}: the output must be a different file")

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[canon])
    params.nthread = threads or 0  # 0: llama.cpp uses every core
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    # llama-cpp-python prints llama.cpp's log through sys.stderr: keep it for the error message.
    log = io.StringIO()
    try:
        with contextlib.redirect_stderr(log):
            rc = llama_cpp.llama_model_quantize(os.fsencode(src), os.fsencode(tmp), ctypes.byref(params))
        if rc != 0 or not tmp.is_file():
            tail = " | ".join(line.strip() for line in log.getvalue().splitlines()[-3:] if line.strip())
            raise ModelError(f"llama.cpp could not quantize {src} to {canon} (code {rc}){': ' + tail if tail else ''}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def check_gguf(path: Path) -> None:
    """Raise BadModelFile naming ``path`` unless it exists and starts like a GGUF file.

    A cheap check: llama.cpp itself then reports truncated or corrupt contents (tensor data
    past the end of the file, unreadable metadata) with a clear message, which ``quantize``
    passes on.
    """
    path = Path(path)
    if not path.is_file():
        raise BadModelFile(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise BadModelFile(f"{path} is not a GGUF file (it does not start with 'GGUF')")
