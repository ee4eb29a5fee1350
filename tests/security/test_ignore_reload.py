"""Ignore rules added while a session runs apply from the next scan on (issue 14, finding 1's
"ignore rules applied" for a long-lived server): the prompt policy of a session forgets the
verdicts it made under the old rules when the workspace reads its ignore files again.

Real parts: the real workspace index, the real engine's prompt builder and the real Qwen2.5
tokenizer (``TokenizerOnlyBackend``: the same path as ``complete --show-prompt``).
"""

from __future__ import annotations

from pathlib import Path

from assistant.request import CompletionRequest
from assistant.session import open_session
from model.backends.tokenizer_only import TokenizerOnlyBackend


def test_a_file_ignored_while_the_session_runs_leaves_the_prompt_at_the_next_scan(tmp_path: Path):
    """finding 1 (ignore rules): `notes/plan.py` is added to .gitignore after the session
    judged it; once the index rescans (as the watcher does when an ignore file changes), a
    completion in it is refused instead of served from the old verdict."""
    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    target = root / "notes" / "plan.py"
    target.write_text("PLAN = 'acquire the competitor'\n\ndef next_step():\n    return \n")
    (root / "main.py").write_text("print('hi')\n")
    session = open_session(root, TokenizerOnlyBackend(4096))
    try:
        request = CompletionRequest(target, target.read_text(), 3, 11)
        prompt, _, warnings = session.engine.build_prompt(request)
        assert "acquire the competitor" in prompt and not warnings

        (root / ".gitignore").write_text("notes/\n")
        session.workspace.build()  # the rescan the watcher asks for after an ignore-file change
        prompt, _, warnings = session.engine.build_prompt(request)
        assert prompt == ""
        assert any("ignored by .gitignore" in w for w in warnings), warnings
    finally:
        session.close()
