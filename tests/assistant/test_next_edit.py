"""NextEditEngine (assistant/next_edit.py) logic with the fake backend: the answer checks, the
diff into minimal edits, inline-vs-jump, ranges at the end of a document, and the policy.
The real llama.cpp path (a scripted GGUF) is tests/assistant/test_next_edit_real.py."""

from __future__ import annotations

import logging

import pytest

from assistant.edit_history import EditHistory
from assistant.next_edit import LineChange, NextEditConfig, NextEditEngine, clip, window_changes
from assistant.retrieval import PromptPolicy
from model.backends.fake import FakeBackend

DOC = [f"    value_{i} = count + {i}" for i in range(40)]
DOC[15] = "def tally(count):"


def text(lines):
    return "\n".join(lines) + "\n"


def engine(reply, tmp_path, **cfg):
    backend = FakeBackend(reply, n_ctx=16_000)  # a token is a character: room for a window of them
    cfg = {"max_tokens": 4_000, **cfg}
    eng = NextEditEngine(backend, EditHistory(PromptPolicy(None)), NextEditConfig(**cfg), root=tmp_path)
    return eng, backend


def renamed(lines, at):
    out = list(lines)
    for k in at:
        out[k] = out[k].replace("count", "total")
    return out


def window_reply(change_lines, cursor=15):
    """A fake model: answers the current window (from the prompt) with ``change_lines`` renamed."""
    def reply(prompt: str) -> str:
        win = prompt.split("current/a.py\n", 1)[1].split("<|file_sep|>", 1)[0].removesuffix("\n").split("\n")
        start = max(0, cursor - 10)
        return text(renamed(win, [k - start for k in change_lines]))
    return reply


def test_a_rename_elsewhere_in_the_window_is_a_jump(tmp_path):
    eng, backend = engine(window_reply([19, 20]), tmp_path)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    now = renamed(DOC, [15])
    got = eng.suggest(path, text(now), 15, 10)
    assert got.kind == "jump", got.reason
    assert [(c.start, c.end, c.lines) for c in got.changes] == [(19, 21, tuple(renamed(DOC, [19, 20])[19:21]))]
    assert got.target.start == 19 and got.window == (5, 26)
    prompt = str(backend.calls[0].prompt)
    assert "a.py.diff\noriginal:\ndef tally(count):\nupdated:\ndef tally(total):\n" in prompt
    assert "original/a.py\n" + text(DOC[5:26]) in prompt and "current/a.py\n" + text(now[5:26]) in prompt


def test_an_edit_on_the_cursor_line_is_inline_with_a_range(tmp_path):
    eng, _ = engine(window_reply([16], cursor=16), tmp_path)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    got = eng.suggest(path, text(renamed(DOC, [15])), 16, 4)
    assert got.kind == "inline" and got.target == LineChange(16, 17, (DOC[16].replace("count", "total"),), (DOC[16],))
    assert got.target.range_and_text(renamed(DOC, [15])) == ((16, 0), (17, 0), DOC[16].replace("count", "total") + "\n")


@pytest.mark.parametrize("reply, cfg, reason", [
    (lambda p: "", {}, "the answer is empty"),
    (lambda p: text(DOC), {"max_tokens": 5}, "the answer was cut (length) after 5 tokens"),
    (lambda p: text(DOC), {}, "the answer has 40 lines for a window of 21: not a window"),
    (lambda p: text([s + "  " for s in DOC[5:26]]), {}, "the model changes nothing in the window"),
])
def test_answers_that_are_not_a_window_give_no_suggestion_and_log_why(tmp_path, caplog, reply, cfg, reason):
    eng, _ = engine(reply, tmp_path, **cfg)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    with caplog.at_level(logging.INFO, logger="qwenpair.next_edit"):
        got = eng.suggest(path, text(DOC), 15)
    assert got.kind == "none" and got.reason.startswith(reason) and got.target is None
    assert reason in caplog.text


def test_a_secret_document_never_reaches_the_model(tmp_path):
    eng, backend = engine(lambda p: "x\n", tmp_path)
    got = eng.suggest(tmp_path / ".env", "API_TOKEN=abc\n", 0)
    assert got.kind == "none" and "secret file" in got.reason and backend.calls == []


def test_window_changes_are_minimal_and_skip_whitespace_only_edits():
    cur = ["a", "b", "c", "d"]
    assert window_changes(cur, ["a", "B", "c", "  d  "], 10) == [LineChange(11, 12, ("B",), ("b",))]
    assert window_changes(cur, ["a", "b", "x", "c", "d"], 0) == [LineChange(2, 2, ("x",), ())]
    assert window_changes(cur, cur, 0) == []


def test_changes_reaching_outside_the_window_are_clipped():
    changes = [LineChange(3, 6, ("new",), ("a", "b", "c")), LineChange(12, 14, (), ("x", "y")), LineChange(20, 21, ("z",))]
    assert clip(changes, 5, 13) == [LineChange(5, 6, (), ("a", "b", "c")), LineChange(12, 13, (), ("x", "y"))]


def test_ranges_at_the_end_of_a_document():
    doc = ["a", "b", "c"]  # no final line break after "c"
    assert LineChange(2, 3, ("C",)).range_and_text(doc) == ((2, 0), (2, 1), "C")
    assert LineChange(2, 3, ()).range_and_text(doc) == ((1, 1), (2, 1), "")
    assert LineChange(3, 3, ("d",)).range_and_text(doc) == ((2, 1), (2, 1), "\nd")
    assert LineChange(0, 1, ("A", "A2")).range_and_text(doc) == ((0, 0), (1, 0), "A\nA2\n")


def test_the_zeta_format_round_trips_through_the_engine(tmp_path):
    def reply(prompt: str) -> str:
        region = prompt.split("<|editable_region_start|>\n", 1)[1].split("<|editable_region_end|>", 1)[0]
        win = region.replace("<|user_cursor_is_here|>", "").removesuffix("\n").split("\n")
        return ("```a.py\n<|editable_region_start|>\n" + text(renamed(win, [19 - 5]))
                + "<|editable_region_end|>\n```\n")

    eng, backend = engine(reply, tmp_path, nes_format="zeta")
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    got = eng.suggest(path, text(renamed(DOC, [15])), 15, 10)
    assert got.kind == "jump" and [c.start for c in got.changes] == [19], got.reason
    prompt = str(backend.calls[0].prompt)
    assert "def tally(<|user_cursor_is_here|>total):" in prompt and '-def tally(count):\n+def tally(total):\n' in prompt
    assert backend.calls[0].stop_texts == ("<|editable_region_end|>",)


def test_a_prediction_computed_ahead_answers_other_lines_of_its_window_and_text_only(tmp_path):
    """``Ahead``: what a pause computed answers a request for the same text at once, the
    nearest edit retargeted for the cursor; another text, or a line outside the window, is not
    answered from it."""
    from assistant.next_edit import Ahead

    eng, backend = engine(window_reply([19, 20]), tmp_path)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    now = text(renamed(DOC, [15]))
    got = eng.suggest(path, now, 15, 10)
    ahead = Ahead()
    ahead.put(str(path), now, 15, got)
    at_15 = ahead.get(str(path), now, 15)
    assert at_15.kind == "jump" and at_15.target.start == 19
    at_19 = ahead.get(str(path), now, 19)
    assert at_19.kind == "inline" and at_19.target.start == 19 and at_19.changes == got.changes
    assert got.kind == "jump"  # the stored one is not changed by retargeting
    assert ahead.get(str(path), now, 30) is None  # outside lines 5..25
    assert ahead.get(str(path), now + "x", 15) is None
    nothing = eng._none("no change")
    ahead.put(str(path), now, 15, nothing)
    assert ahead.get(str(path), now, 15) is nothing and ahead.get(str(path), now, 16) is None
    ahead.drop(str(path))
    assert ahead.get(str(path), now, 15) is None and len(backend.calls) == 1


def test_the_prompt_budget_leaves_room_for_the_answer_in_the_models_context(tmp_path):
    eng, _ = engine(lambda p: "", tmp_path, max_tokens=512)
    eng.backend.n_ctx = 2048
    assert eng._budget().total == 2048 - 512
    eng.backend.n_ctx = 32_768
    assert eng._budget().total == 7_000


def test_the_next_edit_settings_are_a_checked_table():
    from assistant.next_edit import NextEditConfig

    cfg, notes = NextEditConfig.from_mapping({"nes_format": "Zeta", "pause_ms": -1, "model": "sweep-next-edit-1.5b",
                                              "budget": {"total": 1}})
    assert cfg.nes_format == "zeta" and cfg.pause_ms == 500 and cfg.model == "sweep-next-edit-1.5b"
    assert notes == ["setting 'pause_ms' = -1 is invalid (must not be negative); using 500",
                     "unknown setting 'budget' ignored"]


def test_a_5000_line_paste_is_never_in_the_prompt_and_the_edit_before_it_is(tmp_path):
    eng, backend = engine(window_reply([19, 20]), tmp_path)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    now = renamed(DOC, [15])
    eng.history.update(path, text(now))
    pasted = now[:30] + [f"pasted_{k} = {k}" for k in range(5_000)] + now[30:]
    got = eng.suggest(path, text(pasted), 15, 10)
    assert got.kind == "jump", got.reason
    prompt = str(backend.calls[0].prompt)
    assert "pasted_" not in prompt.split("original/a.py", 1)[0]  # no edit block of the paste
    assert "def tally(count):\nupdated:\ndef tally(total):" in prompt
    assert prompt.count("pasted_") <= 2 * 21  # at most in the two windows around the cursor
    assert [e.summary for e in eng.history.edits(path)][-1] == "pasted 5,000 lines at line 31"


def test_a_secret_pasted_into_a_document_stops_its_next_edits(tmp_path):
    eng, backend = engine(window_reply([19, 20]), tmp_path)
    path = tmp_path / "a.py"
    eng.history.open(path, text(DOC))
    leaked = renamed(DOC, [15])
    leaked[16] = 'AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'
    got = eng.suggest(path, text(leaked), 15, 10)
    assert got.kind == "none" and "refused" in got.reason and backend.calls == []
    assert path not in eng.history
