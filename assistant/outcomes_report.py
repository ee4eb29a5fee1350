"""The figures of ``qwenpair stats`` and of ``qwenpair.status``, from the outcome store's rows.

``figures(rows)`` gives, for all suggestions and by kind, language, model and adapter: how many
were shown and how each ended, the acceptance rate, the retained-character rates at 30 s and
120 s, the reversal rate and the latency p50/p95 (docs/stats.md, "The figures"). ``text``
lays them out for a terminal; ``parse_since`` reads ``--since`` (``7d``, ``12h``, ``2026-05-01``).
Pure functions over plain rows: no database, no clock unless given.
"""

from __future__ import annotations

import re
import statistics
import time
from datetime import datetime
from typing import Any

from assistant.outcomes import OUTCOMES, RETENTION_S

GROUPS = ("kind", "language", "model", "adapter")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, now: float | None = None) -> float:
    """Seconds since the epoch for ``7d`` / ``12h`` / ``30m`` / ``2w`` ago, or a date
    (``YYYY-MM-DD``, local midnight); ``ValueError`` says what is accepted."""
    now = time.time() if now is None else now
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", value or "")
    if found:
        return now - float(found.group(1)) * _UNITS[found.group(2)]
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").timestamp()
    except ValueError:
        raise ValueError(f"--since {value!r}: expected a duration like 7d, 12h, 30m, 2w or a date YYYY-MM-DD") from None


def start_of_day(now: float | None = None) -> float:
    """Local midnight of today."""
    day = datetime.fromtimestamp(time.time() if now is None else now)
    return day.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _rate(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _quantile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 1)


def group_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one group of rows."""
    counts = {o: sum(1 for r in rows if r["outcome"] == o) for o in OUTCOMES}
    pending = sum(1 for r in rows if r["outcome"] is None)
    decided = len(rows) - pending
    out: dict[str, Any] = {"shown": len(rows), **counts, "pending": pending,
                           "acceptance_rate": _rate(counts["accepted"] + counts["partial"], decided),
                           "accepted_chars": sum(r["accepted_chars"] or 0 for r in rows
                                                 if r["outcome"] in ("accepted", "partial"))}
    for after in RETENTION_S:
        column = f"retained_{after}"
        measured = [r for r in rows if r[column] is not None and r["accepted_chars"]]
        out[f"retained_rate_{after}s"] = _rate(sum(r[column] for r in measured),
                                               sum(r["accepted_chars"] for r in measured))
    judged = [r["reversed"] for r in rows if r["reversed"] is not None]
    out["reversal_rate"] = _rate(sum(judged), len(judged))
    latencies = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    out["latency_p50_ms"], out["latency_p95_ms"] = _quantile(latencies, 50), _quantile(latencies, 95)
    return out


def figures(rows: list[dict[str, Any]], since: float | None = None) -> dict[str, Any]:
    """All suggestions' figures and each group's (``GROUPS``); an empty adapter is "none"."""
    report: dict[str, Any] = {"since": since, "all": group_figures(rows)}
    for key in GROUPS:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r[key] or "none", []).append(r)
        report[f"by_{key}"] = {name: group_figures(members) for name, members in sorted(groups.items())}
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


_HEADER = ("", "shown", "accepted", "partial", "dismissed", "typed over", "ignored", "acceptance",
           "retained 30s", "retained 120s", "reversals", "p50 ms", "p95 ms")


def _line(name: str, f: dict[str, Any]) -> list[str]:
    return [name, str(f["shown"]), str(f["accepted"]), str(f["partial"]), str(f["dismissed"]), str(f["typed_over"]),
            str(f["ignored"]), _pct(f["acceptance_rate"]), _pct(f["retained_rate_30s"]),
            _pct(f["retained_rate_120s"]), _pct(f["reversal_rate"]), _ms(f["latency_p50_ms"]),
            _ms(f["latency_p95_ms"])]


def text(report: dict[str, Any]) -> str:
    """The report as aligned tables, one per grouping."""
    since = report.get("since")
    title = ("suggestions since " + datetime.fromtimestamp(since).strftime("%Y-%m-%d %H:%M")) if since else "all suggestions"
    if not report["all"]["shown"]:
        return f"{title}: none recorded\n"
    table = [list(_HEADER), _line("all", report["all"])]
    for key in GROUPS:
        table.append([f"by {key}"] + [""] * (len(_HEADER) - 1))
        table += [_line("  " + name, f) for name, f in report[f"by_{key}"].items()]
    widths = [max(len(row[i]) for row in table) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)).rstrip()
             for row in table]
    return f"{title}\n" + "\n".join(lines) + "\n"
