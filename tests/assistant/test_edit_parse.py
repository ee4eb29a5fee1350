"""The edit parser over recorded model answers, well-formed and malformed (golden files).

Each file in ``golden_edit/`` holds the selected lines (``=== old``), the model's answer as
it came (``=== answer``) with its stop reason, and either the new text of the region
(``=== new``, after indentation and newline fix-ups) or the error the user must see.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from assistant.chat_errors import UnusableAnswer
from assistant.edit import make_proposal

GOLDEN = Path(__file__).parent / "golden_edit"


def _load(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    meta: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().split("\n")[:-1]:
        if current is None and line.startswith("# "):
            key, _, value = line[2:].partition(": ")
            meta[key] = value
        elif line.startswith("=== "):
            current = line[4:]
            sections[current] = []
        else:
            sections[current].append(line + "\n")
    return meta, {k: "".join(v) for k, v in sections.items()}


CASES = sorted(GOLDEN.glob("*.txt"))


def test_golden_cases_cover_every_form_and_failure():
    metas = [_load(p)[0] for p in CASES]
    assert {m.get("form") for m in metas} >= {"fenced", "search_replace", "whole"}
    assert sum("error" in m for m in metas) >= 8


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_recorded_answer(case: Path):
    meta, sec = _load(case)
    rel = meta["path"]
    old = sec["old"]
    lines = old.count("\n")

    def propose():
        return make_proposal(sec["answer"], path=Path("/work") / rel, rel_path=rel, base_text=old,
                             start_line=0, end_line=lines, stop_reason=meta["stop"])

    if "error" in meta:
        with pytest.raises(UnusableAnswer) as info:
            propose()
        assert meta["error"] in str(info.value)
        assert info.value.raw == sec["answer"]  # the user can still see what the model said
        return
    proposal = propose()
    diff = "".join(difflib.unified_diff(sec["new"].splitlines(True), proposal.new_text.splitlines(True), "expected", "got"))
    assert proposal.new_text == sec["new"], f"{case.name}:\n{diff}"
    assert proposal.form == meta["form"]
    if "warning" in meta:
        assert any(meta["warning"] in w for w in proposal.warnings), proposal.warnings
    else:
        assert not [w for w in proposal.warnings if "another language" in w or "re-indented" in w]
