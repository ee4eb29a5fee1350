"""``python -m qwenpair`` is the ``qwenpair`` command."""

from qwenpair.cli import main

raise SystemExit(main())
