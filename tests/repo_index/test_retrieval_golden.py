"""Golden test of a whole retrieval: a small project, a cursor (█), the snippets and reasons.

The project under ``fixtures/project`` is indexed; ``fixtures/cursor_case.py`` is an unsaved
buffer (as the editor would send it) at ``app/services/invite.py`` with the cursor at █.
A change in ranking shows up as a diff against ``golden/retrieval.txt``; after a deliberate
change run with ``QWENPAIR_UPDATE_GOLDEN=1`` (the test then skips, saying what it wrote; see
tests/golden.py) and review the diff.
"""

from __future__ import annotations

from pathlib import Path

from tests.golden import check_text

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "retrieval.txt"
MARK = "█"


def render(snippets) -> str:
    out = []
    for s in snippets:
        out.append(f"== {s.kind} {s.path} [{s.start_line}-{s.end_line}) score {s.score:.4f}")
        out.append(f"   {s.reason}")
        out += [f"   | {line}" for line in s.text.split("\n")]
    return "\n".join(out) + "\n"


def test_retrieval_golden(open_ws):
    ws = open_ws(HERE / "fixtures" / "project")
    ws.build()
    case = (HERE / "fixtures" / "cursor_case.py").read_text(encoding="utf-8")
    offset = case.index(MARK)
    text = case.replace(MARK, "")
    line = case.count("\n", 0, offset)
    col = offset - (case.rfind("\n", 0, offset) + 1)
    ws.set_overlay("app/services/invite.py", text)
    got = render(ws.retrieve("app/services/invite.py", text, line, col))
    # Facts that hold whatever the golden file says:
    assert "render_template" in got.split("== similar")[0]  # the function being called is defined
    assert "web/src/user.ts" not in got  # TypeScript is no context for Python
    check_text(GOLDEN, got, what="retrieved")
