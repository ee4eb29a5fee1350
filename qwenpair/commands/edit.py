"""``qwenpair edit FILE[:START-END] -m INSTRUCTION [--apply]``: a reviewable rewrite.

Asks the instruct model to rewrite lines START-END (1-based, inclusive; the whole file
without a range) and prints the proposal as a unified diff; warnings (a rewrite that breaks
parsing, fix-ups) go to stderr, and on a terminal so does the model's answer as it is
written. Ctrl-C stops the model and changes nothing. Nothing is written unless ``--apply``
is given, and then only the requested range, atomically, and only if the file did not
change while the model worked.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from qwenpair.commands.chat import add_chat_options, ctrl_c_cancels, open_chat, parse_file_range
from qwenpair.commands.common import read_text, warn
from qwenpair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "edit",
        help="propose a rewrite of FILE[:START-END] as a unified diff (--apply writes it)",
        description="Ask the instruct model to rewrite lines START-END of FILE (1-based, inclusive; "
        "the whole file without a range) as INSTRUCTION says. Prints a unified diff; --apply writes it.",
    )
    p.add_argument("target", metavar="FILE[:START-END]")
    p.add_argument("-m", "--message", required=True, metavar="INSTRUCTION", help="what to change")
    p.add_argument("--apply", action="store_true", help="write the edit to FILE (only the requested lines)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_chat_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from assistant.chat_errors import Interrupted
    from assistant.chat_prompt import split_lines
    from assistant.edit import write_edit

    path, selection = parse_file_range(args.target)
    if not args.message.strip():
        raise UserError("the instruction is empty: say what to change, e.g. -m 'add type hints'")
    text = read_text(path)
    start, end = selection or (0, len(split_lines(text)))
    with open_chat(args, path, {}) as engine:
        if args.show_prompt:
            prompt = engine.edit_prompt(args.message, path=path, text=text, start_line=start, end_line=end)
            for w in prompt.context.warnings:
                warn(w)
            sys.stdout.write(prompt.text)
            return 0
        cancel = threading.Event()
        terminal = sys.stderr.isatty()
        try:
            with ctrl_c_cancels(cancel):
                proposal = engine.edit(args.message, path=path, text=text, start_line=start, end_line=end,
                                       on_text=_Progress(terminal), cancel=cancel)
        except Interrupted as exc:
            print(f"\nqwenpair edit: {exc}", file=sys.stderr)
            return 130
        if terminal:
            sys.stderr.write("\n")
    for w in proposal.warnings:
        warn(w)
    applied = bool(args.apply and proposal.diff)
    if applied:
        write_edit(proposal)
    if args.json:
        json.dump({"path": str(path), "start_line": start + 1, "end_line": end, "diff": proposal.diff,
                   "new_text": proposal.new_text, "warnings": proposal.warnings, "form": proposal.form,
                   "applied": applied}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(proposal.diff)
    if applied:
        print(f"qwenpair: applied to {path} (lines {start + 1}-{end})", file=sys.stderr)
    elif proposal.diff:
        print("qwenpair: not applied; run again with --apply to write it", file=sys.stderr)
    return 0


class _Progress:
    """On a terminal, the model's raw answer on stderr as it is written (stdout gets the diff);
    elsewhere one line when it starts answering."""

    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal
        self.started = False

    def __call__(self, delta: str) -> None:
        if self.terminal:
            sys.stderr.write(delta)
        elif not self.started:
            sys.stderr.write("qwenpair: the model is writing the edit (Ctrl-C stops it)\n")
        self.started = True
        sys.stderr.flush()
