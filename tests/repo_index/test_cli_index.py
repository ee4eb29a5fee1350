"""``qwenpair index``: stats, JSON, queries and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

from qwenpair.cli import main

FILES = {
    "lib/math_utils.py": "def clamp(value, low, high):\n    \"\"\"Keep value in range.\"\"\"\n    return max(low, min(high, value))\n",
    "app.py": "from lib.math_utils import clamp\n\n\ndef run(x):\n    return clamp(x, 0, 10)\n",
    ".env": "TOKEN=1\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\0\0",
}


def test_stats_as_json(make_tree, capsys):
    root = make_tree(FILES)
    assert main(["index", str(root), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)["stats"]
    assert out["files"] == 2 and out["languages"] == {"python": 2}
    assert out["skipped"] == {"binary": 1, "secret file": 1}
    assert out["symbols"] == 2 and out["windows"] == 2 and out["indexed_now"] == 2


def test_query_prints_ranked_snippets_with_reasons(make_tree, capsys):
    root = make_tree(FILES)
    # Line 5, column 17 is inside the call in "    return clamp(x, 0, 10)" (1-based).
    assert main(["index", str(root), "--query", f"{root}/app.py:5:17", "--json"]) == 0
    query = json.loads(capsys.readouterr().out)["query"]
    first = query["snippets"][0]
    assert (first["path"], first["kind"], first["start_line"], first["symbol"]) == (
        "lib/math_utils.py", "definition", 1, "clamp")
    assert "imported on line 1" in first["reason"]
    assert main(["index", str(root), "--query", f"{root}/app.py:5:17"]) == 0
    text = capsys.readouterr().out
    assert "#1 definition lib/math_utils.py:1-3" in text and "index of" not in text


def test_human_stats(make_tree, capsys):
    root = make_tree(FILES)
    assert main(["index", str(root), "--stats", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "python" in out and "secret file" in out and "symbols" in out


def test_user_errors_are_one_line(make_tree, tmp_path, capsys):
    root = make_tree(FILES)
    assert main(["index", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["index", str(root), "--query", f"{root}/app.py:0:1"]) == 2
    other = tmp_path / "outside.py"
    other.write_text("x = 1\n")
    assert main(["index", str(root), "--query", f"{other}:1:1"]) == 2
    assert "not inside" in capsys.readouterr().err


def test_help_runs_as_a_real_command():
    done = subprocess.run([sys.executable, "-m", "qwenpair", "index", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--query FILE:LINE:COL" in done.stdout
