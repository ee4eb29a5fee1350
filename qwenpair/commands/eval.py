"""``qwenpair eval``: measure a model on your repository or on HumanEval-FIM.

Actions: ``repo`` (held-out positions of a repository, before and after an adapter: JSON,
table and PNG; ``training.eval_repo``) and ``humaneval-fim`` (single-line infilling exact
match per language, any backend; ``training.eval_humaneval``). Handlers only translate
options; the work is imported inside them so that ``qwenpair --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qwenpair.commands import eval_nes
from qwenpair.commands.common import add_model_options


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval", help="evaluate completions on your repository (before/after an adapter) or on HumanEval-FIM",
        description="Evaluate a model: on held-out positions of a repository (exact match, edit similarity, "
        "syntax-valid rate, latency; before and after a LoRA adapter), or on HumanEval-FIM single-line infilling.",
    )
    actions = parser.add_subparsers(dest="eval_command", metavar="ACTION")
    parser.set_defaults(handler=lambda _a: (parser.print_help(sys.stderr), 2)[1])
    _repo_parser(actions)
    _humaneval_parser(actions)
    eval_nes.add_parser(actions)  # next edits (qwenpair/commands/eval_nes.py)


def _repo_parser(actions) -> None:
    p = actions.add_parser(
        "repo", help="held-out positions of a repository: before and after an adapter",
        description="Complete held-out line, API-call and block positions of --repo with the real engine, "
        "without and then with --adapter (swapped into the running model), and report exact match, edit "
        "similarity, syntax-valid rate and latency percentiles as report.json, report.txt and report.png. "
        "With an adapter from 'train lora-export', its recorded held-out files and context budget are used.",
    )
    p.add_argument("--repo", required=True, type=Path, help="the repository")
    p.add_argument("--model", required=True, help="base model: registry name or .gguf path")
    p.add_argument("--adapter", default=None, help="adapter .gguf from 'qwenpair train lora-export' (meta.json beside it)")
    p.add_argument("--out", type=Path, default=Path("eval-report"), help="report folder (default ./eval-report)")
    p.add_argument("--positions", type=int, default=60, help="held-out positions (default 60)")
    p.add_argument("--context-tokens", type=int, default=1024,
                   help="prompt budget when the adapter records none (default 1024)")
    p.add_argument("--n-ctx", type=int, default=4096, help="context window (default 4096)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of the table")
    p.set_defaults(handler=run_repo)


def run_repo(args: argparse.Namespace) -> int:
    from training.eval_repo import EvalConfig, evaluate_repo, table, write_report
    from training.lora_config import SampleConfig

    cfg = EvalConfig(positions=args.positions, samples=SampleConfig(context_tokens=args.context_tokens),
                     n_ctx=args.n_ctx, threads=args.threads)
    progress = (lambda m: None) if args.quiet or args.json else (lambda m: print(f"\r{m}", end="", file=sys.stderr))
    report = evaluate_repo(args.repo, args.model, args.adapter, cfg, progress)
    if not args.quiet and not args.json:
        print(file=sys.stderr)
    paths = write_report(report, args.out)
    if args.json:
        print(json.dumps({**{k: v for k, v in report.items()}, "files": {k: str(v) for k, v in paths.items()}},
                         indent=2, default=str))
    else:
        print(table(report), end="")
        print(f"report: {paths['json']}, {paths['table']}, {paths['chart']}")
    return 0


def _humaneval_parser(actions) -> None:
    p = actions.add_parser(
        "humaneval-fim", help="single-line infilling exact match per language (any backend)",
        description="HumanEval-FIM single-line infilling: the file-level FIM prompt, greedy, first generated line "
        "after cutting leaked special tokens, exact match per language. --data is .parquet, .jsonl or .json with "
        "prompt, suffix, canonical_solution and language.",
    )
    p.add_argument("--data", required=True, type=Path, help="benchmark file")
    p.add_argument("--limit", type=int, default=None, help="rows per language, at most")
    p.add_argument("--language", action="append", default=[], help="only this language (repeatable)")
    p.add_argument("--max-tokens", type=int, default=64, help="tokens generated per row, at most (default 64)")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_model_options(p)
    p.set_defaults(handler=run_humaneval)


def run_humaneval(args: argparse.Namespace) -> int:
    from model.loader import BackendConfig, load_backend
    from qwenpair.errors import UserError
    from training.eval_humaneval import read_rows, run_humaneval_fim

    if not args.model:
        raise UserError("--model is required: a registry name, .gguf path, checkpoint folder or server URL")
    rows = read_rows(args.data, limit=args.limit, languages=tuple(args.language))
    backend = load_backend(BackendConfig(model=args.model, n_ctx=args.n_ctx, n_threads=args.threads,
                                         n_gpu_layers=args.gpu_layers, adapter=args.adapter))
    try:
        show = not args.json and sys.stderr.isatty()
        result = run_humaneval_fim(rows, backend, max_tokens=args.max_tokens,
                                   progress=(lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr)) if show else (lambda i, n: None))
    finally:
        backend.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"humaneval-fim single-line exact match: {result['exact_match']:.1%} of {result['n']} ({result['model']})")
        for lang, r in result["by_language"].items():
            print(f"  {lang:<12} {r['exact_match']:>7.1%}  ({r['n']})")
        lat = result["latency_ms"]
        print(f"  latency ms: p50 {lat['p50']:.0f}, p90 {lat['p90']:.0f}, p99 {lat['p99']:.0f}")
    return 0
