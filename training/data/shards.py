"""Tokenized shards: raw ``uint32`` arrays of shape (rows, seq_len), read as numpy memmaps,
and ``manifest.json`` describing them.

A shard is written under a temporary name and renamed only when complete and fsynced, then
the manifest (also written atomically) lists it. So a kill or a full disk mid-shard leaves
no file under a shard's final name that is not complete, and the manifest never lists one.
A rerun of the same command keeps every shard the manifest lists (after checking its size
and checksum) and starts from the next one.

The manifest records what training must check before using the shards: the prompt-format
version and tokenizer fingerprint they were built with, the sequence length, and the
resolved data configuration.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.atomic import atomic_open, read_json, write_json
from training.data.pack import PAD_ID, ROW_DTYPE
from training.errors import DataError, MismatchError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class ShardInfo:
    name: str  # file name in the data directory
    rows: int
    tokens: int  # non-padding tokens
    sha256: str
    unit_start: int  # first unit (document or repo group) of the mixed stream in this shard
    unit_end: int  # one past its last unit
    input_digest: str  # hash of the units' text: a rerun checks the inputs are unchanged
    samples: dict[str, int] = field(default_factory=dict)  # sample-building counts for this shard


@dataclass
class Manifest:
    seq_len: int
    prompt_format_version: int
    tokenizer: dict[str, Any]  # {"fingerprint": ..., "path": ...}
    config: dict[str, Any]  # the resolved data configuration
    config_fingerprint: str
    dtype: str = "uint32"
    pad_id: int = PAD_ID
    version: int = MANIFEST_VERSION
    shards: list[ShardInfo] = field(default_factory=list)
    complete: bool = False
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.shards)

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.shards)

    def save(self, data_dir: Path) -> None:
        write_json(Path(data_dir) / MANIFEST, asdict(self))

    @classmethod
    def load(cls, data_dir: Path) -> Manifest:
        path = Path(data_dir) / MANIFEST
        if not path.is_file():
            raise DataError(f"{data_dir} has no {MANIFEST}: make the shards with 'qwenpair train data --out {data_dir}'")
        raw = read_json(path)
        if raw.get("version") != MANIFEST_VERSION:
            raise MismatchError(f"{path} has manifest version {raw.get('version')}, this qwenpair reads {MANIFEST_VERSION}: rebuild the shards")
        raw["shards"] = [ShardInfo(**s) for s in raw.get("shards", [])]
        return cls(**raw)


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.bin"


class ShardWriter:
    """Writes one shard row by row to a temporary file; ``commit`` makes it final."""

    def __init__(self, data_dir: Path, index: int, seq_len: int, unit_start: int):
        self.path = Path(data_dir) / shard_name(index)
        self.seq_len, self.unit_start = seq_len, unit_start
        self.rows = self.tokens = 0
        self._hash = hashlib.sha256()
        self._ctx = atomic_open(self.path, "wb")
        self._fh = self._ctx.__enter__()

    def write(self, row: np.ndarray) -> None:
        data = np.ascontiguousarray(row, dtype=ROW_DTYPE).tobytes()
        try:
            self._fh.write(data)
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._hash.update(data)
        self.rows += 1
        self.tokens += int(np.count_nonzero(row != PAD_ID))

    def commit(self, unit_end: int, input_digest: str, samples: dict[str, int]) -> ShardInfo:
        try:
            self._ctx.__exit__(None, None, None)
        except BaseException as exc:  # fsync/rename failed (a full disk): atomic_open cleaned up
            raise exc
        return ShardInfo(self.path.name, self.rows, self.tokens, self._hash.hexdigest(),
                         self.unit_start, unit_end, input_digest, dict(samples))

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the temporary file (an interrupted run)."""
        try:
            self._ctx.__exit__(type(exc) if exc else KeyboardInterrupt, exc or KeyboardInterrupt(), None)
        except BaseException:
            pass


def verify_shard(data_dir: Path, info: ShardInfo, seq_len: int) -> bool:
    """A listed shard is present with the right size and checksum."""
    path = Path(data_dir) / info.name
    try:
        if path.stat().st_size != info.rows * seq_len * np.dtype(ROW_DTYPE).itemsize:
            return False
    except OSError:
        return False
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest() == info.sha256


class ShardSet:
    """Read access to a finished shard directory: ``len()`` rows, ``rows(indices)``."""

    def __init__(self, data_dir: Path):
        self.dir = Path(data_dir)
        self.manifest = Manifest.load(self.dir)
        if not self.manifest.complete:
            raise DataError(f"{self.dir} is unfinished: run the same 'qwenpair train data' command again to complete it")
        if not self.manifest.shards:
            raise DataError(f"{self.dir} has no shards")
        self.seq_len = self.manifest.seq_len
        self._maps: list[np.memmap | None] = [None] * len(self.manifest.shards)
        self._starts = np.cumsum([0] + [s.rows for s in self.manifest.shards])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def _map(self, i: int) -> np.memmap:
        m = self._maps[i]
        if m is None:
            info = self.manifest.shards[i]
            path = self.dir / info.name
            if not path.is_file() or os.path.getsize(path) != info.rows * self.seq_len * 4:
                raise DataError(f"shard {path} is missing or has the wrong size: rebuild with 'qwenpair train data'")
            m = np.memmap(path, dtype=ROW_DTYPE, mode="r", shape=(info.rows, self.seq_len))
            self._maps[i] = m
        return m

    def rows(self, indices) -> np.ndarray:
        """The rows at global ``indices`` as an (n, seq_len) int64 array."""
        out = np.empty((len(indices), self.seq_len), dtype=np.int64)
        for k, g in enumerate(indices):
            s = int(np.searchsorted(self._starts, g, side="right") - 1)
            out[k] = self._map(s)[g - self._starts[s]]
        return out
