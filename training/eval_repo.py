"""``qwenpair eval repo``: does an adapter complete *this* repository better? Before and after.

Positions are held-out spans of the repository (``training.repo_samples``: line, API-call
and block completions, as CrossCodeEval and RepoEval sample them), in files the adapter
never trained on: the held-out split recorded in the adapter's ``meta.json``, or a fresh
split by file. Each position is completed by the real engine (the server's prompt, model
call and post-processing) on the llama.cpp model, first without the adapter, then with it
swapped in (``LlamaCppBackend.set_adapter``, the server's hot-swap), on the same positions.

Metrics per run, overall and per span kind: exact match (after trimming trailing
whitespace), edit similarity (1 - Levenshtein / longer length), syntax-valid rate (the
file with the completion inserted parses with no more errors than the original,
``repo_index.syntax_errors``) and latency percentiles of the whole completion. The report
is written as ``report.json``, a readable ``report.txt`` table and a ``report.png`` chart.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.session import open_session
from model.adapter_meta import read_meta
from repo_index import syntax_errors
from training.errors import DataError
from training.lora_config import SampleConfig
from training.repo_samples import Span, masked_request, pick_spans, source_files, split_files

METRICS = ("exact_match", "edit_similarity", "syntax_valid")


@dataclass(frozen=True)
class EvalConfig:
    positions: int = 60  # held-out positions evaluated, at most (spread over the span kinds)
    samples: SampleConfig = SampleConfig()  # span kinds, split and context budget (from meta.json when known)
    n_ctx: int = 4096
    threads: int | None = None
    time_cap_s: float = 30.0  # per completion: generous, a slow machine must not score zero


@dataclass(frozen=True)
class Position:
    span: Span
    text: str  # the whole original file


def heldout_positions(root: Path, cfg: EvalConfig, heldout_files: list[str] | None) -> list[Position]:
    """Up to ``cfg.positions`` spans from held-out files, round-robin over span kinds."""
    files, _ = source_files(root)
    if heldout_files is None:
        _, heldout_files = split_files(root, sorted(files), cfg.samples) if len(files) > 1 else ([], sorted(files))
    by_kind: dict[str, list[Position]] = {k: [] for k in cfg.samples.kinds}
    for rel in heldout_files:
        if rel not in files:
            continue
        rng = random.Random(f"{cfg.samples.seed}:{rel}")
        for span in pick_spans(rel, files[rel], cfg.samples.kinds, cfg.samples.per_file, rng):
            by_kind[span.kind].append(Position(span, files[rel]))
    picked: list[Position] = []
    while len(picked) < cfg.positions and any(by_kind.values()):
        for kind in cfg.samples.kinds:
            if by_kind[kind] and len(picked) < cfg.positions:
                picked.append(by_kind[kind].pop(0))
    if not picked:
        raise DataError(f"no held-out positions in {root} (held-out files: {', '.join(heldout_files) or 'none'})")
    return picked


def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein(a, b) / max(len): 1.0 for equal strings."""
    if a == b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")).strip()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]

    return {"p50": at(50), "p90": at(90), "p99": at(99)}


def score(position: Position, root: Path, completion: str) -> dict[str, Any]:
    request, target = masked_request(root, position.text, position.span)
    start = position.span.start
    filled = position.text[:start] + completion + position.text[position.span.end :]
    before = syntax_errors(request.path, position.text)
    after = syntax_errors(request.path, filled)
    return {
        "exact_match": float(normalize(completion) == normalize(target)),
        "edit_similarity": edit_similarity(normalize(completion), normalize(target)),
        "syntax_valid": None if before is None or after is None else float(after <= before),
    }


def run_positions(session, root: Path, positions: list[Position], label: str,
                  progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Complete every position with the session's engine; the metrics of one run."""
    rows = []
    for i, pos in enumerate(positions):
        request, _ = masked_request(root, pos.text, pos.span)
        session.engine.cache.clear()  # each position is a fresh request, not a typed-ahead hit
        session.engine.context.forget(request.path)
        t0 = time.perf_counter()
        result = session.engine.complete_sync(request)
        latency = time.perf_counter() - t0
        rows.append({"kind": pos.span.kind, "path": pos.span.path, "latency_ms": latency * 1000.0,
                     "completion": result.text, **score(pos, root, result.text)})
        progress(f"{label}: {i + 1}/{len(positions)}")
    return summarize(rows)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def block(subset: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(subset)}
        for m in METRICS:
            vals = [r[m] for r in subset if r[m] is not None]
            out[m] = sum(vals) / len(vals) if vals else None
        out["latency_ms"] = percentiles([r["latency_ms"] for r in subset])
        return out

    kinds = sorted({r["kind"] for r in rows})
    return {**block(rows), "by_kind": {k: block([r for r in rows if r["kind"] == k]) for k in kinds}, "rows": rows}


def evaluate_repo(root: Path, model: str, adapter: str | None, cfg: EvalConfig,
                  progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """The before (base) and, with ``adapter``, after report on the same held-out positions."""
    from model.backends.llama_cpp import LlamaCppBackend
    from model.loader import resolve_gguf

    root = Path(root).resolve()
    heldout_files = None
    meta = read_meta(adapter) if adapter else None
    if meta is not None:
        hp = meta.hyperparameters
        heldout_files = hp.get("heldout_files")
        if hp.get("samples"):
            known = {k: v for k, v in hp["samples"].items() if k in SampleConfig.__dataclass_fields__}
            known["kinds"] = tuple(known.get("kinds", SampleConfig.kinds))
            cfg = replace(cfg, samples=SampleConfig(**known))
    positions = heldout_positions(root, cfg, heldout_files)
    engine_cfg = replace(cfg.samples.engine_config(), generation_time_cap_s=cfg.time_cap_s,
                         prompt_time_cap_s=cfg.time_cap_s)
    backend = LlamaCppBackend(resolve_gguf(model), n_ctx=cfg.n_ctx, n_threads=cfg.threads)
    session = open_session(root, backend, config=engine_cfg)
    try:
        report: dict[str, Any] = {"repo": str(root), "model": str(model), "adapter": adapter,
                                  "positions": len(positions), "engine": {"context_tokens": cfg.samples.context_tokens}}
        report["before"] = run_positions(session, root, positions, "before", progress)
        if adapter:
            session.engine.set_backend(backend)  # clears the engine's cache and KV bookkeeping
            backend.set_adapter(adapter)
            report["after"] = run_positions(session, root, positions, "after", progress)
            report["delta"] = {m: _delta(report["before"][m], report["after"][m]) for m in METRICS}
    finally:
        session.close()
        backend.close()
    return report


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def table(report: dict[str, Any]) -> str:
    """A readable table: one row per metric, a column per run."""
    runs = [r for r in ("before", "after") if r in report]
    head = f"{'metric':<22}" + "".join(f"{r:>12}" for r in runs) + (f"{'delta':>12}" if "delta" in report else "")
    lines = [f"repo {report['repo']}: {report['positions']} held-out positions, model {report['model']}"
             + (f", adapter {report['adapter']}" if report.get("adapter") else ""), head, "-" * len(head)]

    def fmt(v: Any, pct: bool = True) -> str:
        return f"{'n/a':>12}" if v is None else (f"{v * 100:>11.1f}%" if pct else f"{v:>12.0f}")

    for m in METRICS:
        row = f"{m:<22}" + "".join(fmt(report[r][m]) for r in runs)
        if "delta" in report:
            d = report["delta"][m]
            row += f"{'n/a':>12}" if d is None else f"{d * 100:>+11.1f}%"
        lines.append(row)
    for q in ("p50", "p90", "p99"):
        lines.append(f"{'latency ' + q + ' (ms)':<22}" + "".join(fmt(report[r]["latency_ms"].get(q), False) for r in runs))
    for kind in report["before"]["by_kind"]:
        lines.append(f"{kind + ' exact match':<22}" + "".join(fmt(report[r]["by_kind"][kind]["exact_match"]) for r in runs))
    return "\n".join(lines) + "\n"


def chart(report: dict[str, Any], out: Path) -> Path:
    """A PNG: metrics before/after as grouped bars, latency percentiles beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in ("before", "after") if r in report]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / len(runs)
    for i, run in enumerate(runs):
        vals = [(report[run][m] or 0.0) * 100 for m in METRICS]
        ax1.bar([x + i * width for x in range(len(METRICS))], vals, width, label=run)
        lat = [report[run]["latency_ms"].get(q, 0.0) for q in ("p50", "p90", "p99")]
        ax2.bar([x + i * width for x in range(3)], lat, width, label=run)
    ax1.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(METRICS))], [m.replace("_", " ") for m in METRICS])
    ax1.set_ylabel("%")
    ax1.set_ylim(0, 100)
    ax1.legend()
    ax2.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(3)], ["p50", "p90", "p99"])
    ax2.set_ylabel("latency (ms)")
    fig.suptitle(f"{Path(report['repo']).name}: {report['positions']} held-out positions")
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out


def write_report(report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """report.json (rows included), report.txt (the table) and report.png (the chart)."""
    from training.atomic import write_json, write_text

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "table": out_dir / "report.txt", "chart": out_dir / "report.png"}
    write_json(paths["json"], json.loads(json.dumps(report, default=str)))
    write_text(paths["table"], table(report))
    chart(report, paths["chart"])
    return paths
