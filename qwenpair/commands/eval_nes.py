"""``qwenpair eval nes``: next-edit suggestions measured on a repository's git history.

The cases, the engine run and the figures are ``assistant.next_edit_eval`` (docs/next-edit.md);
this only translates options and prints. ``qwenpair eval nes --repo PATH --model M [--adapter A]
[--json]``: with an adapter, the same cases without it and then with it swapped in (before and
after), on the commits its run held out when its meta.json records them (``train lora --task nes``).
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
        "window, edit-level precision and recall, latency p50/p95 and the no-suggestion rate. With --adapter: "
        "before and after it, on the commits its training run held out.",
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
    heldout = _heldout_commits(args.adapter)
    try:
        cases = cases_from_git(repo, policy, commits=args.commits, limit=args.cases if heldout is None else 10**9)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if heldout is not None:  # the adapter's own held-out commits: never trained on
        cases = [c for c in cases if c.commit in heldout][: args.cases]
    if not cases:
        where = "the adapter's held-out commits among " if heldout is not None else ""
        raise UserError(f"no case in {where}the last {args.commits} commits of {repo}: none changes one file in two "
                        "places within 10 lines; try more --commits")
    # without the adapter first, then with it swapped into the same model (the server's hot-swap)
    backend = load_backend(BackendConfig(model=args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                                         n_gpu_layers=args.gpu_layers))
    config = NextEditConfig(nes_format=args.nes_format, prompt_lookup=not args.no_prompt_lookup,
                            generation_time_cap_s=args.time_cap, prompt_time_cap_s=max(4.0, args.time_cap))
    show = not args.json and sys.stderr.isatty()
    progress = (lambda m: print(f"\r{m}", end="", file=sys.stderr)) if show else (lambda m: None)
    try:
        # the base model's figures at the top level (as without --adapter), the adapter's under "after"
        report: dict = evaluate(cases, backend, repo, policy, config, progress)
        if args.adapter:
            if not hasattr(backend, "set_adapter"):
                raise UserError(f"{args.model} runs on a backend without adapters; give a .gguf model for --adapter")
            backend.set_adapter(args.adapter)
            report["after"] = evaluate(cases, backend, repo, policy, config, progress)
            report["delta"] = {k: report["after"][k] - report[k] for k in FIGURES}
            report["adapter"] = args.adapter
    finally:
        backend.close()
    if show:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    runs = [report] + ([report["after"]] if "after" in report else [])
    print(f"next edits on {repo.name}: {report['cases']} cases"
          + (f" (the adapter's held-out commits), adapter {args.adapter}" if args.adapter else ""))
    print(f"  {'':<26}" + "".join(f"{r:>10}" for r in ("before", "after")[: len(runs)]))
    for key, label in FIGURES.items():
        print(f"  {label:<26}" + "".join(f"{r[key]:>10.1%}" for r in runs))
    print(f"  {'latency ms p50, p95':<26}" + "".join(
        f"{r['latency_p50_ms']:>5.0f},{r['latency_p95_ms']:>4.0f}" for r in runs))
    return 0


FIGURES = {"exact_match": "exact match of the window", "edit_precision": "edit precision",
           "edit_recall": "edit recall", "no_suggestion_rate": "no suggestion"}


def _heldout_commits(adapter: str | None) -> set[str] | None:
    """The held-out commits recorded in the adapter's meta.json (``train lora --task nes|both``)."""
    if not adapter:
        return None
    from model.adapter_meta import read_meta

    meta = read_meta(adapter)
    commits = meta.hyperparameters.get("heldout_commits") if meta is not None else None
    return set(commits) if commits else None
