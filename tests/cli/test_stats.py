"""``qwenpair stats`` as a user runs it (docs/stats.md): the table, --since, --json, a damaged
record and --purge, on a record written by the real store and tracker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from assistant.outcomes import OutcomeStore
from assistant.outcomes_tracker import Offer, OutcomeTracker, Source


def qp(*args: str, cache) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qwenpair", "stats", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, QWENPAIR_CACHE_DIR=str(cache)))


def _record(cache) -> None:
    """Three suggestions: one shown ten days ago and dismissed, one accepted and kept, one typed over."""
    now = [time.time() - 10 * 86400]
    store = OutcomeStore.open(cache / "stats" / "outcomes.sqlite3")
    tracker = OutcomeTracker(store, clock=lambda: now[0])
    doc = "x = \n"
    src = Source("/w/a.py", "python", "model.gguf", "my-adapter.gguf", 200.0)
    old = tracker.shown("u", doc, doc, [Offer(4, 4, "old()", "fim_line")], src)[0]
    tracker.reported(old, "dismissed")
    now[0] = time.time() - 300
    kept = tracker.shown("u", doc, doc, [Offer(4, 4, "f(1)", "fim_line")], src)[0]
    tracker.changed("u", "x = f(1)\n")
    tracker.reported(kept, "accepted")
    now[0] += 130
    tracker.tick()
    tracker.shown("u", "x = f(1)\n", "x = f(1)\n", [Offer(0, 0, "#", "fim_block")], src)
    tracker.changed("u", "Zx = f(1)\n")
    tracker.close()
    store.close()


def test_the_table_since_and_json(tmp_path):
    cache = tmp_path / "cache"
    empty = qp(cache=cache)
    assert empty.returncode == 0 and "none recorded" in empty.stdout
    assert not (cache / "stats").exists(), "reading creates nothing"
    _record(cache)
    table = qp(cache=cache)
    assert table.returncode == 0, table.stderr
    first = table.stdout.splitlines()[2].split()
    assert first[:7] == ["all", "3", "1", "0", "1", "1", "0"] and first[7] == "33.3%"
    assert "my-adapter.gguf" in table.stdout and "fim_block" in table.stdout
    recent = json.loads(qp("--since", "7d", "--json", cache=cache).stdout)
    assert (recent["all"]["shown"], recent["all"]["accepted"], recent["all"]["typed_over"]) == (2, 1, 1)
    assert recent["all"]["retained_rate_120s"] == 1.0 and recent["by_adapter"]["my-adapter.gguf"]["shown"] == 2
    bad = qp("--since", "a while", cache=cache)
    assert bad.returncode == 2 and "7d" in bad.stderr


def test_a_damaged_record_is_said_and_purge_deletes(tmp_path):
    cache = tmp_path / "cache"
    (cache / "stats").mkdir(parents=True)
    (cache / "stats" / "outcomes.sqlite3").write_text("not a database " * 100)
    out = qp("--json", cache=cache)
    assert out.returncode == 0 and "were reset" in out.stderr and json.loads(out.stdout)["all"]["shown"] == 0
    purged = qp("--purge", cache=cache)
    assert purged.returncode == 0 and "deleted" in purged.stdout
    assert not (cache / "stats" / "outcomes.sqlite3").exists()
    again = qp("--purge", cache=cache)
    assert again.returncode == 0 and "nothing to delete" in again.stdout
