"""A next edit in a real VS Code: code-server 4.99 (VS Code 1.99) in headless Chromium, the
extension's .vsix, and the real `qwenpair serve` whose completion model is a scripted GGUF
(tests/assistant/scripted_chat_model.py): after the next-edit prompt its greedy answer is the
updated window, the parameter renamed on line 3 and on line 7.

The browser renames the parameter on line 3; after the edit pause the extension asks
`qwenpair/nextEdit` and draws the answer, a jump to line 7 (the hint at the cursor, the
deleted text struck through there); Esc dismisses it, *qwenpair: Suggest Next Edit* (Alt+N)
asks again, Tab goes to line 7 and Tab again applies the edit, which also runs the item's
command on the server: the server's outcome store (docs/stats.md) then holds the first
suggestion dismissed and the second accepted. Inline suggestions are off in this window: the
scripted model's completions would be fragments of the window, drawn as ghost text over the
rename. Run: .venv/bin/pytest -q tests/e2e/test_vscode_next_edit.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_vscode_codeserver import CHROMIUM, E2E, serve, vsix  # noqa: F401 (vsix: the fixture)

pytestmark = pytest.mark.slow

FILE = "area.py"
SOURCE = (  # a bigram chain writes each token once: lines 4 and 6 are not indented (inside
    # parentheses and a docstring), and no line ends in a bare newline (tests/assistant/scripted_chat_model.py)
    "# Circles.\n"
    "\n"
    "def area(radius,\n"
    "*, pi=3.14):\n"
    '    """Area of a circle:\n'
    'in square units."""\n'
    "    return pi * radius ** 2\n"
)
#: the updated window: the whole file, the parameter renamed on line 3 and where it is used
ANSWER = SOURCE.replace("radius", "r").rstrip("\n")


@pytest.fixture(scope="module")
def next_edit_model(tiny_model) -> Path:
    """A completion GGUF that writes ANSWER after the next-edit prompt's last token."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assistant"))
    from scripted_chat_model import scripted_gguf

    from model.tokenizer import load_fast_tokenizer

    return scripted_gguf(tiny_model, ANSWER, after=load_fast_tokenizer().encode(f"updated/{FILE}\n").ids[-1])


def test_rename_on_line_3_then_tab_tab_accepts_the_rename_on_line_7(tmp_path_factory, tmp_path, vsix, next_edit_model):
    root = tmp_path_factory.mktemp("code-server-nes")
    workspace = root / "ws"
    (workspace / ".git").mkdir(parents=True)
    (workspace / FILE).write_text(SOURCE)
    user = {
        "qwenpair.serverCommand": [sys.executable, "-m", "qwenpair", "serve"],
        "qwenpair.model": str(next_edit_model),
        "qwenpair.chatModel": str(next_edit_model),
        "editor.inlineSuggest.enabled": False,
        # the word list would open on the typed "r" and take Tab (as it does for a user)
        "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    }
    # No time cap may cut the first answer after the model loads on a busy machine short.
    config = "[next_edit]\nprompt_time_cap_s = 60.0\ngeneration_time_cap_s = 60.0\n"
    cache = root / "cache"  # the outcome store: <cache>/stats/outcomes.sqlite3
    with serve(root, workspace, vsix, user, config, env={"QWENPAIR_CACHE_DIR": str(cache)}) as url:
        done = subprocess.run(
            ["node", str(E2E / "nextedit.mjs"), url, FILE, next_edit_model.stem, "3:12", "r", "7", str(tmp_path)],
            capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
        )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    result = json.loads(done.stdout)
    source = SOURCE.splitlines()
    renamed = source[:2] + ["def area(r,"] + source[3:]
    assert result["shown"][:7] == renamed, result  # the edit is drawn, not applied
    assert result["hint"] == "⇥ Tab: next edit at line 7", result
    assert not any("next edit" in text for text in result["dismissed"]), result
    assert result["struck"] == ["adius"], result  # line 7's "radius" loses "adius": "r" stays
    assert result["lines"][:7] == ANSWER.splitlines(), result
    assert result["lines"][7:] in ([], [""]), result

    from assistant.outcomes import OutcomeStore

    store = OutcomeStore.open(cache / "stats" / "outcomes.sqlite3")
    rows = [r for r in store.rows() if r["kind"] == "next_edit"]
    store.close()
    # Esc, then the same edit asked again and accepted (the server's own ahead answers that
    # never reached the editor are not rows)
    assert [r["outcome"] for r in sorted(rows, key=lambda r: r["shown_at"])] == ["dismissed", "accepted"], rows
