"""The ``qwenpair`` command line: the outermost layer, composing the packages below it.

Each subcommand lives in ``qwenpair/commands/<name>.py`` with a ``register(subparsers)``
function; heavy work is imported inside the handlers so ``qwenpair --help`` stays fast.
"""

__version__ = "0.1.0"
