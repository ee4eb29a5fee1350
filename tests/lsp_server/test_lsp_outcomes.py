"""Suggestion outcomes through the real server (docs/lsp.md, "Suggestion outcomes"; docs/stats.md).

A scripted session on the tiny model: suggestions shown, then accepted (the item's command),
accepted in part, dismissed (``qwenpair/suggestionOutcome``), typed over, accepted and undone,
left for a newer one, and left open at shutdown. The rows in the store and ``qwenpair stats
--json`` must be exactly what was done. ``QWENPAIR_STATS_DELAYS`` shortens the 10 s / 30 s /
120 s waits so that the measurements fall due within the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import fast_options
from lsp_wire import server_env

from assistant.outcomes import OutcomeStore

REPO = Path(__file__).resolve().parents[2]
LINE = "    total = count + name"
DOC = "".join(f"def f{i}(count, name):\n{LINE}\n    return total\n\n" for i in range(8))
DELAYS = "1.5,2.5,3.5"


class Editor:
    """The document as the client holds it, sending incremental didChange."""

    def __init__(self, wire, uri: str, text: str) -> None:
        self.wire, self.uri, self.text, self.version = wire, uri, text, 1

    def position(self, offset: int) -> dict:
        line = self.text.count("\n", 0, offset)
        return {"line": line, "character": offset - (self.text.rfind("\n", 0, offset) + 1)}

    def offset(self, pos: dict) -> int:
        starts = [0] + [i + 1 for i, c in enumerate(self.text) if c == "\n"]
        return starts[pos["line"]] + pos["character"]

    def replace(self, start: int, end: int, new: str) -> None:
        rng = {"start": self.position(start), "end": self.position(end)}
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        self.wire.notify("textDocument/didChange", {"textDocument": {"uri": self.uri, "version": self.version},
                                                    "contentChanges": [{"range": rng, "text": new}]})

    def suggest(self, nth: int) -> dict:
        """The first item suggested at the end of the ``nth`` ``LINE``."""
        at = -1
        for _ in range(nth + 1):
            at = self.text.index(LINE, at + 1)
        pos = self.position(at + len(LINE))
        items = self.wire.result("textDocument/inlineCompletion", {
            "textDocument": {"uri": self.uri}, "position": pos, "context": {"triggerKind": 1}})["items"]
        assert items and items[0]["insertText"], f"the tiny model suggested nothing at {pos}"
        return items[0]

    def accept(self, item: dict, chars: int | None = None) -> int:
        """Insert the item's text (its first ``chars``); returns where it starts."""
        start, end = self.offset(item["range"]["start"]), self.offset(item["range"]["end"])
        text = item["insertText"] if chars is None else item["insertText"][:chars]
        self.replace(start, end if chars is None else start, text)
        return start


def _sid(item: dict) -> str:
    command = item["command"]
    assert command["command"] == "qwenpair.accepted" and command["title"] == "qwenpair"
    (arg,) = command["arguments"]
    assert arg["kind"] in ("fim_line", "fim_block")
    return arg["id"]


def session(start, workspace, tmp_path, cache, options, extra_env=None, capabilities=None):
    """A ready server whose record is under ``cache``, with ``DOC`` open: (wire, editor)."""
    wire = start(env={**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(cache), **(extra_env or {})})
    wire.initialize(workspace, options, capabilities=capabilities)
    wire.wait_ready()
    path = workspace / "pkg" / "outcomes.py"
    path.write_text(DOC)
    return wire, Editor(wire, wire.open(path, DOC), DOC)


def test_a_scripted_session_gives_exactly_its_rows_and_figures(start, workspace, tiny_model, tmp_path):
    cache = tmp_path / "cache"
    env = {**server_env(tmp_path), "QWENPAIR_CACHE_DIR": str(cache), "QWENPAIR_STATS_DELAYS": DELAYS}
    wire, ed = session(start, workspace, tmp_path, cache, fast_options(  # next edits off: completions' rows only
        tiny_model.gguf, engine={"max_tokens_single": 4, "max_tokens_multi": 4}, next_edit={"enabled": False}),
        {"QWENPAIR_STATS_DELAYS": DELAYS})
    path = workspace / "pkg" / "outcomes.py"

    accepted = ed.suggest(0)  # accepted whole: the edit, then the item's command (as VS Code does)
    ed.accept(accepted)
    assert wire.result("workspace/executeCommand", {"command": "qwenpair.accepted",
                                                    "arguments": accepted["command"]["arguments"]}) is None
    wire.result("workspace/executeCommand", {"command": "qwenpair.accepted",
                                             "arguments": accepted["command"]["arguments"]})  # twice: no change

    partial = ed.suggest(1)  # one character accepted, then reported
    ed.accept(partial, chars=1)
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(partial), "outcome": "partial", "acceptedChars": 1,
                                               "uri": ed.uri})

    dismissed = ed.suggest(2)
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(dismissed), "outcome": "dismissed"})
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(dismissed), "outcome": "dismissed"})  # a duplicate
    wire.notify("qwenpair/suggestionOutcome", {"id": "never-shown", "outcome": "accepted"})
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(dismissed), "outcome": "loved"})  # refused, logged

    typed_over = ed.suggest(3)
    at = ed.offset(typed_over["range"]["start"])
    other = "#" if not typed_over["insertText"].startswith("#") else "@"
    ed.replace(at, at, other)

    undone = ed.suggest(4)  # accepted, then undone at once: a reversal
    before = ed.text
    start_at = ed.accept(undone)
    wire.result("workspace/executeCommand", {"command": "qwenpair.accepted", "arguments": undone["command"]["arguments"]})
    ed.replace(start_at, start_at + len(undone["insertText"]), "")
    assert ed.text == before

    ignored = ed.suggest(5)  # left for a newer suggestion elsewhere
    left_open = ed.suggest(6)  # still shown at shutdown

    ids = {name: _sid(item) for name, item in [("accepted", accepted), ("partial", partial), ("dismissed", dismissed),
                                                ("typed_over", typed_over), ("undone", undone), ("ignored", ignored),
                                                ("left_open", left_open)]}
    assert len(set(ids.values())) == 7

    def measured() -> bool:
        status = wire.status()["suggestions_today"]
        return status["enabled"] and status["retained_rate_120s"] is not None and status["reversal_rate"] is not None
    wire.wait_for(measured, timeout=60, what="the retention measured after the accepts")
    today = wire.status()["suggestions_today"]
    assert (today["shown"], today["accepted"], today["partial"], today["dismissed"]) == (7, 2, 1, 1)
    assert wire.shutdown_and_exit() == 0

    store = OutcomeStore.open(cache / "stats" / "outcomes.sqlite3")
    rows = {r["id"]: r for r in store.rows()}
    store.close()
    assert set(rows) == set(ids.values()), "exactly one row per suggestion shown"
    got = {name: (rows[sid]["outcome"], rows[sid]["accepted_chars"], rows[sid]["retained_30"],
                  rows[sid]["retained_120"], rows[sid]["reversed"]) for name, sid in ids.items()}
    n_acc, n_und = len(accepted["insertText"]), len(undone["insertText"])
    assert got == {
        "accepted": ("accepted", n_acc, n_acc, n_acc, 0),
        "partial": ("partial", 1, 1, 1, 0),
        "dismissed": ("dismissed", None, None, None, None),
        "typed_over": ("typed_over", None, None, None, None),
        "undone": ("accepted", n_und, 0, 0, 1),
        "ignored": ("ignored", None, None, None, None),
        "left_open": ("ignored", None, None, None, None),
    }
    row = rows[ids["accepted"]]
    assert row["language"] == "python" and row["model"] == Path(tiny_model.gguf).name and row["adapter"] == ""
    assert row["latency_ms"] is not None and row["shown_chars"] == n_acc and str(path) not in json.dumps(row)

    out = subprocess.run([sys.executable, "-m", "qwenpair", "stats", "--json"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    f = report["all"]
    assert (f["shown"], f["accepted"], f["partial"], f["dismissed"], f["typed_over"], f["ignored"], f["pending"]) == \
        (7, 2, 1, 1, 1, 2, 0)
    assert f["acceptance_rate"] == round(3 / 7, 4)
    assert f["retained_rate_30s"] == round((n_acc + 1) / (n_acc + 1 + n_und), 4)
    assert f["reversal_rate"] == round(1 / 3, 4)
    assert set(report["by_kind"]) <= {"fim_line", "fim_block"} and set(report["by_language"]) == {"python"}
    assert report["path"] == str(cache / "stats" / "outcomes.sqlite3")

    purge = subprocess.run([sys.executable, "-m", "qwenpair", "stats", "--purge"], capture_output=True, text=True,
                           env=env, cwd=REPO, timeout=60)
    assert purge.returncode == 0 and not (cache / "stats" / "outcomes.sqlite3").exists()


def test_stats_off_records_nothing_but_items_keep_ids(start, workspace, tiny_model, tmp_path):
    cache = tmp_path / "cache"
    wire, ed = session(start, workspace, tmp_path, cache, fast_options(tiny_model.gguf, stats={"enabled": False}))
    item = ed.suggest(0)
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(item), "outcome": "dismissed"})
    assert wire.status()["suggestions_today"] == {"enabled": False}
    assert wire.shutdown_and_exit() == 0
    assert not (cache / "stats").exists()


def test_a_completion_list_item_carries_the_command_too(start, workspace, tiny_model, tmp_path):
    """A client without inline completion gets CompletionItems; their command records the accept."""
    caps = {"textDocument": {"synchronization": {"didSave": True}}, "workspace": {"workspaceFolders": True}}
    wire, ed = session(start, workspace, tmp_path, tmp_path / "cache", fast_options(tiny_model.gguf), capabilities=caps)
    pos = {"line": 1, "character": len(LINE)}
    items = wire.result("textDocument/completion", {"textDocument": {"uri": ed.uri}, "position": pos})["items"]
    assert items, "the tiny model suggested nothing"
    command = items[0]["command"]
    assert command["command"] == "qwenpair.accepted"
    wire.result("workspace/executeCommand", {"command": command["command"], "arguments": command["arguments"]})
    today = wire.status()["suggestions_today"]
    assert (today["shown"], today["accepted"]) == (len(items), 1)
    assert wire.shutdown_and_exit() == 0


def test_a_read_only_cache_turns_the_figures_off_with_one_message(start, workspace, tiny_model, tmp_path):
    from tests.read_only import read_only_view

    src = tmp_path / "cache-src"
    src.mkdir()
    with read_only_view(src, tmp_path / "cache") as cache:
        wire, ed = session(start, workspace, tmp_path, cache, fast_options(tiny_model.gguf))
        first, second = ed.suggest(0), ed.suggest(1)  # answered, with ids, nothing recorded
        assert _sid(first) != _sid(second)
        wire.notify("qwenpair/suggestionOutcome", {"id": _sid(first), "outcome": "dismissed"})
        today = wire.status()["suggestions_today"]
        assert today["enabled"] is False and str(cache) in today["problem"]
        shown = [m["message"] for m in wire.notifications("window/showMessage") if "suggestion statistics" in m["message"]]
        assert len(shown) == 1 and "QWENPAIR_CACHE_DIR" in shown[0]
        assert wire.shutdown_and_exit() == 0
        assert not (cache / "stats").exists()


def test_a_corrupt_record_is_rebuilt_with_a_message(start, workspace, tiny_model, tmp_path):
    cache = tmp_path / "cache"
    (cache / "stats").mkdir(parents=True)
    (cache / "stats" / "outcomes.sqlite3").write_bytes(b"\x00garbage, not SQLite" * 500)
    wire, ed = session(start, workspace, tmp_path, cache, fast_options(tiny_model.gguf))
    item = ed.suggest(0)
    wire.notify("qwenpair/suggestionOutcome", {"id": _sid(item), "outcome": "dismissed"})
    today = wire.status()["suggestions_today"]
    assert (today["shown"], today["dismissed"]) == (1, 1)
    shown = [m["message"] for m in wire.notifications("window/showMessage") if "suggestion statistics" in m["message"]]
    assert len(shown) == 1 and "were reset" in shown[0] and str(cache / "stats" / "outcomes.sqlite3") in shown[0]
    assert wire.shutdown_and_exit() == 0
