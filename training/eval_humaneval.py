"""``qwenpair eval humaneval-fim``: single-line infilling exact match, per language.

Each row has ``prompt`` (the code before the hole), ``suffix`` (after it),
``canonical_solution`` (the one missing line) and ``language`` (HumanEval-FIM single-line,
as in SantaCoder's and Qwen2.5-Coder's evaluations). The model gets the file-level PSM
prompt (``model.prompt.fim``) and writes greedily; the output is post-processed the way
Qwen's harness does for single-line infilling: cut at the first leaked special token, keep
the first generated line, and compare it with the solution after stripping whitespace.

Any backend runs it (llama.cpp, transformers, an OpenAI-compatible server): the model is a
registry name, a .gguf, a checkpoint folder or a URL, as everywhere else. The data may be
.parquet, .jsonl or .json.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.backends.base import Backend, GenerationRequest
from model.prompt import fim
from model.tokens import cut_at_leaked_token
from training.errors import DataError
from training.eval_repo import percentiles

FIELDS = ("prompt", "suffix", "canonical_solution")


def read_rows(path: Path, *, limit: int | None = None, languages: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The benchmark rows (``limit`` per language when given), in file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"benchmark file {path} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
    else:
        text = path.read_text(encoding="utf-8")
        try:
            rows = json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise DataError(f"{path} is not valid JSON/JSONL: {exc}") from exc
    if rows and not all(f in rows[0] for f in FIELDS):
        raise DataError(f"{path}: rows need the fields {', '.join(FIELDS)} (and 'language'); found {', '.join(rows[0])}")
    out, per_lang = [], defaultdict(int)
    for row in rows:
        lang = str(row.get("language") or "unknown")
        if languages and lang not in languages:
            continue
        if limit is not None and per_lang[lang] >= limit:
            continue
        per_lang[lang] += 1
        out.append(row)
    if not out:
        raise DataError(f"{path} has no rows{' for ' + ', '.join(languages) if languages else ''}")
    return out


def first_line(generated: str) -> str:
    """Qwen's single-line post-processing: leaked-token cut, then the first line."""
    return cut_at_leaked_token(generated).split("\n", 1)[0]


def exact(generated: str, solution: str) -> bool:
    return first_line(generated).strip() == solution.strip()


def run_humaneval_fim(rows: list[dict[str, Any]], backend: Backend, *, max_tokens: int = 64,
                      progress: Callable[[int, int], None] = lambda i, n: None) -> dict[str, Any]:
    """Exact match overall and per language, with generation latency percentiles."""
    hits: dict[str, list[bool]] = defaultdict(list)
    latencies: list[float] = []
    for i, row in enumerate(rows):
        prompt = fim(str(row["prompt"]), str(row["suffix"]))
        t0 = time.perf_counter()
        # Only the first line is scored, so generation may stop at the first newline.
        result = backend.generate(GenerationRequest(prompt, max_tokens=max_tokens, stop_texts=("\n",)))
        latencies.append((time.perf_counter() - t0) * 1000.0)
        hits[str(row.get("language") or "unknown")].append(exact(result.text, str(row["canonical_solution"])))
        progress(i + 1, len(rows))
    every = [h for hs in hits.values() for h in hs]
    return {
        "n": len(every),
        "exact_match": sum(every) / len(every),
        "by_language": {lang: {"n": len(hs), "exact_match": sum(hs) / len(hs)} for lang, hs in sorted(hits.items())},
        "latency_ms": percentiles(latencies),
        "model": backend.name,
    }
