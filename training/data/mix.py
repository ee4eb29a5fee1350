"""Mixing sources by ratio (Qwen2.5-Coder: code:text:math = 7:2:1), streaming.

The mixer pulls from one document stream per source and always takes the next document
from the source furthest behind its share, measured in characters (stride scheduling), so
the mix holds at every point of the stream, not just at the end. When a source runs out it
either stops the whole mix (``until="first"``: the ratio stays exact, the rest of the
bigger sources is left unused, and the report says so) or the others go on (``"all"``).
A source with a ratio but no documents at all is left out of the mix with a warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from training.data.sources import Document
from training.errors import DataError

DEFAULT_RATIOS = {"code": 7.0, "text": 2.0, "math": 1.0}


def parse_ratios(spec: str) -> dict[str, float]:
    """``code=7,text=2,math=1`` -> {"code": 7.0, ...}."""
    ratios: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, value = part.partition("=")
        try:
            ratios[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or ratios.get(name.strip(), -1) < 0:
            raise DataError(f"bad mix {spec!r}: write it like code=7,text=2,math=1")
    return ratios


@dataclass
class MixReport:
    docs: Counter = field(default_factory=Counter)
    chars: Counter = field(default_factory=Counter)
    exhausted: list[str] = field(default_factory=list)
    stopped_by: str | None = None
    left_out: list[str] = field(default_factory=list)

    def shares(self) -> dict[str, float]:
        total = sum(self.chars.values()) or 1
        return {k: round(v / total, 4) for k, v in sorted(self.chars.items())}


def mix(streams: dict[str, Iterator[Document]], ratios: dict[str, float], *, until: str = "first",
        report: MixReport | None = None) -> Iterator[Document]:
    """Interleave ``streams`` by ``ratios`` (characters); see the module docstring."""
    if until not in ("first", "all"):
        raise DataError(f"--mix-until must be 'first' or 'all', not {until!r}")
    report = report if report is not None else MixReport()
    live: dict[str, Iterator[Document]] = {}
    heads: dict[str, Document] = {}
    for kind, stream in streams.items():
        weight = ratios.get(kind, 0.0)
        if weight <= 0:
            report.left_out.append(kind)
            continue
        first = next(stream, None)
        if first is None:  # nothing in it at all: leave it out rather than stop at once
            report.left_out.append(kind)
            continue
        live[kind], heads[kind] = stream, first
    while live:
        kind = min(live, key=lambda k: (report.chars[k] / ratios[k], k))
        doc = heads[kind]
        report.docs[kind] += 1
        report.chars[kind] += max(1, len(doc.text))
        yield doc
        nxt = next(live[kind], None)
        if nxt is None:
            report.exhausted.append(kind)
            del live[kind], heads[kind]
            if until == "first" and live:
                report.stopped_by = kind
                return
        else:
            heads[kind] = nxt
