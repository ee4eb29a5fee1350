"""``eval humaneval-fim`` on a few synthetic rows: Qwen's single-line post-processing, the
per-language report, and the command, with the tiny model on llama.cpp.

The tiny model's weights are random, so a canonical solution it gets right has to be the
line it writes: one row per language takes the model's own first line as its solution
(it must score a hit), the other a different line (it must score a miss).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.prompt import fim
from training.errors import DataError
from training.eval_humaneval import exact, first_line, read_rows, run_humaneval_fim

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"name": "py-1", "language": "py", "prompt": "def add(a, b):\n", "suffix": "\n\nprint(add(1, 2))\n"},
    {"name": "py-2", "language": "py", "prompt": "def neg(x):\n", "suffix": "\n"},
    {"name": "js-1", "language": "js", "prompt": "function add(a, b) {\n", "suffix": "\n}\n"},
    {"name": "js-2", "language": "js", "prompt": "const xs = [1, 2, 3];\n", "suffix": "\nconsole.log(ys);\n"},
]


def test_first_generated_line_with_leaked_tokens_cut():
    assert first_line("    return a + b\n\nprint()") == "    return a + b"
    assert first_line("    return a<|endoftext|>garbage\n") == "    return a"
    assert first_line("x = 1<|file_sep|>other.py\n") == "x = 1"
    assert first_line("y<fim_middle>z") == "y"  # CodeQwen1.5's pipe-less token leaks too
    assert exact("  return a + b  \nmore", "    return a + b")
    assert not exact("\n    return a + b", "    return a + b")  # the first line is the empty one


@pytest.fixture(scope="module")
def rows_file(tiny_model, tmp_path_factory) -> Path:
    backend = LlamaCppBackend(tiny_model.gguf, n_ctx=512, n_threads=2)
    try:
        rows = []
        for i, row in enumerate(ROWS):
            made = backend.generate(GenerationRequest(fim(row["prompt"], row["suffix"]), max_tokens=64, stop_texts=("\n",)))
            own = first_line(made.text)
            rows.append({**row, "canonical_solution": own if i % 2 == 0 else own + " + 1", "tests": ""})
    finally:
        backend.close()
    path = tmp_path_factory.mktemp("hefim") / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_exact_match_per_language(tiny_model, rows_file):
    backend = LlamaCppBackend(tiny_model.gguf, n_ctx=512, n_threads=2)
    try:
        result = run_humaneval_fim(read_rows(rows_file), backend)
    finally:
        backend.close()
    assert result["n"] == 4 and result["exact_match"] == 0.5
    assert result["by_language"] == {"js": {"n": 2, "exact_match": 0.5}, "py": {"n": 2, "exact_match": 0.5}}
    assert set(result["latency_ms"]) == {"p50", "p90", "p99"}


def test_rows_from_parquet_with_a_limit_per_language(rows_file, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    picked = read_rows(tmp_path / "rows.parquet", limit=1)
    assert [r["name"] for r in picked] == ["py-1", "js-1"]
    assert [r["name"] for r in read_rows(tmp_path / "rows.parquet", languages=("js",))] == ["js-1", "js-2"]


def test_bad_benchmark_files_are_clear(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_rows(tmp_path / "missing.jsonl")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(DataError, match="canonical_solution"):
        read_rows(tmp_path / "bad.jsonl")


def test_the_command_prints_json_per_language(tiny_model, rows_file):
    proc = subprocess.run([sys.executable, "-m", "qwenpair", "eval", "humaneval-fim", "--data", str(rows_file),
                           "--model", str(tiny_model.gguf), "--threads", "2", "--n-ctx", "512", "--json"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["exact_match"] == 0.5 and set(result["by_language"]) == {"py", "js"}
