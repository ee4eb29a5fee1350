"""``qwenpair serve``: the language server, over stdio (default) or TCP.

Editors start it as a subprocess and speak LSP on stdin/stdout; ``--tcp HOST:PORT`` serves
one client connection on a socket instead (for debugging, or an editor that connects). TCP
listens on loopback only unless ``--allow-remote`` is given, and admits only a client that
presents the token written at start to a 0600 file (docs/lsp.md, docs/security.md).
Logs go to a file (``--log-file``, the config file, else the cache; ``qwenpair.status``
names it) and to the editor, never to stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
    mode.add_argument("--tcp", metavar="HOST:PORT", default=None,
                      help="listen on HOST:PORT for one client (loopback only: 127.0.0.1, [::1], localhost; "
                      "port 0 picks a free one); the client must present the token from the file named on stderr")
    p.add_argument("--allow-remote", action="store_true",
                   help="with --tcp, allow an address other machines can reach (e.g. 0.0.0.0); the token is "
                   "then the only protection and the connection is not encrypted")
    p.add_argument("--token-file", metavar="PATH", type=Path, default=None,
                   help="with --tcp, where to write the token (mode 0600); default "
                   "<cache>/run/tcp-<port>.token")
    p.add_argument("--log-file", metavar="PATH", default=None,
                   help="server log file (wins over log_file in the config file; clients cannot set it)")
    p.set_defaults(handler=run)


def parse_address(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (brackets kept, so the host prints as given)."""
    host, sep, port = value.rpartition(":")
    bad = UserError(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087, [::1]:2087, port 0 for a free one), got {value!r}")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise bad
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise bad
    elif ":" in host:
        raise UserError(f"--tcp: write an IPv6 address in brackets, e.g. [{host}]:{port}; got {value!r}")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    address = parse_address(args.tcp) if args.tcp else None
    if address is None and (args.allow_remote or args.token_file is not None):
        raise UserError("--allow-remote and --token-file only apply with --tcp HOST:PORT")
    from lsp_server.handlers import serve

    return serve(address, allow_remote=args.allow_remote,
                 token_file=args.token_file.expanduser() if args.token_file else None, log_file=args.log_file)
