"""Benchmark of the workspace index (issue 3 figures), printed as JSON.

Figures, each with its unit, its target and the comparison measured in the same run:

- cold full index: files/s and MB/s, against a raw tree-sitter parse of the same files
  (every indexed file read, and parsed where a grammar exists; one process), each cold
  build paired with its own baseline run; the ratio is per core used (target >= 0.5);
- peak RSS of the indexing process and of its largest worker (target <= 1.5 GB);
- warm restart (persisted store, nothing changed), in a fresh process (target >= 10x cold);
- re-index of one saved ~100 KB file, p50/p95 (target p95 <= 30 ms): saved from the editor
  (the document is open, so its parse tree is reused) and changed on disk by another tool;
- retrieval at a cursor in an open document, p50/p95, on a ~30k-window copy (target p50 <=
  5 ms there) and on the whole tree;
- consistency after a simulated ``git checkout`` of 1,000 files with the watcher running
  (target <= 3 s from the last write until the index matches the disk).

The tree under ``--root`` (default: this Python's standard library directory, which here also
holds its site-packages) is only read; the figures that write work on copies in a temp dir.
``--quick`` indexes a 1,500-file copy instead of the whole tree (a smoke run). Timed figures
run ``--repeat`` times (default 3) and report medians, since the machine's cores are shared;
``--only`` picks parts (cold, save, retrieval, checkout).

    python bench/index_speed.py [--root DIR] [--quick] [--repeat N] [--only PARTS] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parents[1]
#: Workers run at the benchmark's own priority: the product niceness (5) measures how much
#: CPU this shared machine's other tenants leave, not how fast the index is.
BENCH_NICE = 0
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from bench.common import (  # noqa: E402
    machine, median, percentile, proc_cpu_seconds, proc_parent, proc_peak_rss,
)


# -- phases that run in their own process (clean RSS and a real restart) -------------------

def phase_build(root: str, cache: str) -> dict:
    from repo_index import IndexConfig, Workspace

    started = time.perf_counter()
    ws = Workspace.open(root, IndexConfig(cache_dir=Path(cache), worker_nice=BENCH_NICE))
    opened = time.perf_counter()
    cpu_before = time.process_time()
    stats = ws.build()
    built = time.perf_counter()
    main_cpu = time.process_time() - cpu_before
    # Workers are children of multiprocessing's fork server, not ours: read their CPU time
    # and peak RSS from /proc while they are still alive (they idle a minute after a build).
    # The fork server (which imported the extraction modules once for all workers) counts too.
    executor = ws._pool._executor
    worker_cpu, worker_rss = 0.0, 0
    pids = list(executor._processes) if executor is not None else []
    servers = {proc_parent(pid) for pid in pids} - {os.getpid(), 0}
    for pid in pids + sorted(servers):
        worker_cpu += proc_cpu_seconds(pid)
        worker_rss = max(worker_rss, proc_peak_rss(pid))
    info = ws.stats()
    files = [(rel, row.size, row.language) for rel, row in ws.state.files.items()]
    ws.close()
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "seconds": built - started, "open_seconds": opened - started, "build_seconds": built - opened,
        "indexed": stats.files_indexed, "unchanged": stats.files_unchanged, "files": info.files,
        "bytes": sum(size for _, size, _ in files), "symbols": info.symbols, "windows": info.windows,
        "skipped": info.skipped, "notes": info.notes, "loaded_from": info.loaded_from,
        "peak_rss_bytes": self_rss, "peak_worker_rss_bytes": worker_rss,
        "cpu_seconds": main_cpu + worker_cpu, "main_cpu_seconds": main_cpu, "worker_cpu_seconds": worker_cpu,
        "indexed_files": sorted(rel for rel, _, _ in files),
    }


def run_phase(name: str, root: Path, cache: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--root", str(root), "--cache", str(cache)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


# -- figures measured in this process --------------------------------------------------------

def raw_parse(root: Path, rels: list[str]) -> dict:
    """The baseline: the same files as the index holds, each read, and parsed with
    tree-sitter where we have a grammar; one process, nothing else."""
    from repo_index import languages

    parsed, size = 0, 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    for rel in rels:
        data = (root / rel).read_bytes()
        size += len(data)
        spec = languages.language_for(rel)
        if spec is not None:
            languages.parser_for(spec.grammar).parse(data)
            parsed += 1
    seconds = time.perf_counter() - started
    return {"files": len(rels), "parsed": parsed, "bytes": size, "seconds": seconds,
            "cpu_seconds": time.process_time() - cpu_started}


def copy_subset(src: Path, dst: Path, count: int, seed: int = 3) -> list[str]:
    from repo_index.languages import language_for
    from repo_index.rules import PathRules

    entries = [e for e in PathRules(src).scan() if language_for(e.rel) and 2_000 < e.size < 200_000]
    random.Random(seed).shuffle(entries)
    chosen = sorted(entries[:count], key=lambda e: e.rel)
    for e in chosen:
        target = dst / e.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / e.rel, target)
    return [e.rel for e in chosen]


def bench_save(src: Path, work: Path) -> dict:
    """Re-index one saved ~100 KB file in a workspace of 1,000 others."""
    from repo_index import IndexConfig, Workspace
    from repo_index.languages import language_for
    from repo_index.rules import PathRules

    copy_subset(src, work, 1000)
    candidates = sorted((abs(e.size - 100_000), e.rel) for e in PathRules(src).scan()
                        if e.rel.endswith(".py") and language_for(e.rel))
    big_rel = candidates[0][1]
    big = work / "saved" / Path(big_rel).name
    big.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / big_rel, big)
    original = big.read_text(encoding="utf-8", errors="replace")
    results = {"file": big_rel, "bytes": len(original.encode())}
    with Workspace.open(work, IndexConfig(cache_dir=work.parent / "cache-save")) as ws:
        ws.build()
        for mode in ("editor", "disk"):
            times = []
            for i in range(40):
                # A realistic save: one line edited in the middle of the file.
                lines = original.split("\n")
                lines[len(lines) // 2 + i] += f"  # {mode} edit {i}"
                text = "\n".join(lines)
                if mode == "editor":
                    ws.set_overlay(big, text)  # didChange came before the save
                big.write_text(text, encoding="utf-8")
                started = time.perf_counter()
                stats = ws.refresh([big])
                times.append(time.perf_counter() - started)
                assert stats.files_indexed == 1
            ws.clear_overlay(big)
            times = times[5:]  # the first saves warm caches (parser, SQLite pages)
            results[mode] = {"samples": len(times), "p50_ms": 1000 * median(times),
                             "p95_ms": 1000 * percentile(times, 95)}
    return results


def bench_retrieval(root: Path, cache: Path, indexed: list[str]) -> dict:
    """Keystroke-path retrieval in an open document, on the full persisted index."""
    from repo_index import IndexConfig, Workspace

    rng = random.Random(11)
    python_files = [rel for rel in indexed if rel.endswith(".py")]
    sample = rng.sample(python_files, min(60, len(python_files)))
    times: list[float] = []
    counts: list[int] = []
    with Workspace.open(root, IndexConfig(cache_dir=cache)) as ws:
        windows = ws.stats().windows
        for rel in sample:
            text = (root / rel).read_text(encoding="utf-8", errors="replace")
            lines = text.split("\n")
            if len(lines) < 5:
                continue
            ws.set_overlay(rel, text)
            ws.retrieve(rel, text, 0, 0)  # didOpen: the first request extracts the document
            for _ in range(5):
                line = rng.randrange(len(lines))
                col = rng.randrange(len(lines[line]) + 1)
                started = time.perf_counter()
                snippets = ws.retrieve(rel, text, line, col)
                times.append(time.perf_counter() - started)
                counts.append(len(snippets))
            ws.clear_overlay(rel)
    return {"windows": windows, "queries": len(times), "p50_ms": 1000 * median(times),
            "p95_ms": 1000 * percentile(times, 95), "mean_snippets": statistics.mean(counts)}


def bench_retrieval_small(src: Path, work: Path, files: int = 1000) -> dict:
    """Retrieval on a workspace of about 30k windows (the issue's figure is stated there)."""
    from repo_index import IndexConfig, Workspace

    rels = copy_subset(src, work, files, seed=7)
    cache = work.parent / "cache-small"
    with Workspace.open(work, IndexConfig(cache_dir=cache, worker_nice=BENCH_NICE)) as ws:
        ws.build()
    return bench_retrieval(work, cache, rels)


def bench_checkout(src: Path, work: Path) -> dict:
    """1,000 files rewritten at once (plus .git/HEAD), the watcher running; time until the
    index matches the disk."""
    from repo_index import IndexConfig, Workspace
    from repo_index.rules import PathRules

    rels = copy_subset(src, work, 3000, seed=5)
    (work / ".git").mkdir()
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    rng = random.Random(2)
    changed = rng.sample(rels, 1000)
    donors = rng.sample(rels, 1000)
    contents = {rel: (work / donor).read_bytes() + b"\n# checked out\n" for rel, donor in zip(changed, donors)}
    with Workspace.open(work, IndexConfig(cache_dir=work.parent / "cache-checkout", worker_nice=BENCH_NICE)) as ws:
        ws.build()
        ws.start_watching()
        time.sleep(0.5)
        cpu_before = _index_cpu(ws)
        for rel, data in contents.items():  # what git checkout does: write files, then HEAD
            (work / rel).write_bytes(data)
        (work / ".git" / "HEAD").write_text("ref: refs/heads/other\n")
        written = time.perf_counter()
        # What the index should hold once it has caught up: allowed files whose content is
        # usable too. Computed once (the disk does not change any more); polling then only
        # reads the index, so the measurement does not compete with the indexer for CPU.
        disk = {}
        for path in PathRules(work).walk(sniff=True):
            st = path.stat()
            disk[str(path.relative_to(work))] = (st.st_size, st.st_mtime_ns)
        deadline = written + 30
        # The index is copied and compared only after it committed something (a generation
        # bump), or every half second: copying 3,000 rows 50 times a second took a good share
        # of a core, and the state lock, from the indexer being measured.
        seen_generation, compared_at, index = -1, 0.0, {}
        while True:
            now = time.perf_counter()
            if ws.state.generation != seen_generation or now - compared_at > 0.5:
                with ws.state.lock:
                    seen_generation = ws.state.generation
                    index = {rel: (row.size, row.mtime_ns) for rel, row in ws.state.files.items()}
                compared_at = now
                if disk == index:
                    break
            if now > deadline:
                break
            time.sleep(0.02)
        consistent = time.perf_counter() - written
        # CPU the index used meanwhile (this process, with the watcher, and the workers): on
        # a shared machine, cpu / (seconds x cores) says how much of the cores it was given.
        cpu = _index_cpu(ws) - cpu_before
        ok = disk == index
        if not ok:
            wrong = sorted(set(disk.items()) ^ set(index.items()))
            print(f"checkout: {len(wrong)} mismatches, e.g. {wrong[:4]}", file=sys.stderr)

        batches = ws._watcher.batches if ws._watcher else 0
    return {"files_changed": len(changed), "workspace_files": len(rels), "seconds": consistent,
            "consistent": ok, "watch_batches": batches, "index_cpu_seconds": cpu,
            "cpu_share": cpu / (consistent * len(os.sched_getaffinity(0)))}


def _index_cpu(ws) -> float:
    executor = ws._pool._executor
    pids = list(executor._processes) if executor is not None else []
    return time.process_time() + sum(proc_cpu_seconds(pid) for pid in pids)


def index_machine() -> dict:
    """``bench.common.machine`` plus what the index's speed depends on."""
    import numpy
    import tree_sitter

    return {
        **machine(), "cores": len(os.sched_getaffinity(0)), "load_average_at_start": os.getloadavg(),
        "tree_sitter": getattr(tree_sitter, "__version__", "?"), "numpy": numpy.__version__,
    }


PARTS = ("cold", "save", "retrieval", "checkout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(sysconfig.get_paths()["stdlib"]))
    parser.add_argument("--quick", action="store_true", help="a 1,500-file copy instead of the whole tree")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed figure; medians are reported")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase_build(str(args.root), args.cache)))
        return
    parts = set(args.only.split(","))
    info = index_machine()
    figures: list[dict] = []
    details: dict = {"repeat": args.repeat, "worker_nice": BENCH_NICE}
    tree: dict = {"root": str(args.root), "quick": args.quick}
    src = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="qwenpair-bench-") as tmp:
        tmp_path = Path(tmp)
        root = src
        if args.quick:
            root = tmp_path / "quick"
            copy_subset(src, root, 1500)
        if "cold" in parts or "retrieval" in parts:
            cold_figures, cache, indexed = bench_cold(root, tmp_path, args.repeat, info["cores"], tree, details)
            figures += cold_figures if "cold" in parts else []
        if "save" in parts:
            save = details["save"] = bench_save(src, tmp_path / "save")
            figures += [
                _figure("re-index one ~100 KB file saved from the editor p50", save["editor"]["p50_ms"], "ms", None),
                _figure("re-index one ~100 KB file saved from the editor p95", save["editor"]["p95_ms"], "ms", ("<=", 30)),
                _figure("re-index one ~100 KB file changed on disk (not open) p50", save["disk"]["p50_ms"], "ms", None),
                _figure("re-index one ~100 KB file changed on disk (not open) p95", save["disk"]["p95_ms"], "ms",
                        ("<=", 30)),
            ]
        if "retrieval" in parts:
            retrieval = details["retrieval"] = bench_retrieval(root, cache, indexed)
            small = details["retrieval_small"] = bench_retrieval_small(src, tmp_path / "small")
            figures += [
                _figure(f"retrieval p50, {small['windows']} windows", small["p50_ms"], "ms", ("<=", 5)),
                _figure(f"retrieval p95, {small['windows']} windows", small["p95_ms"], "ms", None),
                _figure(f"retrieval p50, whole tree ({retrieval['windows']} windows)", retrieval["p50_ms"], "ms", None),
                _figure(f"retrieval p95, whole tree ({retrieval['windows']} windows)", retrieval["p95_ms"], "ms", None),
            ]
        if "checkout" in parts:
            runs = [bench_checkout(src, tmp_path / f"checkout-{i}") for i in range(args.repeat)]
            details["checkout"] = runs
            seconds = [run["seconds"] if run["consistent"] else float("inf") for run in runs]
            figures.append(_figure("index consistent after a 1,000-file checkout (median)",
                                   median(seconds), "s", ("<=", 3)))
            figures.append(_figure("checkout: share of the cores the index was given (median)",
                                   median([run["cpu_share"] for run in runs]), "ratio", None))
    report = {"benchmark": "repo_index/index_speed", "machine": info, "tree": tree, "figures": figures,
              "details": details}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def bench_cold(root: Path, tmp_path: Path, repeat: int, cores: int, tree: dict, details: dict):
    """Cold builds, each next to a raw parse of the same files (the ratio of a pair is one
    same-run comparison; the figure is their median), then warm restarts of the last store.
    The tree is read just before each side, so neither pays for a cold page cache: this
    machine's kernel reclaims idle page cache within tens of seconds (DAMON), which once
    left the index to read a partly evicted tree and the raw parse the one it had just read."""
    colds, raws, caches = [], [], []
    indexed: list[str] = []
    for i in range(repeat):
        cache = tmp_path / f"cache-{i}"
        _read_tree(root)
        cold = run_phase("build", root, cache)
        indexed = cold.pop("indexed_files")
        _read_tree(root)
        raws.append(raw_parse(root, indexed))
        colds.append(cold)
        caches.append(cache)
    warms = []
    for _ in range(repeat):
        warm = run_phase("build", root, caches[-1])
        warm.pop("indexed_files")
        warms.append(warm)
    for cache in caches[:-1]:
        shutil.rmtree(cache, ignore_errors=True)
    med = statistics.median
    # Per core used: the pool runs one worker per core of this process's affinity (the
    # parent's own work shares those cores); a pair's ratio is raw seconds over cold
    # seconds for the same bytes, divided by those cores.
    per_core = [r["seconds"] / c["build_seconds"] / cores for c, r in zip(colds, raws)]
    # The same comparison in CPU time (parent, workers and their fork server): what the
    # ratio per core would be on cores that were ours alone.
    cpu_ratio = [r["cpu_seconds"] / c["cpu_seconds"] for c, r in zip(colds, raws)]
    last = colds[-1]
    tree.update(files=last["files"], bytes=last["bytes"], parsed_files=raws[-1]["parsed"],
                symbols=last["symbols"], windows=last["windows"], skipped=last["skipped"], notes=last["notes"])
    details.update(cold=colds, raw_parse=raws, warm=warms, cores=cores)
    build_s = med(c["build_seconds"] for c in colds)
    raw_s = med(r["seconds"] for r in raws)
    figures = [
        _figure("cold index throughput (median)", last["files"] / build_s, "files/s", None),
        _figure("cold index throughput (bytes, median)", last["bytes"] / 1e6 / build_s, "MB/s", None),
        _figure("raw read + tree-sitter parse of the same files, one core (median)", last["bytes"] / 1e6 / raw_s,
                "MB/s", None),
        _figure("cold index vs raw parse, per core used (median of pairs)", med(per_core), "ratio", (">=", 0.5)),
        _figure("cold index vs raw parse, CPU time (median of pairs)", med(cpu_ratio), "ratio", None),
        _figure("peak RSS, indexing process (max)", max(c["peak_rss_bytes"] for c in colds) / 2**20, "MiB",
                ("<=", 1536)),
        _figure("peak RSS, largest worker (max)", max(c["peak_worker_rss_bytes"] for c in colds) / 2**20, "MiB",
                ("<=", 1536)),
        _figure("warm restart (median)", med(w["seconds"] for w in warms), "s", None),
        _figure("cold / warm restart (medians)", med(c["seconds"] for c in colds) / med(w["seconds"] for w in warms),
                "ratio", (">=", 10)),
    ]
    # How much CPU each side was given (1.0: all of its cores): below that, other tenants of
    # the machine took the rest during the measurement.
    details["pairs"] = [{"per_core": round(p, 3), "cpu_ratio": round(q, 3),
                         "cold_cpu_share": round(c["cpu_seconds"] / c["build_seconds"] / cores, 3),
                         "raw_cpu_share": round(r["cpu_seconds"] / r["seconds"], 3)}
                        for p, q, c, r in zip(per_core, cpu_ratio, colds, raws)]
    return figures, caches[-1], indexed


def _read_tree(root: Path) -> None:
    from repo_index.rules import PathRules

    for entry in PathRules(root).scan():
        try:
            (root / entry.rel).read_bytes()
        except OSError:
            pass


def _figure(name: str, value: float, unit: str, target: tuple[str, float] | None) -> dict:
    figure = {"figure": name, "value": round(value, 3), "unit": unit}
    if target is not None:
        op, bound = target
        figure["target"] = f"{op} {bound}"
        figure["ok"] = value >= bound if op == ">=" else value <= bound
    return figure


if __name__ == "__main__":
    main()
