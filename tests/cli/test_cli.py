"""The ``qwenpair`` command as a user runs it: subprocesses, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_repo" / "geometry" / "shapes.py"


def qp(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qwenpair", *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})),
    )


def test_help_is_fast_and_imports_no_heavy_library():
    code = (
        "import sys, contextlib, io\n"
        "from qwenpair.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help']) if False else None\n"
        "from qwenpair.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'peft', 'trl', 'tree_sitter_language_pack') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    for cmd in ("complete", "model", "index"):
        res = qp(cmd, "--help")
        assert res.returncode == 0 and "usage:" in res.stdout


def test_show_prompt_prints_the_exact_repo_level_prompt_without_a_model(tmp_path):
    root = SAMPLE.parent.parent
    res = qp("complete", f"{SAMPLE}:27:9", "--show-prompt", "--root", str(root), "--explain",
             env={"QWENPAIR_MODELS_DIR": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    lines = SAMPLE.read_text().split("\n")
    assert lines[26] == "        "  # line 27: the indented, empty body of perimeter()
    head = "\n".join(lines[:26]) + "\n"
    assert res.stdout.startswith("<|repo_name|>sample_repo\n")
    assert res.stdout.endswith(f"<|file_sep|>geometry/shapes.py\n<|fim_prefix|>{head}<|fim_suffix|>\n<|fim_middle|>        ")
    assert "[local] geometry/shapes.py" in res.stderr


def test_completing_in_report_py_brings_in_the_definitions_it_uses(tmp_path):
    report = SAMPLE.parent / "report.py"
    res = qp("complete", f"{report}:7:12", "--show-prompt", "--root", str(SAMPLE.parent.parent), "--explain")
    assert res.returncode == 0, res.stderr
    assert "<|file_sep|>geometry/shapes.py\n" in res.stdout and "class Rectangle:" in res.stdout
    assert "definition of `Circle`" in res.stderr


def test_secret_file_gets_no_completion(tmp_path, tiny_model):
    secret = tmp_path / ".env"
    secret.write_text("API_KEY=\n")
    res = qp("complete", f"{secret}:1:9", "--model", str(tiny_model.gguf), "--root", str(tmp_path))
    assert res.returncode == 0
    assert "secret file" in res.stderr and res.stdout.strip() == ""


def test_complete_with_the_tiny_model_json(tiny_model):
    res = qp("complete", f"{SAMPLE}:27:9", "--model", str(tiny_model.gguf), "--json", "--max-tokens", "8")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert set(data) >= {"text", "range", "candidates", "timings", "prompt_tokens", "model"}
    assert data["range"] == {"line": 27, "col": 9, "end_line": 27, "end_col": 9}  # nothing after the cursor
    assert data["prompt_tokens"] > 50


def test_cursor_past_the_end_is_clamped_with_a_warning(tiny_model):
    res = qp("complete", f"{SAMPLE}:999:1", "--model", str(tiny_model.gguf), "--max-tokens", "4")
    assert res.returncode == 0
    assert "past the end of the file" in res.stderr


def test_default_model_missing_says_how_to_pull(tmp_path):
    res = qp("complete", f"{SAMPLE}:27:9", env={"QWENPAIR_MODELS_DIR": str(tmp_path)})
    assert res.returncode == 2
    assert "qwenpair model pull qwen2.5-coder-1.5b" in res.stderr
    assert "Traceback" not in res.stderr


def test_unknown_model_lists_valid_names():
    res = qp("complete", f"{SAMPLE}:27:9", "--model", "qwen3-coder-7b")
    assert res.returncode == 2 and "qwen2.5-coder-7b-instruct" in res.stderr


def test_corrupt_model_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 32)
    res = qp("complete", f"{SAMPLE}:27:9", "--model", str(bad))
    assert res.returncode == 2 and str(bad) in res.stderr and "Traceback" not in res.stderr


def test_bad_location_arguments():
    assert "FILE:LINE:COL" in qp("complete", "shapes.py").stderr
    assert "1-based" in qp("complete", f"{SAMPLE}:0:1").stderr
    assert "is not a file" in qp("complete", "/nonexistent/x.py:1:1").stderr


def test_model_list_json():
    res = qp("model", "list", "--json")
    rows = json.loads(res.stdout)
    names = {r["name"] for r in rows}
    # the twelve Qwen2.5-Coder models, plus Qwen3-Coder and Sweep's next-edit model (a
    # Qwen2.5-Coder fine-tune) marked as not tested here: neither can be downloaded on this machine
    assert len(rows) == 14 and names >= {"qwen2.5-coder-0.5b", "qwen2.5-coder-32b-instruct"}
    assert [r["name"] for r in rows if not r["tested_here"]] == ["qwen3-coder-30b-a3b-instruct", "sweep-next-edit-1.5b"]


def test_a_command_module_that_fails_to_import_stops_the_cli_loudly():
    # The old parser skipped a command whose module raised ModuleNotFoundError for its own
    # name, so a packaging error only showed as a command missing from --help.
    code = (
        "import sys\n"
        "sys.modules['qwenpair.commands.eval'] = None  # importing it now fails\n"
        "from qwenpair.cli import main\n"
        "sys.exit(main(['--help']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout
    assert "'eval' command could not be loaded" in out.stderr and "setup.sh" in out.stderr, out.stderr
