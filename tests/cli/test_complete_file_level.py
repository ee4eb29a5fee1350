"""``qwenpair complete`` with a model whose vocabulary lacks ``<|file_sep|>`` (issue 22): the
prompt falls back to file-level, the user is told so once, and the summary does not claim
cross-file snippets that were never sent.

Real parts: the CLI as a subprocess, a variant of the tiny model converted by the project's
GGUF writer with ``<|file_sep|>`` renamed (``tests/model/vocab_variants.py``), llama.cpp, the
real index of the sample repository.
"""

from __future__ import annotations

import pytest

from tests.cli.test_cli import SAMPLE, qp
from tests.model.vocab_variants import build_variant

pytestmark = pytest.mark.slow  # converts a GGUF and runs the model three times

ROOT = SAMPLE.parents[1]  # tests/data/sample_repo
REPORT = ROOT / "geometry" / "report.py"
AT = f"{REPORT}:7:49"  # after `return sum(shape.area() for shape in shapes)`: shapes.py is context


def _complete(model, *extra: str):
    res = qp("complete", AT, "--model", str(model), "--root", str(ROOT), "--max-tokens", "4", *extra, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stderr


def _context_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.strip().startswith("context"))


def test_a_model_without_file_sep_is_said_once_and_no_snippet_is_claimed(tiny_model, tmp_path):
    # The same position with the tiny model itself: cross-file snippets are sent and listed.
    full = _complete(tiny_model.gguf)
    assert "shapes.py" in full and "file-level" not in full
    assert not _context_line(full).strip().startswith("context    0 snippets")

    variant, _ = build_variant(tiny_model, "no_file_sep", tmp_path / "variants")
    stderr = _complete(variant)
    said = [line for line in stderr.splitlines() if "lacks <|file_sep|>" in line]
    assert len(said) == 1 and said[0].startswith("qwenpair: warning: ") and "file-level FIM" in said[0], stderr
    assert "no other files (this model's prompts are file-level" in _context_line(stderr)
    assert "shapes.py" not in stderr  # no snippet listed that the prompt did not carry

    explained = _complete(variant, "--explain")
    assert "[snippet]" not in explained and "[local]" in explained
    assert len([line for line in explained.splitlines() if "lacks <|file_sep|>" in line]) == 1
