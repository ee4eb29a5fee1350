"""``qwenpair complete FILE:LINE:COL``: print the completion at a position.

Runs the completion engine repository-level: the workspace (``--root``, else the file's git
repository, else its directory; never a folder inside ``.git``) is indexed (persisted, so later runs re-read only what
changed) and its definitions and similar code go into the prompt. The human mode then says
on stderr what ran (``complete_report``); ``--json`` and ``--show-prompt`` print only their output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from qwenpair.commands import complete_report
from qwenpair.commands.common import add_model_options, parse_location, read_text, warn
from qwenpair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "complete",
        help="print the completion at FILE:LINE:COL",
        description="Complete the code at FILE:LINE:COL (1-based; COL counts Unicode characters).",
    )
    p.add_argument("location", metavar="FILE:LINE:COL")
    add_model_options(p, default=None)
    p.add_argument("--root", type=Path, default=None, help="workspace root (default: the file's git repository)")
    p.add_argument("--n", type=int, default=1, help="number of candidates (default 1)")
    p.add_argument("--max-tokens", type=int, default=None, help="most tokens to generate (default: 48 one line, 128 a block)")
    p.add_argument("--context-tokens", type=int, default=2048, help="prompt token budget (default 2048)")
    p.add_argument("--latency-target", type=float, default=None,
                   help="size a cold prompt to finish within this many seconds (default: none for the CLI)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--explain", action="store_true", help="show each snippet, its source and why it was chosen")
    p.add_argument("--show-prompt", action="store_true", help="print the exact prompt and stop (needs no model)")
    p.set_defaults(handler=run)


def workspace_root(path: Path) -> Path:
    """The file's git repository, else its directory; never a folder inside ``.git``: a file
    there belongs to the repository that holds that ``.git`` (and the policy refuses it)."""
    from repo_index.policy import root_outside_vcs

    holder = root_outside_vcs(path)
    if holder is not None:
        return holder
    try:
        out = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=5,
        )
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return path.parent


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


def _engine(args: argparse.Namespace, path: Path, backend):
    from assistant.config import EngineConfig
    from assistant.session import open_session

    from repo_index.policy import safe_root

    root = safe_root(args.root or workspace_root(path))  # PolicyError for a root inside .git
    overrides = {"context_tokens": args.context_tokens, "candidates": args.n,
                 "latency_target_s": args.latency_target if args.latency_target is not None else 3600.0,
                 "generation_time_cap_s": 30.0, "prompt_time_cap_s": 300.0}
    if args.max_tokens is not None:
        overrides.update(max_tokens_single=args.max_tokens, max_tokens_multi=args.max_tokens)
    config, messages = EngineConfig.from_mapping(overrides)
    for m in messages:
        warn(m)
    session = open_session(root, backend, config=config)
    return session.engine, session.workspace.close, session.workspace


def run(args: argparse.Namespace) -> int:
    from assistant.request import CompletionRequest

    path, line, col = parse_location(args.location)
    path = Path(os.path.abspath(path))  # not resolved: the policy judges a link and its target
    text, first = _read_for_completion(path, line)
    line -= first  # the request is on the window; items move back below
    # The human mode always collects the explain records: its summary is made of them.
    human = not (args.json or args.show_prompt)
    request = CompletionRequest(path, text, line, col, candidates=args.n, explain=args.explain or human)
    if args.show_prompt:
        from model.backends.tokenizer_only import TokenizerOnlyBackend

        engine, close_index, _ = _engine(args, path, TokenizerOnlyBackend(args.n_ctx))
        try:
            prompt, explain, warnings = engine.build_prompt(request)
        finally:
            engine.close()
            close_index()
        for w in warnings:
            warn(w)
        if args.explain:
            _print_explain(explain)
        sys.stdout.write(prompt)
        if sys.stdout.isatty():
            sys.stdout.write("\n")
        return 0

    from model.loader import BackendConfig, load_backend

    ran = complete_report.Run()
    model_ref = resolve_model(args.model)
    t0 = time.perf_counter()
    backend = load_backend(
        BackendConfig(model=model_ref, n_ctx=args.n_ctx, n_threads=args.threads,
                      n_gpu_layers=args.gpu_layers, adapter=args.adapter)
    )
    ran.load_s, t0 = time.perf_counter() - t0, time.perf_counter()
    recorder = complete_report.Recorder(backend)
    engine, close_index, workspace = _engine(args, path, recorder if human else backend)
    ran.index_s = time.perf_counter() - t0
    try:
        if human:
            ran.index = workspace.stats()
        result = engine.complete_sync(request)
        if first:
            from assistant.large_document import shift

            result.items, line = shift(result.items, first), line + first
    finally:
        engine.close()
        close_index()
        backend.close()
    # The model's own notes (e.g. no <|file_sep|>: file-level prompts), then this completion's.
    for w in [*getattr(backend, "warnings", []), *result.warnings]:
        warn(w)
    if args.json:
        json.dump(
            {
                "text": result.text,
                "range": {"line": line + 1, "col": col + 1, "end_line": line + 1, "end_col": col + 1}
                if not result.items else _range(result.items[0]),
                "candidates": [{"text": i.text, "mean_logprob": i.mean_logprob, "range": _range(i)}
                               for i in result.items],
                "timings": result.timings,
                "cache": result.cache,
                "prompt_tokens": result.prompt_tokens,
                "evaluated_tokens": result.evaluated_tokens,
                "stop_reason": result.stop_reason,
                "model": backend.name,
                "explain": [e.__dict__ for e in result.explain],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return 0
    if args.explain:
        _print_explain(result.explain)
    ran.model, ran.generations = backend.name, recorder.generations
    ran.file_level = not engine.prompt_format.repo_level
    ran.test_model = args.model == "auto" and model_ref != _default_gguf()
    if not result.text:
        print(f"qwenpair: {complete_report.empty_reason(ran)}", file=sys.stderr)
    elif ran.test_model:  # stdout stays the completion alone: scripts read it
        print("qwenpair: the completion from the random-weight test model (meaningless text):", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.write(result.text + "\n")
    for extra in result.items[1:]:
        sys.stdout.write(f"--- candidate (mean logprob {extra.mean_logprob:.3f})\n{extra.text}\n")
    sys.stdout.flush()
    complete_report.print_summary(result, ran)
    return 0


def _read_for_completion(path: Path, line: int) -> tuple[str, int]:
    """(text, its first line): the whole file, or for a file over the size cap only the
    lines around ``line``, read line by line, so that a 200 MB file costs its window
    (docs/configuration.md, "Large documents")."""
    from assistant.large_document import LARGE_DOCUMENT_CHARS, read_window, too_large_note

    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_text says what is wrong
    if size <= LARGE_DOCUMENT_CHARS:
        return read_text(path), 0
    try:
        text, first, _ = read_window(path, line)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    if "\0" in text[:8192]:
        raise UserError(f"{path} looks binary; qwenpair completes text files")
    warn(too_large_note(size))
    return text, first


def _default_gguf() -> str | None:
    """The default completion model's file when it is downloaded (what ``auto`` prefers)."""
    from model import registry
    from model.errors import ModelNotFound
    from model.loader import resolve_gguf

    try:
        return str(resolve_gguf(registry.DEFAULT_COMPLETION_MODEL))
    except ModelNotFound:
        return None


def _range(item) -> dict:
    """1-based; the text replaces [line:col, end_line:end_col), which covers the closers after
    the cursor that the completion writes itself (docs/lsp.md, "Item ranges")."""
    return {"line": item.line + 1, "col": item.col + 1, "end_line": item.end_line + 1, "end_col": item.end_col + 1}


def _print_explain(entries) -> None:
    for e in entries:
        tokens = f" ({e.tokens} tokens)" if e.tokens else ""
        print(f"[{e.kind}] {e.source}{tokens}: {e.reason}", file=sys.stderr)
