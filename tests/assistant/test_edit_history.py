"""EditHistory (assistant/edit_history.py): coalescing, bounds, huge pastes, undo storms,
renames, and the source policy (the real ``PromptPolicy``: secret names and content refused)."""

from __future__ import annotations


import pytest

from assistant.edit_history import EditHistory, HistoryLimits, line_hunks
from assistant.retrieval import PromptPolicy

TEXT = "".join(f"line {i}\n" for i in range(40))


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 0.1
        return self.t


def history(limits: HistoryLimits | None = None) -> EditHistory:
    return EditHistory(PromptPolicy(None), limits, clock=Clock())


def typed(text: str, line: int, word: str, at: int | None = None) -> list[str]:
    """The texts after typing ``word`` character by character into ``line`` (at column ``at``)."""
    lines = text.split("\n")
    col = len(lines[line]) if at is None else at
    out = []
    for k in range(1, len(word) + 1):
        lines2 = list(lines)
        lines2[line] = lines[line][:col] + word[:k] + lines[line][col:]
        out.append("\n".join(lines2))
    return out


def test_keystrokes_on_one_line_are_one_edit(tmp_path):
    h, path = history(), tmp_path / "a.py"
    assert h.open(path, TEXT)
    for text in typed(TEXT, 3, "_renamed"):
        h.update(path, text)
    edits = h.edits(path)
    assert [(e.start, e.before, e.after) for e in edits] == [(3, ("line 3",), ("line 3_renamed",))]
    assert h.original(path)[3] == "line 3" and h.current(path)[3] == "line 3_renamed"


def test_edits_on_separate_lines_stay_separate_and_ordered(tmp_path):
    h, path = history(), tmp_path / "a.py"
    h.open(path, TEXT)
    text = TEXT
    for text in typed(TEXT, 3, "X"):
        h.update(path, text)
    for text in typed(text, 20, "Y"):
        h.update(path, text)
    assert [(e.start, e.after) for e in h.edits(path)] == [(3, ("line 3X",)), (20, ("line 20Y",))]


def test_enter_and_typing_new_lines_coalesce_up_to_the_line_cap(tmp_path):
    h, path = history(HistoryLimits(max_coalesced_lines=4)), tmp_path / "a.py"
    h.open(path, TEXT)
    lines = TEXT.split("\n")
    for k in range(1, 7):  # six new lines typed below line 5, one per update
        h.update(path, "\n".join(lines[:6] + [f"new {j}" for j in range(k)] + lines[6:]))
    edits = h.edits(path)
    # 4-line cap: the first merged edit spans 4 lines, then a new one starts
    assert [(e.start, e.after) for e in edits] == [(6, ("new 0", "new 1", "new 2", "new 3")), (10, ("new 4", "new 5"))]


def test_typed_then_deleted_leaves_no_edit(tmp_path):
    h, path = history(), tmp_path / "a.py"
    h.open(path, TEXT)
    texts = typed(TEXT, 7, "abc")
    for text in texts + texts[-2::-1] + [TEXT]:
        h.update(path, text)
    assert h.edits(path) == []


def test_an_undo_storm_removes_edits_instead_of_adding_them(tmp_path):
    h, path = history(HistoryLimits(max_edits=100)), tmp_path / "a.py"
    h.open(path, TEXT)
    states = [TEXT]
    lines = TEXT.split("\n")
    for k in range(0, 40, 2):  # twenty separate edits, lines 0, 2, 4 ...
        lines[k] = f"changed {k}"
        states.append("\n".join(lines))
        h.update(path, states[-1])
    assert len(h.edits(path)) == 20
    for state in reversed(states[:-1]):  # undo each, newest first
        h.update(path, state)
    assert h.edits(path) == []


def test_memory_is_bounded_by_count_and_characters(tmp_path):
    h, path = history(HistoryLimits(max_edits=10, max_edit_chars=2_000)), tmp_path / "a.py"
    h.open(path, TEXT)
    lines = TEXT.split("\n")
    for k in range(300):
        lines[(k * 7) % 40] = f"value {k} " + "x" * 50
        h.update(path, "\n".join(lines))
    edits = h.edits(path)
    assert len(edits) <= 10 and sum(e.chars for e in edits) <= 2_000
    assert edits[-1].after == (f"value 299 {'x' * 50}",)  # the newest survive


def test_a_paste_of_5000_lines_is_summarised_never_kept_whole(tmp_path):
    h, path = history(), tmp_path / "a.py"
    h.open(path, TEXT)
    paste = "".join(f"pasted_{i} = {i}\n" for i in range(5_000))
    before = h.memory_chars()
    h.update(path, TEXT[: TEXT.index("line 10")] + paste + TEXT[TEXT.index("line 10") :])
    (edit,) = h.edits(path)
    assert edit.summary == "pasted 5,000 lines at line 11" and edit.before == edit.after == ()
    # what grew is the current text alone (the paste), not a second copy in the history
    assert h.memory_chars() - before < len(paste) * 1.05


@pytest.mark.parametrize("name", [".env", "id_rsa", "credentials.json"])
def test_secret_names_never_enter(tmp_path, name):
    h = history()
    assert not h.open(tmp_path / name, "TOKEN=1\n")
    assert tmp_path / name not in h and h.refused[str(tmp_path / name)].startswith("secret file")


def test_a_pasted_secret_drops_the_documents_history(tmp_path):
    h, path = history(), tmp_path / "a.py"
    h.open(path, TEXT)
    h.update(path, TEXT.replace("line 3", "line 3x"))
    secret = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'
    assert not h.update(path, secret + TEXT)
    assert path not in h and h.edits() == [] and h.recent() == []
    assert "AWS secret key" in h.refused[str(path)] and "wJalr" not in h.refused[str(path)]


def test_binary_text_never_enters(tmp_path):
    h = history()
    assert not h.open(tmp_path / "blob.bin", "abc\0\x01\x02")
    assert h.refused[str(tmp_path / "blob.bin")] == "binary"


def test_ignored_files_never_enter(tmp_path):
    (tmp_path / ".gitignore").write_text("private/\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "notes.py").write_text("x = 1\n")
    h = EditHistory(PromptPolicy(tmp_path))
    assert not h.open(tmp_path / "private" / "notes.py", "x = 1\n")
    assert h.open(tmp_path / "ok.py", "x = 1\n")


def test_rename_carries_history_and_is_judged_again(tmp_path):
    h, old, new = history(), tmp_path / "a.py", tmp_path / "b.py"
    h.open(old, TEXT)
    for text in typed(TEXT, 3, "X"):
        h.update(old, text)
    assert h.rename(old, new)
    assert old not in h and [(e.path, e.after) for e in h.edits(new)] == [(str(new), ("line 3X",))]
    assert h.original(new)[3] == "line 3"
    assert not h.rename(new, tmp_path / ".env")  # a secret name: dropped, not carried
    assert h.edits() == []


def test_a_close_then_an_open_of_the_same_text_is_a_rename(tmp_path):
    """How editors rename an open file (didClose old, didOpen new): the history goes along,
    judged under the new name; after the rename window, or with other text, it does not."""
    h, old, new = history(), tmp_path / "a.py", tmp_path / "b.py"
    h.open(old, TEXT)
    last = typed(TEXT, 3, "X")[-1]
    h.update(old, last)
    h.close(old)
    assert h.open(new, last)
    assert [(e.path, e.after) for e in h.edits(new)] == [(str(new), ("line 3X",))] and old not in h
    assert h.original(new)[3] == "line 3"
    h.close(new)
    assert h.open(tmp_path / ".env", last) is False and h.edits() == []  # to a secret name: dropped

    h.open(old, TEXT)
    h.update(old, last)
    h.close(old)
    h.open(tmp_path / "c.py", TEXT)  # other text: a new document, the closed one is gone
    assert h.edits() == []
    h.open(old, TEXT)
    h.update(old, last)
    h.close(old)
    for _ in range(60):  # the clock moves 0.1 s per read: past the 5 s window
        h._clock()
    h.open(new, last)
    assert h.edits() == []


def test_the_last_edited_line_is_where_the_newest_edit_ends(tmp_path):
    h, path = history(), tmp_path / "a.py"
    h.open(path, TEXT)
    assert h.last_edited_line(path) is None
    now = typed(TEXT, 3, "X")[-1]
    h.update(path, now)
    assert h.last_edited_line(path) == 3
    lines = now.split("\n")
    h.update(path, "\n".join(lines[:9] + ["new a", "new b"] + lines[9:]))  # two lines inserted at line 10
    assert h.last_edited_line(path) == 10


def test_a_workspace_rename_then_close_and_open_keeps_the_history(tmp_path):
    """workspace/didRenameFiles first, then the editor's didClose/didOpen of the new name."""
    h, old, new = history(), tmp_path / "a.py", tmp_path / "b.py"
    h.open(old, TEXT)
    last = typed(TEXT, 3, "X")[-1]
    h.update(old, last)
    assert h.rename(old, new)
    h.close(old)  # not open any more under that name: nothing happens
    assert h.open(new, last)
    assert [e.after for e in h.edits(new)] == [("line 3X",)]
    assert h.open(new, typed(last, 7, "Y")[-1])  # opened with other text: an update, not a new history
    assert [e.after for e in h.edits(new)] == [("line 3X",), ("line 7Y",)]


def test_close_drops_everything_and_recent_files_are_bounded(tmp_path):
    h = history(HistoryLimits(max_recent=3))
    for k in range(5):
        h.open(tmp_path / f"f{k}.py", TEXT)
    assert h.recent() == [str(tmp_path / f"f{k}.py") for k in (4, 3, 2)]
    h.viewed(tmp_path / "f2.py")
    assert h.recent()[0] == str(tmp_path / "f2.py")
    h.close(tmp_path / "f2.py")
    assert tmp_path / "f2.py" not in h and str(tmp_path / "f2.py") not in h.recent()
    assert h.original(tmp_path / "f2.py") is None


def test_line_hunks_split_a_changed_region_minimally():
    old = [f"l{i}" for i in range(10)]
    new = list(old)
    new[2], new[7] = "A", "B"
    new.insert(5, "ins")
    assert line_hunks(old, new) == [(2, ["l2"], ["A"]), (5, [], ["ins"]), (7, ["l7"], ["B"])]
    assert line_hunks(old, old) == []
