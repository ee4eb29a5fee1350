"""Check a GGUF file before llama.cpp sees it, so bad files give a clear error, not a crash.

llama.cpp reports a bad file as a bare "Failed to load model" (or aborts the process on some
malformed inputs). Reading the header first lets us say which file is wrong and how:
missing, not GGUF at all, corrupt, truncated, or another architecture.

The header is parsed here directly (memory-mapped, values we don't need are skipped):
``gguf.GGUFReader`` materialises every one of the 151,665 token strings and took ~10 s per
model load on this machine, which a model switch in the editor cannot afford.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

from model.errors import BadModelFile
from model.registry import ARCHITECTURES

GGUF_MAGIC = b"GGUF"
SUPPORTED_ARCHITECTURES = ARCHITECTURES  # the registry's families: qwen2, and Qwen3-Coder's qwen3moe

# GGUF value types -> struct format of a scalar
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_WANTED = ("general.architecture", "general.name", "general.file_type", "general.alignment", "tokenizer.chat_template")


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    architecture: str
    name: str
    context_length: int | None
    file_type: int | None
    size_bytes: int
    tensors: int
    chat_template: str | None
    metadata: dict


class _Corrupt(Exception):
    pass


class _Cursor:
    def __init__(self, buf, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def take(self, fmt: str):
        n = struct.calcsize("<" + fmt)
        if self.pos + n > self.size:
            raise _Corrupt("the header runs past the end of the file")
        value = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += n
        return value[0] if len(value) == 1 else value

    def string(self, keep: bool = True) -> str | None:
        n = self.take("Q")
        if n > self.size - self.pos:
            raise _Corrupt(f"a string of {n:,} bytes does not fit in the file")
        start = self.pos
        self.pos += n
        return bytes(self.buf[start : self.pos]).decode("utf-8", errors="replace") if keep else None

    def value(self, kind: int, keep: bool):
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item, count = self.take("I"), self.take("Q")
            if item in _SCALARS:
                width = struct.calcsize("<" + _SCALARS[item])
                if count * width > self.size - self.pos:
                    raise _Corrupt("an array runs past the end of the file")
                self.pos += count * width
                return None
            if item == _STRING:
                for _ in range(count):
                    self.string(keep=False)
                return None
            raise _Corrupt(f"unsupported array element type {item}")
        raise _Corrupt(f"unknown metadata value type {kind}")


def _tensor_bytes(ggml_type: int, dims: list[int]) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)]
    except (ValueError, KeyError) as exc:
        raise _Corrupt(f"unknown tensor type {ggml_type}") from exc
    n = 1
    for d in dims:
        n *= d
    return n // block * size


def _parse(buf, size: int) -> tuple[dict, int, int]:
    """(wanted metadata, number of tensors, bytes the tensors need)."""
    cur = _Cursor(buf, size)
    cur.pos = 4
    version = cur.take("I")
    if version not in (2, 3):
        raise _Corrupt(f"unsupported GGUF version {version}")
    n_tensors, n_kv = cur.take("Q"), cur.take("Q")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise _Corrupt(f"implausible counts ({n_tensors:,} tensors, {n_kv:,} metadata keys)")
    meta: dict = {}
    for _ in range(n_kv):
        key = cur.string()
        kind = cur.take("I")
        keep = key in _WANTED or key.endswith(".context_length")
        value = cur.value(kind, keep)
        if keep:
            meta[key] = value
    infos = []
    for _ in range(n_tensors):
        cur.string(keep=False)
        n_dims = cur.take("I")
        if n_dims > 8:
            raise _Corrupt(f"a tensor with {n_dims} dimensions")
        dims = [cur.take("Q") for _ in range(n_dims)]
        infos.append((cur.take("I"), dims, cur.take("Q")))
    align = int(meta.get("general.alignment") or 32)
    data_start = (cur.pos + align - 1) // align * align
    end = data_start
    for ggml_type, dims, offset in infos:
        end = max(end, data_start + offset + _tensor_bytes(ggml_type, dims))
    return meta, n_tensors, end


def inspect_gguf(path: str | Path, *, require_arch: bool = True) -> GgufInfo:
    """Read and validate the header of ``path``; raise ``BadModelFile`` naming what is wrong."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BadModelFile(f"model file {path} does not exist")
    if not path.is_file():
        raise BadModelFile(f"model path {path} is not a file")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
            if magic != GGUF_MAGIC:
                raise BadModelFile(
                    f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF'); "
                    "give a .gguf model, or convert one with `qwenpair model quantize`"
                )
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                meta, n_tensors, end = _parse(buf, size)
    except _Corrupt as exc:
        raise BadModelFile(f"{path} is a corrupt or truncated GGUF file: {exc}; download or rebuild it") from exc
    except OSError as exc:
        raise BadModelFile(f"cannot read model file {path}: {exc.strerror or exc}") from exc
    if end > size:
        raise BadModelFile(
            f"{path} is truncated: its tensors need {end:,} bytes but the file has {size:,}; "
            "download or rebuild it (an interrupted copy?)"
        )
    arch = str(meta.get("general.architecture") or "?")
    if require_arch and arch not in SUPPORTED_ARCHITECTURES:
        raise BadModelFile(
            f"{path} is a {arch!r} model; qwenpair runs Qwen coder models (architecture "
            f"{', '.join(SUPPORTED_ARCHITECTURES)})"
        )
    return GgufInfo(
        path=path,
        architecture=arch,
        name=str(meta.get("general.name") or path.stem),
        context_length=meta.get(f"{arch}.context_length"),
        file_type=meta.get("general.file_type"),
        size_bytes=size,
        tensors=n_tensors,
        chat_template=meta.get("tokenizer.chat_template"),
        metadata=meta,
    )
