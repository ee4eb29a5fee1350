"""JSON Lines data files (conversations for SFT, preference pairs for DPO), read one way.

What it is: ``json_records``, which yields each non-blank line parsed and shaped by the
caller; a line that is not UTF-8, not JSON or not the expected shape is counted in
``stats["bad_records"]`` and skipped, so one bad record never stops a training run. What it is
not: validation of the shaped records (each trainer checks roles, identical pairs, ...).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from training.errors import DataError

T = TypeVar("T")


def json_records(path: str | Path, what: str, stats: Counter, shape: Callable[[Any], T]) -> Iterator[T]:
    """``shape(record)`` for each record of the JSON Lines file ``path`` (a ``what`` file)."""
    if not Path(path).is_file():
        raise DataError(f"{what} file {path} does not exist")
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                item = shape(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, ValueError, KeyError, TypeError):
                stats["bad_records"] += 1
                continue
            yield item
