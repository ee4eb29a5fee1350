"""Context recall: how often the prompt holds the definition the cursor is calling (issue 16).

For each repository: every cross-file call site ``name(`` (ground truth from the language's
own parser with imports resolved: ``bench/recall_python.py``, ``bench/recall_js.py``), a
seeded sample of at most ``--sites`` of them. At each, the document is what an editor holds
just after typing ``name(`` (the rest of that line not written yet, the lines after kept),
the cursor after the ``(``, and the engine builds the prompt the server would send at steady
state: ``open_session`` (the real workspace index, the source policy), the real Qwen2.5
tokenizer counting (``TokenizerOnlyBackend``), the default budget warm (the latency target
does not shrink it), the document open as an overlay. A site is recalled when the callee's
``def``/``class``/``function`` line is in the prompt, in the part of the repository context
headed by the defining file's path.

The CrossCodeEval BM25 recipe runs on the same sites in the same run (``recall_bm25``),
and the ratio engine/BM25 is reported. Ranking cost: the engine's whole context building per
request (``build_prompt``: retrieval, token counting, packing) and the retrieval alone, p50
and p95, in wall-clock time and in the thread's CPU time (``*_cpu``: what a request costs
on a machine where other work competes for the cores), and the same on a large index of
~30k windows (the standard library, pip and setuptools by default).

Each repository is copied (its source files only) into a temporary directory, and the index
lives in a temporary ``QWENPAIR_CACHE_DIR``: nothing of the user's cache or of this project's
ignore rules is involved. The repositories must be given as directories on this machine.

    .venv/bin/python bench/context_recall.py [--repo DIR ...] [--sites 300] [--seed 0]
        [--large DIR ... | --no-large] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import recall_bm25  # noqa: E402
from bench.common import machine, percentile  # noqa: E402
from bench.recall_sites import Site, editor_text, sample, source_files  # noqa: E402

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
NODE_MODULES = ROOT / "editors" / "vscode" / "node_modules"
PYTHON_REPOS = ["requests", "click", "jinja2", "urllib3"]
JS_REPOS = ["ajv/lib", "eslint/lib", "semver", "markdown-it/lib"]
LARGE_WINDOWS = 30_000
LARGE_SITES = 100


def default_repos(quick: bool) -> list[Path]:
    py = [SITE_PACKAGES / n for n in PYTHON_REPOS]
    js = [NODE_MODULES / n for n in JS_REPOS]
    return [py[0], js[2]] if quick else py + js


def language_of(root: Path) -> str:
    """"python" or "js", by which kind of source the directory holds more of."""
    from bench.recall_js import SUFFIXES

    py = len(source_files(root, (".py",)))
    js = len(source_files(root, SUFFIXES))
    if not py and not js:
        raise SystemExit(f"{root}: no Python or JavaScript/TypeScript source files to measure")
    return "python" if py >= js else "js"


def label_of(root: Path) -> str:
    return f"{root.parent.name}/{root.name}" if root.name in ("lib", "src") else root.name


def copy_sources(src: Path, dst: Path, suffixes: tuple[str, ...], max_lines: int | None = None) -> int:
    """Copy the source files (only those) of ``src`` under ``dst``; returns lines copied.
    With ``max_lines``, stop once that many lines are copied (files in sorted order)."""
    total = 0
    for rel in source_files(src, suffixes):
        if max_lines is not None and any(p in ("test", "tests", "site-packages", "idlelib") for p in rel.split("/")):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, target)
        total += (src / rel).read_bytes().count(b"\n")
        if max_lines is not None and total >= max_lines:
            break
    return total


def find_sites(root: Path, language: str) -> list[Site]:
    if language == "python":
        from bench.recall_python import python_sites

        return python_sites(root)
    from bench.recall_js import js_sites

    return js_sites(root)


def prompt_sections(prompt) -> dict[str, str]:
    """The prompt's files by header line: the text after each ``<|file_sep|>`` marker up to
    the next marker. A prompt without file markers is one section keyed ""."""
    from model.prompt import pieces_of

    sections: dict[str, str] = {}
    header = None
    for text, token_id in pieces_of(prompt):
        if token_id is not None:
            header = "" if text.strip("<|>") == "file_sep" else None
            continue
        if header == "":
            first, _, rest = text.partition("\n")
            sections[first] = sections.get(first, "") + rest
            header = None
    if not sections:
        sections[""] = str(prompt)
    return sections


def recalled(prompt, site: Site) -> bool:
    """The definition line is in the repository context shown under the defining file."""
    from model.prompt import header_line

    sections = prompt_sections(prompt)
    text = sections.get(header_line(site.def_path), sections.get("", ""))
    return any(t in text for t in (site.def_text, *(t for _, t in site.alternates)) if t)


def open_engine(root: Path):
    from assistant.config import EngineConfig
    from assistant.session import open_session
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    # Steady state: the default budget, not shrunk for a cold prompt (the latency target is
    # what sizes a cold one; warm, the KV cache holds the stable part).
    config = EngineConfig(latency_target_s=3600.0)
    return open_session(root, TokenizerOnlyBackend(), config=config)


def measure_sites(session, root: Path, sites: list[Site]) -> tuple[list[dict], dict[str, list[float]]]:
    """Per site: recalled or not; and the context-building and retrieval times (ms), wall
    clock and this thread's CPU time (which a loaded machine's waiting does not inflate)."""
    from assistant.request import CompletionRequest

    engine, ws = session.engine, session.workspace
    rows: list[dict] = []
    times: dict[str, list[float]] = {"context_build": [], "context_build_cpu": [], "retrieval": [], "retrieval_cpu": []}
    texts: dict[str, str] = {}
    for site in sites:
        original = texts.setdefault(site.path, (root / site.path).read_text("utf-8", errors="replace"))
        text = editor_text(original, site.line, site.col)
        path = root / site.path
        ws.set_overlay(path, text)  # the open document, as the server keeps it
        engine.context.forget(path)  # each site is a fresh cursor line, not the same one retyped
        t0, c0 = time.perf_counter(), time.thread_time()
        prompt, explain, _ = engine.build_prompt(CompletionRequest(path, text, site.line, site.col))
        t1, c1 = time.perf_counter(), time.thread_time()
        ws.retrieve(path, text, site.line, site.col)
        t2, c2 = time.perf_counter(), time.thread_time()
        ws.clear_overlay(path)
        for key, value in (("context_build", t1 - t0), ("context_build_cpu", c1 - c0),
                           ("retrieval", t2 - t1), ("retrieval_cpu", c2 - c1)):
            times[key].append(1000 * value)
        hit = recalled(prompt, site)
        rows.append({"site": site, "engine": hit, "why": "" if hit else why_missed(explain, site),
                     "cold": any(e.source == "latency" for e in explain)})
    return rows, times


def why_missed(explain, site: Site) -> str:
    """What ``--explain`` said about the callee's definition: the reason of the entry whose
    span (``path:first-last``, 1-based) holds its line, shortened to its kind; or that no
    entry did (retrieval never offered it)."""
    for e in explain:
        path, _, span = e.source.rpartition(":")
        first, _, last = span.partition("-")
        if path == site.def_path and first.isdigit() and last.isdigit() and int(first) <= site.def_line + 1 <= int(last):
            return f"{e.kind}: {e.reason.split(' (')[0]}"
    return "not among the candidates"


def bm25_recall(root: Path, language: str, sites: list[Site]) -> list[bool]:
    from bench.recall_js import SUFFIXES

    suffixes = (".py",) if language == "python" else SUFFIXES
    files = {rel: (root / rel).read_text("utf-8", errors="replace").split("\n") for rel in source_files(root, suffixes)}
    index = recall_bm25.BM25Index(files)
    out = []
    for site in sites:
        lines = editor_text("\n".join(files[site.path]), site.line, site.col).split("\n")
        hits = index.search(recall_bm25.query_for(lines, site.line, site.col), exclude_path=site.path)
        spans = recall_bm25.retrieved_spans(hits)
        out.append(any(recall_bm25.covers(spans, site.def_path, row) for row in (site.def_line, *(r for r, _ in site.alternates))))
    return out


def timing(xs: list[float]) -> dict:
    if not xs:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    return {"p50_ms": round(percentile(xs, 50), 2), "p95_ms": round(percentile(xs, 95), 2), "n": len(xs)}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


def run_repo(src: Path, work: Path, limit: int, seed: int) -> dict:
    from bench.recall_js import SUFFIXES

    language = language_of(src)
    label = label_of(src)
    root = work / "repos" / label.replace("/", "-")
    if language == "python":
        root = work / "repos" / src.name  # the folder name is the package name its imports use
    lines = copy_sources(src, root, (".py",) if language == "python" else SUFFIXES)
    all_sites = find_sites(root, language)
    sites = sample(all_sites, limit, seed)
    t0 = time.perf_counter()
    session = open_engine(root)
    build_s = time.perf_counter() - t0
    try:
        stats = session.workspace.stats()
        rows, times = measure_sites(session, root, sites)
    finally:
        session.close()
    bm25 = bm25_recall(root, language, sites)
    n = len(sites)
    engine_recall = sum(r["engine"] for r in rows) / n if n else None  # no sites: no figure (not NaN,
    bm25_rate = sum(bm25) / n if n else None  # which JSON readers reject)
    misses = [r for r in rows if not r["engine"]]
    reasons: dict[str, int] = {}
    for r in misses:
        reasons[r["why"]] = reasons.get(r["why"], 0) + 1
    return {
        "repository": label, "source": str(src), "language": language, "lines": lines,
        "files": stats.files, "windows": stats.windows, "index_build_s": round(build_s, 2),
        "call_sites_found": len(all_sites), "sites": n,
        "distinct_callees": len({(s.def_path, s.def_line) for s in sites}),
        "engine_recall": _round(engine_recall), "bm25_recall": _round(bm25_rate),
        "ratio_engine_to_bm25": ratio(engine_recall, bm25_rate) if n else None,
        "engine_hits": sum(r["engine"] for r in rows), "bm25_hits": sum(bm25),
        **{key: timing(xs) for key, xs in times.items()},
        "cold_sized_prompts": sum(r["cold"] for r in rows),  # 0: every prompt had the full budget
        "miss_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "miss_examples": [f"{r['site'].path}:{r['site'].line + 1}:{r['site'].col} {r['site'].name}( -> "
                          f"{r['site'].def_path}:{r['site'].def_line + 1} ({r['why']})" for r in misses[:5]],
    }


def large_sources() -> list[Path]:
    """The standard library, then pip and setuptools: together well over 30k windows."""
    return [Path(sysconfig.get_paths()["stdlib"]), SITE_PACKAGES / "pip", SITE_PACKAGES / "setuptools"]


def run_large(sources: list[Path], work: Path, seed: int, windows: int, sites_n: int) -> dict:
    """Ranking cost on an index of about ``windows`` windows (~15 lines each): the sources
    copied in order (a package folder under its own name) until they hold enough lines."""
    root = work / "large"
    budget = windows * 16
    lines = 0
    for src in sources:
        if lines >= budget:
            break
        dst = root / src.name if (src / "__init__.py").is_file() else root
        lines += copy_sources(src, dst, (".py",), max_lines=budget - lines)
    sites = sample(find_sites(root, "python"), sites_n, seed)
    t0 = time.perf_counter()
    session = open_engine(root)
    build_s = time.perf_counter() - t0
    try:
        stats = session.workspace.stats()
        rows, times = measure_sites(session, root, sites)
    finally:
        session.close()
    return {"sources": [str(s) for s in sources], "lines": lines, "files": stats.files, "windows": stats.windows,
            "index_build_s": round(build_s, 2), "sites": len(sites),
            "engine_recall": round(sum(r["engine"] for r in rows) / max(1, len(rows)), 3),
            **{key: timing(xs) for key, xs in times.items()}, "target_p50_ms": 5.0}


def _default_budget() -> int:
    from assistant.config import EngineConfig

    return EngineConfig().context_tokens


def scratch_cache(work: Path) -> Path:
    """A temporary qwenpair cache holding only the Qwen2 vocabulary (the index tokenizes
    with it), so that the measured index is built there and thrown away."""
    from model.paths import vocab_dir

    vocab = vocab_dir()
    if not (vocab / "ggml-vocab-qwen2.gguf").is_file():
        raise SystemExit(f"the Qwen2 vocabulary is not in {vocab}: run `qwenpair model vocab` first")
    (work / "cache").mkdir(parents=True, exist_ok=True)
    (work / "cache" / "vocab").symlink_to(vocab)
    return work / "cache"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", action="append", type=Path, help="a repository folder (repeatable; default: "
                        f"{', '.join(PYTHON_REPOS)} from site-packages and {', '.join(JS_REPOS)} from the VS Code extension's node_modules)")
    parser.add_argument("--sites", type=int, default=300, help="most call sites per repository (seeded sample)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--large", action="append", type=Path,
                        help="source folder of the ~30k-window index for the ranking cost (repeatable; "
                        "default: the standard library, then site-packages' pip and setuptools)")
    parser.add_argument("--no-large", action="store_true", help="skip the large-index ranking cost")
    parser.add_argument("--quick", action="store_true", help="one Python and one JS repository, 40 sites, a 5k-window large index")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.sites < 1:
        parser.error("--sites must be at least 1")
    limit = min(args.sites, 40) if args.quick else args.sites
    repos = args.repo or default_repos(args.quick)
    for r in repos:
        if not r.is_dir():
            raise SystemExit(f"{r} is not a directory: pass --repo with a repository folder")
    t0 = time.perf_counter()
    saved = os.environ.get("QWENPAIR_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="context-recall-") as tmp:
        work = Path(tmp)
        os.environ["QWENPAIR_CACHE_DIR"] = str(scratch_cache(work))
        try:
            results = [run_repo(r.resolve(), work, limit, args.seed) for r in repos]
            large = None
            if not args.no_large:
                large = run_large(args.large or large_sources(), work, args.seed, 5_000 if args.quick else LARGE_WINDOWS,
                                  20 if args.quick else LARGE_SITES)
        finally:
            if saved is None:
                os.environ.pop("QWENPAIR_CACHE_DIR", None)
            else:
                os.environ["QWENPAIR_CACHE_DIR"] = saved
    out = {
        "figure": "context recall at cross-file call sites: engine prompt vs CrossCodeEval BM25 (issue 16)",
        "unit": "share of call sites whose callee's definition line is in the prompt",
        "machine": {**machine(), "load_average_1m": round(os.getloadavg()[0], 2)},
        "comparison": "ratio_engine_to_bm25 = engine_recall / bm25_recall (same sites, same run)",
        "settings": {"sites_per_repo": limit, "seed": args.seed, "budget_tokens": _default_budget(),
                     "bm25": {"window": recall_bm25.WINDOW, "stride": recall_bm25.STRIDE, "top": recall_bm25.TOP,
                              "query_lines": recall_bm25.QUERY_LINES, "plus_next_window": True}},
        "results": results,
        "ranking_cost_large_index": large,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(out, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return out


if __name__ == "__main__":
    main()
