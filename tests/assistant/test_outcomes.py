"""The outcome store and tracker (assistant/outcomes.py, outcomes_tracker.py, outcomes_report.py)
with a clock the test moves: accepts, partial accepts, dismisses, typing through and over,
ignores, retention at 30 s / 120 s, reversals by undo and by deletion, precedence of late and
duplicate reports, unknown ids, the size cap, a corrupt file, a purge while open, and
preference pairs."""

from __future__ import annotations

import sqlite3

import pytest

from assistant.outcomes import OutcomeStore, StatsConfig, purge
from assistant.outcomes_report import figures, parse_since, text
from assistant.outcomes_tracker import Offer, OutcomeTracker, Source, _diff, _shift, _slide

DOC = "def add(a, b):\n    return \n\nx = 1\n"
AT = DOC.index("return ") + len("return ")
URI = "file:///w/m.py"
SOURCE = Source("/w/m.py", "python", "tiny.gguf", None, 120.0, prompt="<PROMPT>")


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def store(tmp_path):
    s = OutcomeStore.open(tmp_path / "stats" / "outcomes.sqlite3")
    yield s
    s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def tracker(store, clock):
    t = OutcomeTracker(store, clock=clock)
    yield t
    t.close()


def show(tracker, text="a + b", doc=DOC, at=AT, kind="fim_line", end=None, source=SOURCE):
    return tracker.shown(URI, doc, doc, [Offer(at, at if end is None else end, text, kind)], source)[0]


def put(doc: str, at: int, s: str) -> str:
    return doc[:at] + s + doc[at:]


def test_accept_then_edit_is_measured_at_30_and_120_seconds(store, tracker, clock):
    sid = show(tracker)
    accepted = put(DOC, AT, "a + b")
    tracker.changed(URI, accepted)  # the accept edit, then the client runs the item's command
    assert tracker.reported(sid, "accepted") is True
    clock.t += 5
    tracker.changed(URI, accepted[:AT + 4] + accepted[AT + 5:])  # "a + " kept, "b" deleted
    clock.t += 26
    tracker.changed(URI, put(accepted[:AT + 4] + accepted[AT + 5:], AT + 4, "c"))  # after 31 s: not counted at 30 s
    clock.t += 100
    assert tracker.tick() is None
    row = store.row(sid)
    assert (row["outcome"], row["accepted_chars"], row["retained_30"], row["retained_120"], row["reversed"]) == \
        ("accepted", 5, 4, 4, 0)
    assert row["shown_chars"] == 5 and row["kind"] == "fim_line" and row["language"] == "python"
    assert "/w/m.py" not in str(row) and row["file_hash"] == store.file_hash("/w/m.py")


def test_command_before_the_edit_and_undo_within_10_seconds_is_a_reversal(store, tracker, clock):
    sid = show(tracker)
    assert tracker.reported(sid, "accepted")  # the command came first
    tracker.changed(URI, put(DOC, AT, "a + b"))
    clock.t += 3
    tracker.changed(URI, DOC)  # undo
    clock.t += 200
    tracker.tick()
    row = store.row(sid)
    assert (row["reversed"], row["retained_30"], row["retained_120"]) == (1, 0, 0)


def test_undo_of_a_replacing_accept_is_a_reversal(store, tracker, clock):
    doc = "print(x)\n"
    at = doc.index(")")
    sid = tracker.shown(URI, doc, doc, [Offer(at, at + 1, ", y)", "fim_line")], SOURCE)[0]
    after = doc[:at] + ", y)" + doc[at + 1:]
    tracker.changed(URI, after)
    tracker.reported(sid, "accepted")
    clock.t += 1
    tracker.changed(URI, doc)  # the diff alone reads it as deleting ", y": equality with the old text decides
    clock.t += 11
    tracker.tick()
    assert store.row(sid)["reversed"] == 1


def test_deleting_it_after_10_seconds_is_not_a_reversal(store, tracker, clock):
    sid = show(tracker)
    tracker.changed(URI, put(DOC, AT, "a + b"))
    tracker.reported(sid, "accepted")
    clock.t += 12
    tracker.changed(URI, DOC)
    clock.t += 20
    tracker.tick()
    row = store.row(sid)
    assert (row["reversed"], row["retained_30"]) == (0, 0)


def test_partial_then_whole_accept_upgrades(store, tracker, clock):
    sid = show(tracker)
    tracker.changed(URI, put(DOC, AT, "a "))
    assert tracker.reported(sid, "partial", accepted_chars=2)
    assert store.row(sid)["accepted_chars"] == 2
    tracker.changed(URI, put(DOC, AT, "a + b"))
    assert tracker.reported(sid, "accepted")
    clock.t += 121
    tracker.tick()
    row = store.row(sid)
    assert (row["outcome"], row["accepted_chars"], row["retained_120"]) == ("accepted", 5, 5)
    assert tracker.reported(sid, "partial", accepted_chars=3) is False  # accepted stays


def test_undoing_the_second_part_keeps_the_first(store, tracker, clock):
    sid = show(tracker, "a + b")
    tracker.changed(URI, put(DOC, AT, "a "))
    tracker.reported(sid, "partial", accepted_chars=2)
    tracker.changed(URI, put(DOC, AT, "a + "))
    tracker.reported(sid, "partial", accepted_chars=4)
    clock.t += 2
    tracker.changed(URI, put(DOC, AT, "a "))  # undo of the second word
    clock.t += 30
    tracker.tick()
    row = store.row(sid)
    assert (row["accepted_chars"], row["retained_30"], row["reversed"]) == (4, 2, 0)


def test_typing_through_keeps_it_and_typing_something_else_is_typed_over(store, tracker):
    sid = show(tracker)
    tracker.changed(URI, put(DOC, AT, "a"))
    tracker.changed(URI, put(DOC, AT, "a "))
    assert store.row(sid)["outcome"] is None
    tracker.changed(URI, put(DOC, AT, "a -"))
    assert store.row(sid)["outcome"] == "typed_over"


def test_an_edit_elsewhere_or_a_newer_suggestion_means_ignored(store, tracker):
    first = show(tracker)
    tracker.changed(URI, DOC.replace("x = 1", "x = 2"))
    assert store.row(first)["outcome"] == "ignored"
    doc = DOC.replace("x = 1", "x = 2")
    second = show(tracker, doc=doc)
    third = show(tracker, "a * b", doc=doc)
    assert store.row(second)["outcome"] == "ignored" and store.row(third)["outcome"] is None


def test_the_same_suggestion_shown_again_keeps_its_id(store, tracker):
    first = show(tracker)
    assert show(tracker) == first
    assert len(store.rows()) == 1


def test_typing_through_then_asking_again_is_the_same_suggestion(store, tracker, clock):
    sid = show(tracker, "a + b")
    doc = put(DOC, AT, "a ")
    tracker.changed(URI, doc)
    assert show(tracker, "+ b", doc=doc, at=AT + 2) == sid  # the rest of it, answered again
    tracker.changed(URI, put(DOC, AT, "a + b"))
    assert tracker.reported(sid, "accepted")
    clock.t += 31
    tracker.tick()
    row = store.row(sid)
    assert (len(store.rows()), row["outcome"], row["retained_30"]) == (1, "accepted", 5)


def test_an_answer_for_an_older_text(store, tracker):
    """Typed on while it was computed: typing its own first characters keeps it, anything else
    means the editor never showed it (no row)."""
    through = tracker.shown(URI, DOC, put(DOC, AT, "a"), [Offer(AT, AT, "a + b", "fim_line")], SOURCE)[0]
    assert store.row(through)["outcome"] is None
    stale = tracker.shown(URI, DOC, put(DOC, AT, "z"), [Offer(AT, AT, "a - b", "fim_line")], SOURCE)[0]
    assert store.row(stale) is None and tracker.reported(stale, "accepted") is False


def test_accepting_one_of_two_candidates_leaves_the_other_ignored(store, tracker):
    one, two = tracker.shown(URI, DOC, DOC, [Offer(AT, AT, "a + b", "fim_line"), Offer(AT, AT, "a * b", "fim_line")],
                             SOURCE)
    tracker.changed(URI, put(DOC, AT, "a * b"))
    tracker.reported(two, "accepted")
    assert (store.row(one)["outcome"], store.row(two)["outcome"]) == ("ignored", "accepted")


def test_a_completion_and_a_next_edit_shown_together(store, tracker):
    """One inlineCompletion answer may hold both: neither replaces the other; taking one leaves
    the other ignored, not typed over."""
    fim = show(tracker, "a + b")
    line = DOC.index("    return")
    nes = tracker.shown(URI, DOC, DOC, [Offer(line, AT, "    return b - a", "next_edit")], SOURCE)[0]
    assert store.row(fim)["outcome"] is None and store.row(nes)["outcome"] is None
    tracker.changed(URI, put(DOC, AT, "a + b"))
    tracker.reported(fim, "accepted")
    assert (store.row(fim)["outcome"], store.row(nes)["outcome"]) == ("accepted", "ignored")
    newer = tracker.shown(URI, put(DOC, AT, "a + b"), put(DOC, AT, "a + b"), [Offer(0, 0, "#", "next_edit")], SOURCE)[0]
    older = show(tracker, "x", doc=put(DOC, AT, "a + b"), at=0)
    assert store.row(newer)["outcome"] is None and store.row(older)["outcome"] is None


def test_a_block_replaces_its_first_line(store, tracker):
    first = show(tracker, "a + b")
    block = tracker.shown(URI, DOC, DOC, [Offer(AT, AT, "a + b\n    pass", "fim_block")], SOURCE, replaces=first)[0]
    assert store.row(first) is None and store.row(block)["kind"] == "fim_block"


def test_dismissed_pending_for_long_and_closed(store, tracker, clock):
    a = show(tracker)
    assert tracker.reported(a, "dismissed")
    assert tracker.reported(a, "dismissed") is False  # a duplicate changes nothing
    b = show(tracker, "a - b")
    clock.t += 601
    tracker.tick()
    c = show(tracker, "a * b")
    tracker.closed(URI)
    assert [store.row(i)["outcome"] for i in (a, b, c)] == ["dismissed", "ignored", "ignored"]
    assert tracker.live_ids() == []


def test_precedence_reports_beat_inferences(store, tracker):
    sid = show(tracker)
    tracker.changed(URI, put(DOC, AT, "zzz"))
    assert store.row(sid)["outcome"] == "typed_over"
    assert tracker.reported(sid, "dismissed") is False  # a dismiss does not undo "typed over"
    assert tracker.reported(sid, "accepted") is True  # the accept edit looked like typing over
    other = show(tracker, "q", doc=put(DOC, AT, "zzz"))
    tracker.shown(URI, DOC, DOC, [Offer(0, 0, "#", "fim_line")], SOURCE)
    assert store.row(other)["outcome"] == "ignored"
    assert tracker.reported(other, "dismissed") is True


def test_unknown_ids_are_refused(store, tracker):
    assert tracker.reported("never-shown", "accepted") is False
    with pytest.raises(ValueError):
        store.record_outcome("x", "liked", 0.0)


def test_the_oldest_rows_go_beyond_the_cap(tmp_path, clock):
    s = OutcomeStore.open(tmp_path / "o.sqlite3", max_suggestions=100)
    t = OutcomeTracker(s, clock=clock)
    ids = [t.shown(URI, DOC, DOC, [Offer(AT, AT, f"v{i}", "fim_line")], SOURCE)[0] for i in range(250)]
    s.trim()
    rows = s.rows()
    assert len(rows) == 100 and rows[0]["id"] == ids[150] and rows[-1]["id"] == ids[-1]
    assert s.db.execute("SELECT count(*) FROM prompts").fetchone()[0] == 1
    s.close()


def test_a_corrupt_file_is_rebuilt_with_a_message(tmp_path):
    path = tmp_path / "outcomes.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    messages = []
    s = OutcomeStore.open(path, on_reset=messages.append)
    assert "were reset" in s.rebuilt_reason and messages == [s.rebuilt_reason]
    assert s.rows() == []
    s.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    s = OutcomeStore.open(path)
    assert "schema version 99" in s.rebuilt_reason
    s.close()


def test_purge_while_open_then_the_next_write_starts_afresh(store, tracker):
    show(tracker)
    assert purge(store.path) is True
    show(tracker, "other")
    assert [r["shown_chars"] for r in store.rows()] == [5]


def test_keep_text_off_keeps_figures_only(tmp_path, clock):
    s = OutcomeStore.open(tmp_path / "o.sqlite3", keep_text=False)
    t = OutcomeTracker(s, clock=clock)
    sid = t.shown(URI, DOC, DOC, [Offer(AT, AT, "secret_thing", "fim_line")], SOURCE)[0]
    assert s.db.execute("SELECT text, prompt_hash FROM suggestions WHERE id = ?", (sid,)).fetchone() == (None, None)
    assert s.db.execute("SELECT count(*) FROM prompts").fetchone()[0] == 0
    s.close()


def test_turning_keep_text_off_forgets_what_was_kept(tmp_path, clock):
    s = OutcomeStore.open(tmp_path / "o.sqlite3")
    OutcomeTracker(s, clock=clock).shown(URI, DOC, DOC, [Offer(AT, AT, "kept_text", "fim_line")], SOURCE)
    s.close()
    s = OutcomeStore.open(tmp_path / "o.sqlite3", keep_text=False)
    assert s.db.execute("SELECT text, prompt_hash, shown_chars FROM suggestions").fetchall() == [(None, None, 9)]
    assert s.db.execute("SELECT count(*) FROM prompts").fetchone()[0] == 0
    s.close()


def test_preference_pairs_at_the_same_position(store, tracker, clock):
    rejected = show(tracker, "a - b")
    tracker.reported(rejected, "dismissed")
    chosen = show(tracker, "a + b")
    tracker.changed(URI, put(DOC, AT, "a + b"))
    tracker.reported(chosen, "accepted")
    elsewhere = tracker.shown(URI, put(DOC, AT, "a + b"), put(DOC, AT, "a + b"), [Offer(0, 0, "#", "fim_line")], SOURCE)[0]
    tracker.reported(elsewhere, "dismissed")
    pairs = store.preference_pairs()
    assert [(p.chosen, p.rejected, p.prompt, p.chosen_id, p.rejected_id) for p in pairs] == \
        [("a + b", "a - b", "<PROMPT>", chosen, rejected)]
    assert store.preference_pairs(kinds=("next_edit",)) == []
    empty = show(tracker, "   ", doc=put(DOC, AT, "a + b"), at=0)
    tracker.reported(empty, "dismissed")
    assert len(store.preference_pairs()) == 1


def test_report_figures_and_text(store, tracker, clock):
    a = show(tracker, "a + b")
    tracker.changed(URI, put(DOC, AT, "a + b"))
    tracker.reported(a, "accepted")
    clock.t += 130
    tracker.tick()
    b = show(tracker, "zz", doc=put(DOC, AT, "a + b"), at=0, kind="fim_block")
    tracker.reported(b, "partial", accepted_chars=1)
    c = show(tracker, "yy", doc=put(DOC, AT, "a + b"), at=1)
    tracker.reported(c, "dismissed")
    report = figures(store.rows())
    f = report["all"]
    assert (f["shown"], f["accepted"], f["partial"], f["dismissed"], f["acceptance_rate"]) == (3, 1, 1, 1, 0.6667)
    assert (f["retained_rate_30s"], f["reversal_rate"], f["latency_p50_ms"]) == (1.0, 0.0, 120.0)
    assert set(report["by_kind"]) == {"fim_line", "fim_block"} and report["by_adapter"]["none"]["shown"] == 3
    assert "acceptance" in text(report) and "66.7%" in text(report)


def test_parse_since():
    assert parse_since("7d", now=10 * 86400) == 3 * 86400
    assert parse_since("12h", now=86400) == 43200
    with pytest.raises(ValueError, match="7d"):
        parse_since("last week")


def test_diff_slide_and_span_helpers():
    assert _diff("ab", "ab") is None and _diff("ab", "abb") == (2, 2, "b")
    assert _slide("ab", _diff("ab", "abb"), 1) == (1, 1, "b")  # slid to where the suggestion is typed
    assert _slide("ab", _diff("ab", "abb"), 5) == (2, 2, "b")
    assert _slide("abbb", _diff("abbb", "ab"), 1) == (1, 3, "")
    assert _shift([[2, 5]], 3, 4, 0) == [[2, 1], [3, 3]]  # a deletion inside splits
    assert _shift([[2, 5]], 0, 0, 3) == [[5, 5]]  # an insertion before moves
    assert _shift([[2, 5]], 4, 4, 2) == [[2, 2], [6, 3]]  # an insertion inside is not accepted text


def test_the_setting_defaults():
    assert StatsConfig().enabled and StatsConfig().max_suggestions == 20000


def test_an_unwritable_directory_is_an_error_to_the_caller(tmp_path):
    from tests.read_only import read_only_view

    (tmp_path / "ro").mkdir()
    with read_only_view(tmp_path / "ro", tmp_path / "mnt") as ro:
        with pytest.raises((OSError, sqlite3.Error)):
            OutcomeStore.open(ro / "stats" / "o.sqlite3")


def test_the_editors_own_edit_gives_what_the_comparison_gives(store, tracker, clock):
    """``changed(..., edit)``, as the server passes one ranged didChange, without comparing texts."""
    sid = show(tracker)
    tracker.changed(URI, put(DOC, AT, "a"), (AT, AT, "a"))
    tracker.changed(URI, put(DOC, AT, "a + b"), (AT + 1, AT + 1, " + b"))  # the accept edit of the rest
    tracker.reported(sid, "accepted")
    clock.t += 2
    tracker.changed(URI, put(DOC, AT, "a + "), (AT + 4, AT + 5, ""))
    clock.t += 40
    tracker.tick()
    assert (store.row(sid)["outcome"], store.row(sid)["retained_30"], store.row(sid)["reversed"]) == ("accepted", 4, 0)
    other = show(tracker, "q", doc=put(DOC, AT, "a + "), at=0)
    tracker.changed(URI, "Z" + put(DOC, AT, "a + "), (0, 1, "Z"))  # a length that does not add up: compared
    assert tracker.text_of(URI) == "Z" + put(DOC, AT, "a + ")
    assert store.row(other)["outcome"] == "typed_over"


def test_the_store_precedence_table(store, tracker):
    """Inferences never replace an outcome; reports replace inferences (not dismissed over typed
    over); among reports the first wins, but partial -> accepted and a larger partial."""
    cases = [
        (["dismissed", "typed_over"], "dismissed"), (["accepted", "ignored"], "accepted"),
        (["ignored", "dismissed"], "dismissed"), (["typed_over", "dismissed"], "typed_over"),
        (["typed_over", "partial"], "partial"), (["dismissed", "accepted"], "dismissed"),
        (["accepted", "partial"], "accepted"), (["partial", "accepted"], "accepted"),
        (["ignored", "typed_over"], "ignored"),
    ]
    for steps, want in cases:
        sid = show(tracker, f"{steps}")
        for outcome in steps:
            store.record_outcome(sid, outcome, 0.0, 2)
        assert store.row(sid)["outcome"] == want, steps
    sid = show(tracker, "abcdef")
    store.record_outcome(sid, "partial", 0.0, 2)
    assert store.record_outcome(sid, "partial", 0.0, 4) and not store.record_outcome(sid, "partial", 0.0, 3)
    assert store.row(sid)["accepted_chars"] == 4
