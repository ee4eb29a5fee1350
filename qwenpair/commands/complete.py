"""``qwenpair complete FILE:LINE:COL``: print the completion at a position."""

from __future__ import annotations

import argparse
import json
import sys

from qwenpair.commands.common import add_model_options, parse_location, read_text, warn


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "complete",
        help="print the completion at FILE:LINE:COL",
        description="Complete the code at FILE:LINE:COL (1-based; COL counts Unicode characters).",
    )
    p.add_argument("location", metavar="FILE:LINE:COL")
    add_model_options(p, default=None)
    p.add_argument("--n", type=int, default=1, help="number of candidates (default 1)")
    p.add_argument("--max-tokens", type=int, default=64, help="most tokens to generate (default 64)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--show-prompt", action="store_true", help="print the exact prompt and stop (needs no model)")
    p.set_defaults(handler=run)


def _count_tokens():
    """Exact token counts from the Qwen tokenizer when it is cached, else a safe estimate."""
    try:
        from model.tokenizer import load_fast_tokenizer

        tok = load_fast_tokenizer()
        return lambda s: len(tok.encode(s, add_special_tokens=False).ids)
    except Exception:  # tokenizer not cached yet: ~3 characters a token, rounded up
        return lambda s: (len(s) + 2) // 3


def resolve_model(name: str | None) -> str:
    """The model reference to load; 'auto' falls back to the tiny test model, loudly."""
    from model import registry
    from model.errors import ModelNotFound
    from model.loader import resolve_gguf

    if name not in (None, "auto"):
        return name
    try:
        return str(resolve_gguf(registry.DEFAULT_COMPLETION_MODEL))
    except ModelNotFound:
        if name is None:
            raise
    from model.make_test import cached_test_model

    warn(
        f"{registry.DEFAULT_COMPLETION_MODEL} is not downloaded (`qwenpair model pull "
        f"{registry.DEFAULT_COMPLETION_MODEL}`), so this uses the tiny test model the project "
        "builds itself. Its weights are random: the completion below is meaningless text. "
        "It shows the pipeline works, not what a real model would write."
    )
    return str(cached_test_model("tiny").gguf)


def run(args: argparse.Namespace) -> int:
    from assistant.file_completion import build_file_prompt, complete_file

    path, line, col = parse_location(args.location)
    text = read_text(path)
    if args.show_prompt:
        prompt = build_file_prompt(text, line, col, budget=args.n_ctx - args.max_tokens, count=_count_tokens())
        if prompt.cursor.warning:
            warn(prompt.cursor.warning)
        sys.stdout.write(prompt.text)
        if sys.stdout.isatty():
            sys.stdout.write("\n")
        return 0

    from model.loader import BackendConfig, load_backend

    backend = load_backend(
        BackendConfig(
            model=resolve_model(args.model),
            n_ctx=args.n_ctx,
            n_threads=args.threads,
            n_gpu_layers=args.gpu_layers,
            adapter=args.adapter,
        )
    )
    try:
        done = complete_file(backend, text, line, col, n=args.n, max_tokens=args.max_tokens)
    finally:
        backend.close()
    if done.prompt.cursor.warning:
        warn(done.prompt.cursor.warning)
    if args.json:
        cur = done.prompt.cursor
        json.dump(
            {
                "text": done.text,
                "range": {"line": cur.line + 1, "col": cur.col + 1},
                "candidates": [{"text": c.text, "mean_logprob": c.mean_logprob} for c in done.candidates],
                "timings": done.timings,
                "prompt_tokens": done.prompt_tokens,
                "reused_tokens": done.reused_tokens,
                "model": backend.name,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        if not done.text:
            warn("the model returned an empty completion at this position")
        sys.stdout.write(done.text + "\n")
    return 0
