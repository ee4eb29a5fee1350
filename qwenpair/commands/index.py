"""``qwenpair index [PATH] [--stats] [--json] [--query FILE:LINE:COL]``: build or inspect
the workspace index.

Builds (or brings up to date) the persisted index of PATH (default: the current directory)
with a progress bar on stderr, then prints what is indexed: files by language, skipped files
by reason, symbols, windows and time. ``--query`` prints the snippets retrieval would offer
at a cursor (LINE and COL 1-based, COL in Unicode characters) with the reason for each.

Exit status: 0; 2 for an error the user can fix (a full cache disk among them: nothing is
lost, the next run goes on); 1 when the index is built but its lexical snapshot could not
be saved (the next start is slower). While another process writes the same index this one
waits, and says so on stderr; a store that had to be rebuilt is reported there too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qwenpair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="build the workspace index, show its stats, or query retrieval",
        description="Index PATH (default: the current directory) with tree-sitter, persist it, "
        "and print stats; --query shows the cross-file snippets for a cursor.",
    )
    p.add_argument("path", nargs="?", default=".", metavar="PATH", help="workspace root (default: .)")
    p.add_argument("--stats", action="store_true", help="print stats (the default without --query)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--query", metavar="FILE:LINE:COL", help="show retrieval for a cursor (1-based)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--max-bytes", type=int, default=None, help="skip files larger than this (default 1 MB)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from repo_index import IndexConfig, Workspace  # heavy (tree-sitter, numpy): only when used

    config = IndexConfig() if args.max_bytes is None else IndexConfig(max_bytes=args.max_bytes)
    root = Path(args.path).expanduser()
    if not root.is_dir():
        raise UserError(f"{root} is not a directory")
    query = _parse_query(args.query, root) if args.query else None
    started = time.perf_counter()
    with Workspace.open(root, config, notify=_tell) as ws:
        if ws.rebuild_notice:
            _tell(ws.rebuild_notice)
        build = ws.build(progress=None if args.no_progress else _progress_bar())
        saved = not ws.save_problem
        if not saved:  # the index is whole and usable; the user should still know
            _tell(f"warning: {ws.save_problem}")
        stats = ws.stats()
        out: dict = {}
        if args.stats or query is None:
            out["stats"] = _stats_dict(stats, build, time.perf_counter() - started)
        if query is not None:
            path, line, col = query
            text = path.read_bytes().decode("utf-8", "replace")
            t0 = time.perf_counter()
            snippets = ws.retrieve(path, text, line, col)
            out["query"] = {
                "file": str(path), "line": line + 1, "col": col + 1,
                "milliseconds": round((time.perf_counter() - t0) * 1000, 2),
                "snippets": [_snippet_dict(s) for s in snippets],
            }
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        if "stats" in out:
            _print_stats(out["stats"])
        if "query" in out:
            _print_query(out["query"])
    return 0 if saved else 1


def _tell(message: str) -> None:
    print(f"qwenpair index: {message}", file=sys.stderr, flush=True)


def _parse_query(value: str, root: Path) -> tuple[Path, int, int]:
    from qwenpair.commands.common import parse_location

    path, line, col = parse_location(value)
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise UserError(f"{path} is not inside the indexed directory {root}") from None
    return path, line, col


def _progress_bar():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(progress) -> None:
        bar = bars.get(progress.phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bars.clear()
            unit = "files" if progress.phase != "saving" else "step"
            bar = bars[progress.phase] = tqdm(desc=progress.phase, total=progress.total or None,
                                              unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
        if progress.total and bar.total != progress.total:
            bar.total = progress.total
        bar.n = progress.done
        bar.refresh()
        if progress.phase == "saving" and progress.done == progress.total:
            bar.close()

    return report


def _stats_dict(stats, build, seconds: float) -> dict:
    return {
        "root": stats.root,
        "store": stats.store,
        "files": stats.files,
        "languages": stats.languages,
        "symbols": stats.symbols,
        "windows": stats.windows,
        "skipped": stats.skipped,
        "notes": stats.notes,
        "indexed_now": build.files_indexed,
        "unchanged": build.files_unchanged,
        "removed": build.files_removed,
        "seconds": round(seconds, 3),
    }


def _snippet_dict(s) -> dict:
    return {
        "path": s.path, "kind": s.kind, "start_line": s.start_line + 1, "end_line": s.end_line,
        "score": s.score, "symbol": s.symbol, "reason": s.reason, "text": s.text,
    }


def _print_stats(s: dict) -> None:
    print(f"index of {s['root']}")
    print(f"  files     {s['files']:>8}   ({s['indexed_now']} indexed now, {s['unchanged']} unchanged,"
          f" {s['removed']} removed) in {s['seconds']:.2f} s")
    for language, count in s["languages"].items():
        print(f"    {language:<12} {count:>6}")
    print(f"  symbols   {s['symbols']:>8}")
    print(f"  windows   {s['windows']:>8}")
    if s["skipped"]:
        print(f"  skipped   {sum(s['skipped'].values()):>8}")
        for reason, count in s["skipped"].items():
            print(f"    {reason:<24} {count:>6}")
    for note, count in s["notes"].items():
        print(f"  note: {count} file(s) with {note}")
    print(f"  store     {s['store']}")


def _print_query(q: dict) -> None:
    print(f"\n{len(q['snippets'])} snippets for {q['file']}:{q['line']}:{q['col']} ({q['milliseconds']} ms)")
    for i, s in enumerate(q["snippets"], 1):
        print(f"\n#{i} {s['kind']} {s['path']}:{s['start_line']}-{s['end_line']}  score {s['score']:.3f}")
        print(f"   {s['reason']}")
        for text_line in s["text"].splitlines()[:12]:
            print(f"   | {text_line}")
        extra = len(s["text"].splitlines()) - 12
        if extra > 0:
            print(f"   | ... {extra} more lines")
