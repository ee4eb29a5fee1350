"""The ``qwenpair`` command line: the outermost layer, composing the packages below it.

Each subcommand lives in ``qwenpair/commands/<name>.py`` (or a package, as ``train/``) with a
``register(subparsers)`` function; heavy work is imported inside the handlers so
``qwenpair --help`` stays fast. Imports every other package; nothing imports it.
"""

__version__ = "0.1.0"
