"""``qwenpair chat [QUESTION] [--file F[:START-END]]``: ask the instruct model, streamed.

With QUESTION it answers once; without, it runs a REPL (``/reset`` forgets the conversation,
``/exit`` or Ctrl-D leaves). Ctrl-C stops the answer being generated and keeps the session:
the partial answer stays in the conversation. The workspace (``--root``, else the file's git
repository) is indexed so that the retriever completion uses adds repository snippets, and
files under ignore or secret rules are refused with the reason. Shared with ``edit``:
resolving the instruct model and parsing ``FILE[:START-END]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qwenpair.commands.common import add_model_options, read_text, warn
from qwenpair.errors import UserError, is_user_facing

_RANGE = re.compile(r"^(?P<start>\d+)(?:-(?P<end>\d+))?$")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chat",
        help="ask the instruct model (one question, or a REPL without QUESTION)",
        description="Ask the instruct model about your code. The answer streams; Ctrl-C stops it "
        "and keeps the session. Without QUESTION: an interactive session (/reset, /exit).",
    )
    p.add_argument("question", nargs="?", metavar="QUESTION", help="the question; without it, an interactive session")
    p.add_argument("--file", metavar="F[:START-END]", help="a file (and 1-based lines) to ask about")
    add_chat_options(p)
    p.add_argument("--max-tokens", type=int, default=None, help="most tokens in an answer (default 1024)")
    p.add_argument("--json", action="store_true", help="machine-readable output (one-shot only, not streamed)")
    p.set_defaults(handler=run)


def add_chat_options(p: argparse.ArgumentParser) -> None:
    add_model_options(p, default=None)
    p.add_argument("--root", type=Path, default=None, help="workspace root (default: the file's git repository)")
    p.add_argument("--context-tokens", type=int, default=None, help="prompt token budget (default 6144, capped by --n-ctx)")
    p.add_argument("--show-prompt", action="store_true", help="print the exact prompt and stop (needs no model)")


def parse_file_range(value: str) -> tuple[Path, tuple[int, int] | None]:
    """``FILE[:START[-END]]`` (1-based, inclusive) -> (path, 0-based end-exclusive lines)."""
    file, _, tail = value.rpartition(":")
    match = _RANGE.match(tail) if file else None
    if match is None:
        file, selection = value, None
    else:
        start = int(match["start"])
        end = int(match["end"] or start)
        if start < 1 or end < start:
            raise UserError(f"expected FILE:START-END with 1 <= START <= END, got {value!r}")
        selection = (start - 1, end)
    path = Path(file).expanduser()
    if not path.is_file():
        raise UserError(f"{path} is not a file")
    # absolute, but not resolved: a symlink is judged by the policy as the link it is
    # (its name and its real target), not as whatever it points to
    return Path(os.path.abspath(path)), selection


def resolve_chat_model(name: str | None) -> str:
    """The instruct model to load; 'auto' falls back to the tiny test model, loudly."""
    from model import registry
    from model.errors import ModelNotFound
    from model.loader import resolve_gguf

    if name not in (None, "auto"):
        spec = registry.REGISTRY.get(name.strip().lower())
        if spec is not None and not spec.instruct:
            warn(f"{spec.name} is a base (completion) model; chat and edit want an instruct model such as "
                 f"{spec.name}-instruct")
        return name
    try:
        return str(resolve_gguf(registry.DEFAULT_CHAT_MODEL))
    except ModelNotFound:
        if name is None:
            raise ModelNotFound(
                f"the instruct model {registry.DEFAULT_CHAT_MODEL} is not downloaded. Run `qwenpair model pull "
                f"{registry.DEFAULT_CHAT_MODEL}`, or pass --model with a .gguf path (--model auto uses the "
                "tiny test model)"
            ) from None
    from model.make_test import cached_test_model

    warn(
        f"{registry.DEFAULT_CHAT_MODEL} is not downloaded (`qwenpair model pull {registry.DEFAULT_CHAT_MODEL}`), "
        "so this uses the tiny test model the project builds itself. Its weights are random: the "
        "answer below is meaningless text. It shows the pipeline works, not what a real model would say."
    )
    return str(cached_test_model("tiny").gguf)


@contextmanager
def open_chat(args: argparse.Namespace, path: Path | None, config_overrides: dict) -> Iterator:
    """A ``ChatEngine`` on the requested model (a tokenizer only with --show-prompt), with the
    workspace index when a file is given; everything is closed on exit."""
    from assistant.chat import ChatEngine
    from assistant.chat_prompt import ChatConfig
    from assistant.retrieval import PromptPolicy
    from repo_index.policy import safe_root

    overrides = dict(config_overrides)
    if args.context_tokens is not None:
        overrides["context_tokens"] = args.context_tokens
    config, messages = ChatConfig.from_mapping(overrides)
    for m in messages:
        warn(m)
    backend = _backend(args)
    session = None
    try:
        if path is not None:
            from assistant.session import open_session

            from qwenpair.commands.complete import workspace_root

            session = open_session(safe_root(args.root or workspace_root(path)), backend)
            engine = ChatEngine(backend, workspace_root=session.root, retriever=session.retriever,
                                path_policy=session.policy, config=config)
        else:
            root = safe_root(args.root or Path.cwd())
            engine = ChatEngine(backend, workspace_root=root, path_policy=PromptPolicy(root), config=config)
        yield engine
    finally:
        if session is not None:
            session.close()
        backend.close()


def _backend(args: argparse.Namespace):
    if args.show_prompt:
        from model.backends.tokenizer_only import TokenizerOnlyBackend

        return TokenizerOnlyBackend(args.n_ctx)
    from model.loader import BackendConfig, load_backend

    return load_backend(BackendConfig(model=resolve_chat_model(args.model), n_ctx=args.n_ctx,
                                      n_threads=args.threads, n_gpu_layers=args.gpu_layers, adapter=args.adapter))


@contextmanager
def ctrl_c_cancels(cancel: threading.Event) -> Iterator[None]:
    """While generating, Ctrl-C sets ``cancel`` (the model stops between tokens); a second
    Ctrl-C before it stops interrupts the program."""
    def handler(signum, frame) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace) -> int:
    path, selection = parse_file_range(args.file) if args.file else (None, None)
    overrides = {"max_answer_tokens": args.max_tokens} if args.max_tokens is not None else {}
    if args.question is not None and not args.question.strip():
        raise UserError("the question is empty: type what you want to know")
    with open_chat(args, path, overrides) as engine:
        if args.question is None:
            if args.show_prompt or args.json:
                raise UserError("--show-prompt and --json need a QUESTION")
            return _repl(engine, path, selection)

        def ask(on_text: Callable[[str], None] | None, cancel: threading.Event | None):
            text = read_text(path) if path is not None else None
            return engine.ask(args.question, path=path, text=text, selection=selection, on_text=on_text, cancel=cancel)

        if args.show_prompt:
            text = read_text(path) if path is not None else None
            prompt = engine.ask_prompt(args.question, path=path, text=text, selection=selection)
            for w in prompt.context.warnings:
                warn(w)
            sys.stdout.write(prompt.text)
            return 0
        if args.json:
            answer = ask(None, None)
            json.dump({"text": answer.text, "stop_reason": answer.stop_reason, "warnings": answer.warnings,
                       "prompt_tokens": answer.prompt_tokens, "generated_tokens": answer.generated_tokens,
                       "model": engine.backend.name, "prompt_format": engine.format.source,
                       "context": [p.__dict__ for p in answer.context]}, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        answer = _streamed(ask)
        return 130 if answer.stop_reason == "cancelled" else 0


def _streamed(call):
    """Run ``call(on_text, cancel)`` printing the text as it comes; Ctrl-C cancels it."""
    cancel = threading.Event()

    def show(delta: str) -> None:
        sys.stdout.write(delta)
        sys.stdout.flush()

    with ctrl_c_cancels(cancel):
        answer = call(show, cancel)
    sys.stdout.write("\n")
    sys.stdout.flush()
    for w in answer.warnings:
        warn(w)
    if answer.stop_reason == "cancelled":
        print("[interrupted]", file=sys.stderr, flush=True)
    return answer


def _repl(engine, path: Path | None, selection: tuple[int, int] | None) -> int:
    from model.prompt import ChatMessage

    about = f" about {path.name}" if path is not None else ""
    print(f"qwenpair chat{about} with {engine.backend.name}. Ctrl-C stops an answer; /reset forgets "
          "the conversation; /exit or Ctrl-D leaves.", file=sys.stderr, flush=True)
    history: list[ChatMessage] = []
    while True:
        try:
            question = _read_line("you> ")
        except KeyboardInterrupt:
            print(file=sys.stderr)
            continue
        if question is None or question.strip() in ("/exit", "/quit"):
            return 0
        if not question.strip():
            continue
        if question.strip() == "/reset":
            history.clear()
            print("(conversation forgotten)", file=sys.stderr, flush=True)
            continue
        try:
            text = read_text(path) if path is not None else None
            answer = _streamed(lambda on_text, cancel: engine.ask(
                question, history=history, path=path, text=text, selection=selection, on_text=on_text, cancel=cancel))
        except Exception as exc:  # a refusal or a file gone: say so and keep the session
            if not is_user_facing(exc):
                raise
            print(f"qwenpair chat: {exc}", file=sys.stderr, flush=True)
            continue
        history += [ChatMessage("user", answer.sent), ChatMessage("assistant", answer.text)]


def _read_line(prompt: str) -> str | None:
    """One line from the user; None at end of input."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            return None
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None
