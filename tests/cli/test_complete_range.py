"""``qwenpair complete --json`` reports where an item's range ends: at ``print(‸)`` the
completion ``len(sys.argv))`` replaces the auto-closed ``)``, so the range ends one column
after the cursor. The real CLI as a subprocess with a scripted GGUF in the real llama.cpp
(tests/assistant/scripted_chat_model.py; the same model as
tests/lsp_server/test_lsp_replace_range.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
from scripted_chat_model import scripted_gguf  # noqa: E402


def test_json_range_covers_the_replaced_closer(tiny_model, tmp_path, monkeypatch):
    from model.tokenizer import load_fast_tokenizer

    model = scripted_gguf(tiny_model, "len(sys.argv))", after=load_fast_tokenizer().encode("print(").ids[-1])
    source = tmp_path / "show.py"
    source.write_text("import sys\n\nprint()\n")
    monkeypatch.setenv("QWENPAIR_CONFIG", str(tmp_path / "no-config.toml"))
    done = subprocess.run(
        [sys.executable, "-m", "qwenpair", "complete", f"{source}:3:7", "--model", str(model), "--json",
         "--max-tokens", "16", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["text"] == "len(sys.argv))"
    assert data["range"] == {"line": 3, "col": 7, "end_line": 3, "end_col": 8}
    assert data["candidates"][0]["range"] == data["range"]
    line = "print()"
    r = data["range"]
    assert line[: r["col"] - 1] + data["text"] + line[r["end_col"] - 1 :] == "print(len(sys.argv))"
