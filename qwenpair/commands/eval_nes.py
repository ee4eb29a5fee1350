"""``qwenpair eval nes``: next-edit suggestions measured on a repository's git history.

The cases, the engine run and the figures are ``assistant.next_edit_eval`` (docs/next-edit.md);
this only translates options and prints. ``qwenpair eval nes --repo PATH --model M [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qwenpair.commands.common import add_model_options


def add_parser(actions) -> None:
    p = actions.add_parser(
        "nes", help="next-edit suggestions on the repository's history",
        description="Cases from git history: in a commit changing a file in two or more places, the first "
        "change is the recent edit and the next one is the target. Reports exact match of the predicted "
        "window, edit-level precision and recall, latency p50/p95 and the no-suggestion rate.",
    )
    p.add_argument("--repo", required=True, type=Path, help="a git repository")
    p.add_argument("--commits", type=int, default=200, help="recent commits to read (default 200)")
    p.add_argument("--cases", type=int, default=50, help="cases at most (default 50)")
    p.add_argument("--format", dest="nes_format", choices=("sweep", "zeta"), default="sweep",
                   help="prompt layout (default sweep)")
    p.add_argument("--no-prompt-lookup", action="store_true", help="plain decoding (for comparison)")
    p.add_argument("--time-cap", type=float, default=8.0,
                   help="seconds to write a window; an answer cut by it is no suggestion (default 8)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_model_options(p)
    p.set_defaults(handler=run_nes)


def run_nes(args: argparse.Namespace) -> int:
    from assistant.next_edit import NextEditConfig
    from assistant.next_edit_eval import cases_from_git, evaluate
    from assistant.retrieval import PromptPolicy
    from model.loader import BackendConfig, load_backend
    from qwenpair.errors import UserError

    if not args.model:
        raise UserError("--model is required: a registry name or a .gguf path")
    repo = args.repo.resolve()
    if not (repo / ".git").exists():
        raise UserError(f"{repo} is not a git repository (no .git); give --repo the folder that holds .git")
    policy = PromptPolicy(repo)
    try:
        cases = cases_from_git(repo, policy, commits=args.commits, limit=args.cases)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not cases:
        raise UserError(f"no case in the last {args.commits} commits of {repo}: none changes one file in two places "
                        "within 10 lines; try more --commits")
    backend = load_backend(BackendConfig(model=args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                                         n_gpu_layers=args.gpu_layers, adapter=args.adapter))
    config = NextEditConfig(nes_format=args.nes_format, prompt_lookup=not args.no_prompt_lookup,
                            generation_time_cap_s=args.time_cap, prompt_time_cap_s=max(4.0, args.time_cap))
    show = not args.json and sys.stderr.isatty()
    try:
        report = evaluate(cases, backend, repo, policy, config,
                          progress=(lambda m: print(f"\r{m}", end="", file=sys.stderr)) if show else (lambda m: None))
    finally:
        backend.close()
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"next edits on {repo.name}: {report['cases']} cases")
    print(f"  exact match of the window  {report['exact_match']:>7.1%}")
    print(f"  edit precision             {report['edit_precision']:>7.1%}")
    print(f"  edit recall                {report['edit_recall']:>7.1%}")
    print(f"  no suggestion              {report['no_suggestion_rate']:>7.1%}")
    print(f"  latency ms                 p50 {report['latency_p50_ms']:.0f}, p95 {report['latency_p95_ms']:.0f}")
    return 0
