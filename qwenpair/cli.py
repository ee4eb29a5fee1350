"""Entry point of the ``qwenpair`` command (docs/design.md §8).

Builds the argument parser from the subcommand modules, runs the chosen handler and turns
the errors users can fix (``UserError``) into one clear line on stderr with exit code 2,
instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from contextlib import nullcontext

from model.offline import offline

from qwenpair import __version__
from qwenpair.errors import is_user_facing

#: Subcommand modules under qwenpair.commands, in --help order.
COMMANDS = ("complete", "index", "model", "serve", "chat", "edit", "train", "eval", "stats", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwenpair",
        description="A private, local code assistant built on Qwen2.5-Coder.",
    )
    parser.add_argument("--version", action="version", version=f"qwenpair {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"qwenpair.commands.{name}")
        except ImportError as exc:
            # Every listed command ships with the package: one that does not import is a
            # broken installation, and skipping it would only hide that from --help.
            raise ImportError(
                f"qwenpair: the {name!r} command could not be loaded ({exc}); the installation "
                "is incomplete or damaged: re-run `bash setup.sh`, then `qwenpair doctor`"
            ) from exc
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0 if args.command is None else 2
    # Only the download steps (`model pull`, `model vocab`) set uses_network; every other
    # command runs with the network switched off (model.offline, docs/security.md).
    network = nullcontext() if getattr(args, "uses_network", False) else offline()
    try:
        with network:
            return int(args.handler(args) or 0)
    except Exception as exc:
        if not is_user_facing(exc):
            raise
        print(f"qwenpair {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qwenpair {args.command}: interrupted", file=sys.stderr)
        return 130
