"""``qwenpair complete`` shows its work (issue 22): with the random-weight test model it prints
the completion marked as meaningless, or says that the model proposed only whitespace, then a
summary on stderr (index, context, model time, filters) ending with the command that gets a
real model. ``--json`` and ``--show-prompt`` output, which tools parse, carries none of it.

Real parts: the CLI as a subprocess, the tiny test model through llama.cpp (``--model auto``
with an empty models folder takes it), the real index of the sample repository.
"""

from __future__ import annotations

import json
import re

from tests.cli.test_cli import SAMPLE, qp

ROOT = SAMPLE.parents[1]  # tests/data/sample_repo


def _auto(tmp_path, pos: str, *extra: str):
    return qp("complete", f"{SAMPLE}:{pos}", "--model", "auto", "--root", str(ROOT), "--max-tokens", "16",
              *extra, env={"QWENPAIR_MODELS_DIR": str(tmp_path)}, timeout=300)


def _summary_checks(stderr: str) -> None:
    assert "qwenpair: what ran" in stderr
    assert "random weights" in stderr
    workspace = next(line for line in stderr.splitlines() if line.strip().startswith("workspace"))
    assert str(ROOT) in workspace and " files, " in workspace and " symbols indexed" in workspace
    context = next(line for line in stderr.splitlines() if line.strip().startswith("context"))
    assert "snippet" in context and "prompt " in context and "tokens" in context
    assert "the current file" in context
    assert "model run  prompt " in stderr and "tokens generated" in stderr
    assert "  filters  " in stderr
    assert stderr.rstrip().splitlines()[-1].startswith("next: `qwenpair model pull qwen2.5-coder-1.5b`")


def test_whitespace_is_said_rather_than_an_empty_line(tmp_path):
    # At this cursor the tiny model writes blanks only (greedy, so every run); the filters
    # rightly drop them, and the user is told so instead of seeing nothing.
    res = _auto(tmp_path, "27:9")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    assert re.search(r"the model proposed only whitespace \(\d+ spaces?\); there is nothing to insert", res.stderr)
    assert "filters    changed the output: blank (dropped the whitespace)" in res.stderr
    _summary_checks(res.stderr)


def test_a_completion_of_the_test_model_is_marked_meaningless(tmp_path):
    res = _auto(tmp_path, "10:5")
    assert res.returncode == 0, res.stderr
    if res.stdout.strip():  # stdout is the completion alone; the mark is on stderr, before it
        assert "qwenpair: the completion from the random-weight test model (meaningless text):" in res.stderr
    else:
        assert "the model proposed" in res.stderr
    _summary_checks(res.stderr)


def test_json_and_show_prompt_have_no_summary(tmp_path):
    res = _auto(tmp_path, "27:9", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["prompt_tokens"] > 50 and data["explain"] == []  # explain only when asked
    assert "what ran" not in res.stderr and "next:" not in res.stderr
    shown = qp("complete", f"{SAMPLE}:27:9", "--root", str(ROOT), "--show-prompt")
    assert shown.returncode == 0 and "<|fim_middle|>" in shown.stdout
    assert "what ran" not in shown.stderr
