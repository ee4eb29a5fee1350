"""Edit proposals: fix-ups (line endings, final newline), the parse check, the LSP range, and
writing to disk (only the range, atomically, never over a change the user made meanwhile)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from assistant.chat_errors import Refused, StaleEdit
from assistant.edit import make_proposal, write_edit

SOURCE = "import math\n\n\ndef area(r):\n    return r * r\n\n\ndef main():\n    print(area(2))\n"
ANSWER = "```python\ndef area(r):\n    return math.pi * r * r\n```\n"


def propose(path: Path, text: str, answer: str, start: int, end: int, stop: str = "eos"):
    return make_proposal(answer, path=path, rel_path=path.name, base_text=text, start_line=start,
                         end_line=end, stop_reason=stop)


def test_proposal_replaces_only_its_lines_and_diffs_the_file(tmp_path):
    p = propose(tmp_path / "geo.py", SOURCE, ANSWER, 3, 5)
    assert p.old_text == "def area(r):\n    return r * r\n"
    assert p.new_text == "def area(r):\n    return math.pi * r * r\n"
    assert p.new_document() == SOURCE.replace("return r * r", "return math.pi * r * r")
    assert p.diff.startswith("--- a/geo.py\n+++ b/geo.py\n@@ -2,7 +2,7 @@\n")
    assert "-    return r * r\n+    return math.pi * r * r\n" in p.diff
    assert p.replace_range() == (3, 0, 5, 0)
    assert p.warnings == []


def test_crlf_file_keeps_its_line_endings(tmp_path):
    text = SOURCE.replace("\n", "\r\n")
    p = propose(tmp_path / "geo.py", text, ANSWER, 3, 5)
    assert p.new_text == "def area(r):\r\n    return math.pi * r * r\r\n"
    assert p.new_document().count("\r\n") == text.count("\r\n")


def test_last_line_without_newline_stays_without(tmp_path):
    text = "def f():\n    return 1"
    p = propose(tmp_path / "f.py", text, "```python\n    return 2\n```\n", 1, 2)
    assert p.new_document() == "def f():\n    return 2"
    assert p.replace_range() == (1, 0, 1, len("    return 1"))
    assert p.diff.endswith("\\ No newline at end of file\n")


def test_lines_the_model_repeats_from_outside_the_selection_are_dropped(tmp_path):
    # selected: the body of area(); the model answers with the whole function and main's header
    answer = "```python\ndef area(r):\n    return math.pi * r * r\n\n\ndef main():\n```\n"
    p = propose(tmp_path / "geo.py", SOURCE, answer, 4, 5)
    assert p.new_text == "    return math.pi * r * r\n"
    assert any("repeated from outside the selection" in w for w in p.warnings)
    kept = propose(tmp_path / "geo.py", SOURCE, ANSWER, 3, 5)  # the region's own first line stays
    assert kept.new_text.startswith("def area(r):\n") and kept.warnings == []


def test_an_edit_that_breaks_parsing_is_flagged(tmp_path):
    p = propose(tmp_path / "geo.py", SOURCE, "```python\ndef area(r:\n    return r * r\n```\n", 3, 5)
    assert any("breaks parsing" in w for w in p.warnings), p.warnings


def test_no_change_is_said_and_has_no_diff(tmp_path):
    p = propose(tmp_path / "geo.py", SOURCE, "```python\ndef area(r):\n    return r * r\n```\n", 3, 5)
    assert p.diff == ""
    assert any("no change" in w for w in p.warnings)


def test_write_edit_changes_only_the_range_and_keeps_the_mode(tmp_path):
    path = tmp_path / "geo.py"
    path.write_text(SOURCE)
    path.chmod(0o640)
    p = propose(path, SOURCE, ANSWER, 3, 5)
    write_edit(p)
    after = path.read_text()
    assert after.splitlines()[:3] == SOURCE.splitlines()[:3]
    assert after.splitlines()[5:] == SOURCE.splitlines()[5:]
    assert after.splitlines()[4] == "    return math.pi * r * r"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["geo.py"]  # no temporary file left behind


def test_write_edit_refuses_when_the_file_changed_meanwhile(tmp_path):
    path = tmp_path / "geo.py"
    path.write_text(SOURCE)
    p = propose(path, SOURCE, ANSWER, 3, 5)
    path.write_text(SOURCE + "# the user typed this\n")
    with pytest.raises(StaleEdit, match="changed after the edit was proposed"):
        write_edit(p)
    assert path.read_text().endswith("# the user typed this\n")
    with pytest.raises(StaleEdit):
        p.new_document(SOURCE + "x")


def test_write_edit_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin.py"
    data = SOURCE.encode() + b"# caf\xe9\n"
    path.write_bytes(data)
    p = propose(path, data.decode("utf-8", errors="replace"), ANSWER, 3, 5)
    with pytest.raises(Refused, match="not valid UTF-8"):
        write_edit(p)
    assert path.read_bytes() == data
