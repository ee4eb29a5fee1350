"""``qwenpair stats``: how this machine's suggestions fared (docs/stats.md).

``qwenpair stats [--since 7d] [--json]`` prints the acceptance rate, the retained-character
rates 30 s and 120 s after an accept, the reversal rate and the latency p50/p95, for all
suggestions and by kind, language, model and adapter; ``--purge`` deletes the record. The
figures are ``assistant.outcomes_report``; the record is ``assistant.outcomes``, written by the
language server. This only reads options and prints.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "stats", help="acceptance figures of your suggestions (kept on this machine only)",
        description="How the suggestions the language server showed you fared: acceptance rate, characters "
        "still there 30 s and 120 s after an accept, accepts undone within 10 s, latency; by kind, language, "
        "model and adapter. Recorded locally under the cache directory and never sent anywhere (docs/stats.md).",
    )
    p.add_argument("--since", default=None, help="only suggestions shown since: 7d, 12h, 30m, 2w or YYYY-MM-DD "
                   "(default: all kept)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--purge", action="store_true", help="delete the whole record (figures, texts and prompts)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from assistant.outcomes import OutcomeStore, default_path, purge
    from assistant.outcomes_report import figures, parse_since, text
    from qwenpair.errors import UserError

    path = default_path()
    if args.purge:
        found = purge(path)
        print(f"deleted {path}" if found else f"nothing to delete: {path} does not exist")
        return 0
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not path.exists():
        report = figures([], since)
    else:
        try:
            store = OutcomeStore.open(path)
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open {path}: {exc}") from None
        if store.rebuilt_reason:
            print(f"qwenpair stats: {store.rebuilt_reason}", file=sys.stderr)
        try:
            report = figures(store.rows(since), since)
        finally:
            store.close()
    report["path"] = str(path)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(text(report), end="")
        print(f"(recorded in {path}; `qwenpair stats --purge` deletes it, `[stats] enabled = false` stops it)")
    return 0
