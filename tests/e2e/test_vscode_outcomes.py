"""Suggestion outcomes from a real VS Code: code-server 4.99 in headless Chromium, the
extension's .vsix and the real `qwenpair serve` whose completion model writes
``len(sys.argv))`` after ``print(`` (the range model of tests/e2e/test_nvim_e2e.py).

The browser types ``print(``, waits for the ghost text, accepts its next word with Ctrl+Right
(the extension runs VS Code's Accept Next Word and reports `qwenpair/suggestionOutcome`
"partial" with the characters it inserted) and hides the rest with Esc (reported "dismissed",
which does not replace a partial accept: docs/lsp.md "Suggestion outcomes"). The server's
outcome store (docs/stats.md) must then hold that suggestion as partly accepted, with the
word's characters, after only typed-over or ignored answers to the keystrokes before it. Next edits stay on, as a user has them. Run:
.venv/bin/pytest -q tests/e2e/test_vscode_outcomes.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_nvim_e2e import range_model  # noqa: F401 (the fixture)
from test_vscode_codeserver import CHROMIUM, E2E, serve, vsix  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


def test_a_word_accepted_then_esc_is_one_partial_accept(tmp_path_factory, tmp_path, vsix, range_model):
    root = tmp_path_factory.mktemp("code-server-outcomes")
    workspace = root / "ws"
    (workspace / ".git").mkdir(parents=True)
    (workspace / "show.py").write_text("import sys\n")
    user = {
        "qwenpair.serverCommand": [sys.executable, "-m", "qwenpair", "serve"],
        "qwenpair.model": str(range_model),
        "qwenpair.chatModel": str(range_model),
        "editor.inlineSuggest.enabled": True,
        "editor.autoClosingBrackets": "never",
        "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    }
    # No time cap may cut the first answer after the model loads on a busy machine short.
    config = "[engine]\nprompt_time_cap_s = 60.0\ngeneration_time_cap_s = 60.0\nlatency_target_s = 60.0\n"
    cache = root / "cache"  # the outcome store: <cache>/stats/outcomes.sqlite3
    with serve(root, workspace, vsix, user, config, env={"QWENPAIR_CACHE_DIR": str(cache)}) as url:
        done = subprocess.run(
            ["node", str(E2E / "partial.mjs"), url, "show.py", range_model.stem, "print(", "len", str(tmp_path)],
            capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
        )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    result = json.loads(done.stdout)
    assert result["ghost"] == "len(sys.argv))", result
    assert result["rest"] == "(sys.argv))", result
    assert result["lines"][:3] == ["import sys", "", "print(len"], result

    from assistant.outcomes import OutcomeStore

    store = OutcomeStore.open(cache / "stats" / "outcomes.sqlite3")
    rows = sorted((r for r in store.rows() if r["kind"].startswith("fim")), key=lambda r: r["shown_at"])
    store.close()
    got = [(r["outcome"], r["accepted_chars"]) for r in rows]
    assert [g for g in got if g[0] == "partial"] == [("partial", len("len"))], rows
    at = got.index(("partial", len("len")))
    # Before it: answers to the keystrokes of "print(" that VS Code drew and the next one replaced.
    assert {outcome for outcome, _ in got[:at]} <= {"typed_over", "ignored"}, rows
    # The word is reported against the suggestion shown. VS Code then asks again and draws the
    # rest: under the id of the whole (docs/lsp.md: a rest after its first characters keeps
    # it), Esc leaves the partial accept as it is; as a suggestion of its own, Esc dismisses it.
    assert got[at + 1:] in ([], [("dismissed", None)]), rows
