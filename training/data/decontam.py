"""Decontamination: drop training documents that share a 10-gram of words with a benchmark.

This is the Qwen2.5-Coder report's rule (10-gram word overlap against HumanEval, MBPP,
GSM8K, MATH ...). Benchmarks come as files: JSONL, JSON (a list of records) or Parquet;
every string in a record (prompt, solution, tests, question ...) contributes its 10-grams,
so any benchmark layout works without naming its fields. Words are ``\\w+`` runs, lower-case.

The index maps each 10-gram's hash to the (benchmark, record) it came from, so every removal
is reported with the benchmark, the record's id and the overlapping text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.data.sources import Document
from training.errors import DataError

_WORD = re.compile(r"\w+")
#: Record fields tried, in order, as the record's id in reports.
ID_FIELDS = ("task_id", "name", "id", "problem_id", "idx")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _gram_key(gram: list[str]) -> int:
    return int.from_bytes(hashlib.blake2b(" ".join(gram).encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class Contamination:
    """One removed document and the benchmark text it overlapped."""

    path: str
    repo: str
    benchmark: str
    record: str
    ngram: str


@dataclass
class BenchmarkIndex:
    """The 10-grams of a set of benchmark files."""

    n: int = 10
    grams: dict[int, tuple[int, int]] = field(default_factory=dict)  # hash -> (benchmark, record)
    benchmarks: list[str] = field(default_factory=list)
    record_ids: list[list[str]] = field(default_factory=list)

    def add_file(self, path: Path) -> int:
        """Index one benchmark file; returns its number of records."""
        path = Path(path)
        records = read_records(path)
        b = len(self.benchmarks)
        self.benchmarks.append(path.name)
        ids: list[str] = []
        for r, record in enumerate(records):
            ids.append(_record_id(record, r))
            for text in _strings(record):
                ws = words(text)
                for i in range(len(ws) - self.n + 1):
                    self.grams.setdefault(_gram_key(ws[i : i + self.n]), (b, r))
        self.record_ids.append(ids)
        return len(records)

    def find(self, text: str) -> tuple[str, str, str] | None:
        """(benchmark, record id, overlapping words) of the first shared n-gram, or None."""
        if not self.grams:
            return None
        ws = words(text)
        for i in range(len(ws) - self.n + 1):
            gram = ws[i : i + self.n]
            hit = self.grams.get(_gram_key(gram))
            if hit is not None:
                b, r = hit
                return self.benchmarks[b], self.record_ids[b][r], " ".join(gram)
        return None


@dataclass
class Decontaminator:
    """The pipeline stage: drops contaminated documents and keeps the list of what it removed."""

    index: BenchmarkIndex
    removed: Counter = field(default_factory=Counter)  # per benchmark file
    report: list[Contamination] = field(default_factory=list)

    @classmethod
    def from_files(cls, paths: list[Path], n: int = 10) -> Decontaminator:
        index = BenchmarkIndex(n=n)
        for p in paths:
            index.add_file(Path(p))
        return cls(index)

    def keep(self, doc: Document) -> bool:
        hit = self.index.find(doc.text)
        if hit is None:
            return True
        benchmark, record, gram = hit
        self.removed[benchmark] += 1
        self.report.append(Contamination(doc.path, doc.repo, benchmark, record, gram))
        return False


def read_records(path: Path) -> list[Any]:
    """The records of a JSONL, JSON or Parquet benchmark file."""
    if not path.is_file():
        raise DataError(f"benchmark file {path} does not exist")
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".gz") else path.suffix
    try:
        if suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise DataError(f"reading {path} needs pyarrow: pip install pyarrow") from exc
            return pq.read_table(path).to_pylist()
        if suffix in (".jsonl", ".jsonl.gz"):
            import gzip

            opener = gzip.open if suffix.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, list) else [data]
    except (ValueError, OSError) as exc:
        raise DataError(f"benchmark file {path} cannot be read: {exc}") from exc
    raise DataError(f"benchmark file {path}: use .jsonl, .jsonl.gz, .json or .parquet")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def _record_id(record: Any, index: int) -> str:
    if isinstance(record, dict):
        for key in ID_FIELDS:
            if record.get(key) is not None:
                return str(record[key])
    return f"#{index}"
