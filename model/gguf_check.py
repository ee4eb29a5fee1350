"""Check a GGUF file before llama.cpp sees it, so bad files give a clear error, not a crash.

llama.cpp reports a bad file as a bare "Failed to load model" (or worse, aborts the process
on some malformed inputs). Reading the header with the ``gguf`` package first lets us say
which file is wrong and how: missing, not GGUF at all, truncated, or another architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.errors import BadModelFile

GGUF_MAGIC = b"GGUF"
SUPPORTED_ARCHITECTURES = ("qwen2",)


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


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.parts[field.data[0]]
    if field.types and field.types[0].name == "STRING":
        return bytes(value).decode("utf-8", errors="replace")
    return value.tolist()[0] if hasattr(value, "tolist") else value


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
    except OSError as exc:
        raise BadModelFile(f"cannot read model file {path}: {exc.strerror}") from exc
    if magic != GGUF_MAGIC:
        raise BadModelFile(
            f"{path} is not a GGUF file (it starts with {magic!r}, not b'GGUF'); "
            "give a .gguf model, or convert one with `qwenpair model quantize`"
        )
    try:
        from gguf import GGUFReader

        reader = GGUFReader(path, "r")
    except Exception as exc:  # the gguf reader raises many kinds on garbage
        raise BadModelFile(f"{path} is a corrupt or truncated GGUF file ({exc}); download or rebuild it") from exc
    end = 0
    for tensor in reader.tensors:
        end = max(end, int(tensor.data_offset) + int(tensor.n_bytes))
    if end > size:
        raise BadModelFile(
            f"{path} is truncated: its tensors need {end:,} bytes but the file has {size:,}; "
            "download or rebuild it (an interrupted copy?)"
        )
    arch = _field(reader, "general.architecture") or "?"
    if require_arch and arch not in SUPPORTED_ARCHITECTURES:
        raise BadModelFile(
            f"{path} is a {arch!r} model; qwenpair runs Qwen2.5-Coder models (architecture "
            f"{', '.join(SUPPORTED_ARCHITECTURES)})"
        )
    return GgufInfo(
        path=path,
        architecture=arch,
        name=_field(reader, "general.name") or path.stem,
        context_length=_field(reader, f"{arch}.context_length"),
        file_type=_field(reader, "general.file_type"),
        size_bytes=size,
        tensors=len(reader.tensors),
        chat_template=_field(reader, "tokenizer.chat_template"),
    )
