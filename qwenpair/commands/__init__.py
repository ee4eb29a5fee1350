"""One module per subcommand; each has ``register(subparsers)`` (see qwenpair/cli.py)."""
