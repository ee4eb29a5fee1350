"""``qwenpair serve``: the language server, over stdio (default) or TCP.

Editors start it as a subprocess and speak LSP on stdin/stdout; ``--tcp HOST:PORT`` serves
one client connection on a socket instead (for debugging, or an editor that connects).
Logs go to a file (``qwenpair.status`` names it) and to the editor, never to stdout.
"""

from __future__ import annotations

import argparse

from qwenpair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the language server (stdio by default)",
        description="Run the qwenpair language server. Settings come from ~/.config/qwenpair/config.toml "
        "and the editor's initializationOptions (see docs/lsp.md and docs/configuration.md).",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout (the default)")
    mode.add_argument("--tcp", metavar="HOST:PORT", default=None, help="listen on HOST:PORT for one client")
    p.set_defaults(handler=run)


def parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    address = parse_address(args.tcp) if args.tcp else None
    from lsp_server.handlers import serve

    return serve(address)
