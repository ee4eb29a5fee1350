"""What recording suggestion outcomes costs the server's event loop (docs/stats.md, "Cost").

For a document of the given size with a suggestion being followed, it times ``shown`` (a row
and a kept 8,000-character prompt written to a scratch store) and ``changed`` for one typed
character, once with the editor's ranged edit (as the server passes a one-range didChange)
and once by comparing the texts (full sync, or several ranges), in the same process.

    .venv/bin/python -m bench.outcome_tracking [--size 1000000] [--repeat 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from assistant.outcomes import OutcomeStore
from assistant.outcomes_tracker import Offer, OutcomeTracker, Source
from bench.common import emit, median, percentile

ROOT = Path(__file__).resolve().parents[1]


def run(size: int, repeat: int, ranged: bool, store: OutcomeStore) -> dict:
    code = "".join(p.read_text() for p in sorted((ROOT / "assistant").glob("*.py")))
    text = (code * (size // len(code) + 1))[:size]
    at, uri = size // 2, f"file:///doc-{ranged}"
    tracker = OutcomeTracker(store)
    shown, changed = [], []
    for i in range(repeat):
        t = time.perf_counter()
        tracker.shown(uri, text, text, [Offer(at, at, f"value_{i} + 1", "fim_line")],
                      Source("/w/doc.py", "python", "model.gguf", None, 100.0, code[:8000] + str(i)))
        shown.append(time.perf_counter() - t)
        new = text[:at] + "x" + text[at:]
        t = time.perf_counter()
        tracker.changed(uri, new, (at, at, "x") if ranged else None)
        changed.append(time.perf_counter() - t)
        text, at = new, at + 1
    tracker.close()
    return {"document_chars": size, "edit": "ranged" if ranged else "compared",
            "shown_ms_p50": round(1000 * median(shown), 3), "shown_ms_p95": round(1000 * percentile(shown, 95), 3),
            "changed_ms_p50": round(1000 * median(changed), 3),
            "changed_ms_p95": round(1000 * percentile(changed, 95), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="document characters (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = OutcomeStore.open(Path(tmp) / "outcomes.sqlite3")
        results = [run(args.size, args.repeat, ranged, store) for ranged in (True, False)]
        store.close()
    emit(results, ratio_changed_p50=round(results[1]["changed_ms_p50"] / max(results[0]["changed_ms_p50"], 1e-6), 1))


if __name__ == "__main__":
    main()
