"""bench/context_recall.py on small repositories whose answers are known.

Guards the three things the recall figure rests on: the ground truth (which calls are
cross-file call sites, through which imports, to which definition line), the BM25 baseline
(CrossCodeEval's windows, query and "window after"), and the arithmetic (a site counts
only when its definition line is in the defining file's part of the prompt). The last test
runs the whole harness, with the real index, engine and tokenizer, on a synthetic package.
Nothing here needs the network or other checkouts; the Qwen2 vocabulary must be set up
(``qwenpair model vocab``), as for the rest of the suite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import context_recall, recall_bm25
from bench.recall_js import js_sites
from bench.recall_python import python_sites
from bench.recall_sites import Site, editor_text, sample
from model.prompt import RepoFile, repo_fim

PY_REPO = {
    "__init__.py": "from .util import helper\nfrom .cycle_a import *\n",
    "util.py": (
        "def helper(x):\n    return x\n\n\n"
        "def other():\n    return 1\n\n\n"
        "class Thing:\n    pass\n"
    ),
    "shapes.py": (
        "from .util import helper\n\n\n"
        "def area(w, h):\n    return helper(w) * h\n"  # site 5: helper -> util.py
    ),
    "cycle_a.py": "from .cycle_b import loop\n",  # an import cycle: resolves to nothing, must not hang
    "cycle_b.py": "from .cycle_a import loop\n",
    "main.py": (
        "from . import util\n"
        "from .util import Thing as T\n"
        "from pkg import helper\n"
        "import pkg.shapes as sh\n"
        "from .cycle_a import loop\n"
        "from .shapes import area\n\n\n"
        "def local_fn():\n    return 0\n\n\n"
        "def run(area):\n"
        "    helper(1)\n"  # site 1: re-exported by __init__
        "    util.other()\n"  # site 2: attribute of an imported module
        "    T()\n"  # site 3: `as` alias of a class
        "    sh.area(2, 3)\n"  # site 4: `import x.y as z`
        "    local_fn()\n"  # same file: not a site
        "    area(3)\n"  # the parameter shadows shapes.area: not a site
        "    len([])\n"  # builtin: not a site
        "    loop()\n"  # cycle: unresolved, not a site
        "\n\n"
        "def later():\n"
        "    from .util import other as helper\n"
        "    helper()\n"  # site 6: a function-level import rebinds the name in its function
    ),
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def row(files: dict[str, str], rel: str, needle: str) -> int:
    return next(i for i, line in enumerate(files[rel].split("\n")) if needle in line)


def test_python_ground_truth_resolves_imports_and_skips_local_names(tmp_path):
    root = write(tmp_path / "pkg", PY_REPO)
    got = {(s.path, s.line, s.name, s.def_path, s.def_line, s.def_text) for s in python_sites(root)}
    m = "main.py"
    want = {
        (m, row(PY_REPO, m, "helper(1)"), "helper", "util.py", 0, "def helper(x):"),
        (m, row(PY_REPO, m, "util.other()"), "util.other", "util.py", 4, "def other():"),
        (m, row(PY_REPO, m, "T()"), "T", "util.py", 8, "class Thing:"),
        (m, row(PY_REPO, m, "sh.area(2, 3)"), "sh.area", "shapes.py", 3, "def area(w, h):"),
        (m, row(PY_REPO, m, "    helper()"), "helper", "util.py", 4, "def other():"),
        ("shapes.py", 4, "helper", "util.py", 0, "def helper(x):"),
    }
    assert got == want
    site = next(s for s in python_sites(root) if s.name == "sh.area")
    line = PY_REPO[m].split("\n")[site.line]
    assert line[: site.col].endswith("sh.area(")  # the cursor is just after the parenthesis


JS_REPO = {
    "util.js": "function helper(a) {\n  return a\n}\nconst twice = (x) => 2 * x\nmodule.exports = { helper, twice }\n",
    "lib/math.ts": "export function add(a: number, b: number): number {\n  return a + b\n}\nexport class Box {}\n",
    "lib/index.ts": "export { add as plus } from './math.js'\nexport * from './math'\n",
    "app.mjs": (
        "import { plus, Box } from './lib/index.ts'\n"
        "import * as m from './lib/math'\n"
        "const { helper, twice } = require('./util')\n"
        "const u = require('./util.js')\n"
        "function local() {}\n"
        "function run(twice) {\n"
        "  plus(1, 2)\n"  # re-export with a rename
        "  new Box()\n"  # `new` is not a call expression here: not a site
        "  m.add(1, 2)\n"  # namespace import
        "  helper(3)\n"  # CommonJS destructuring
        "  u.twice(4)\n"  # CommonJS module object
        "  twice(5)\n"  # shadowed by the parameter
        "  local()\n"  # same file
        "  Math.max(1)\n"  # not in the repository
        "}\n"
    ),
}


def test_js_ground_truth_follows_es_and_commonjs_imports(tmp_path):
    root = write(tmp_path / "web", JS_REPO)
    got = {(s.path, s.line, s.name, s.def_path, s.def_line) for s in js_sites(root)}
    a = "app.mjs"
    assert got == {
        (a, row(JS_REPO, a, "plus(1, 2)"), "plus", "lib/math.ts", 0),
        (a, row(JS_REPO, a, "m.add("), "m.add", "lib/math.ts", 0),
        (a, row(JS_REPO, a, "helper(3)"), "helper", "util.js", 0),
        (a, row(JS_REPO, a, "u.twice("), "u.twice", "util.js", 3),
    }


def test_overloads_count_as_the_callees_definition_lines(tmp_path):
    py = write(tmp_path / "py", {
        "over.py": "from typing import overload\n\n@overload\ndef conv(x: int) -> int: ...\n"
                   "@overload\ndef conv(x: str) -> str: ...\ndef conv(x):\n    return x\n",
        "use.py": "from over import conv\nconv(1)\n",
    })
    (site,) = python_sites(py)
    assert (site.def_path, site.def_line) == ("over.py", 6)
    assert site.alternates == ((3, "def conv(x: int) -> int: ..."), (5, "def conv(x: str) -> str: ..."))
    stub_only = repo_fim("demo", [RepoFile("over.py", "def conv(x: int) -> int: ...\n")], "use.py", "", "")
    assert context_recall.recalled(stub_only, site)
    ts = write(tmp_path / "ts", {
        "lib.ts": "export function f(a: string): string\nexport function f(a: number): number\n"
                  "export function f(a: any) { return a }\n",
        "app.ts": "import { f } from './lib'\nf(1)\n",
    })
    (site,) = js_sites(ts)
    assert (site.def_path, site.def_line, [row for row, _ in site.alternates]) == ("lib.ts", 0, [1, 2])


def test_bm25_windows_query_and_the_window_after():
    files = {"a.py": [f"alpha_{i} = {i}" for i in range(23)], "b.py": ["zeta gamma"] * 4}
    index = recall_bm25.BM25Index(files)
    assert [(w.path, w.start) for w in index.windows] == [("a.py", 0), ("a.py", 5), ("a.py", 10), ("a.py", 15), ("b.py", 0)]
    hits = index.search("alpha_12 alpha_13", exclude_path="b.py", top=1)
    assert [(w.path, w.start) for w in hits] == [("a.py", 5)]  # ties on score: the earlier window
    spans = recall_bm25.retrieved_spans(hits)
    assert recall_bm25.covers(spans, "a.py", 24) and not recall_bm25.covers(spans, "a.py", 25)  # 5..24 shown
    assert index.search("alpha_12", exclude_path="a.py") == []  # the current file is never retrieved
    lines = [f"l{i}" for i in range(30)]
    assert recall_bm25.query_for(lines, 20, 1) == "\n".join([f"l{i}" for i in range(11, 20)] + ["l"])


def _site(name: str, def_path: str, def_text: str) -> Site:
    return Site("main.py", 3, 4, name, def_path, 0, def_text)


def test_recall_counts_the_definition_line_only_under_the_defining_file():
    sites = [
        _site("a", "x.py", "def a():"),
        _site("b", "x.py", "def b(n):"),
        _site("C", "y.py", "class C:"),
        _site("d", "y.py", "def d():"),  # only in the current file's text: not recalled
        _site("e", "z.py", "def e():"),  # z.py's text is there, without e
    ]
    files = [RepoFile("x.py", "def a():\n    pass\ndef b(n):\n    return n\n"),
             RepoFile("y.py", "class C:\n    x = 1\n"), RepoFile("z.py", "def f():\n    pass\n")]
    prompt = repo_fim("demo", files, "main.py", "def d():\n    pass\n", "\n")
    hits = [context_recall.recalled(prompt, s) for s in sites]
    assert hits == [True, True, True, False, False]
    assert sum(hits) / len(sites) == pytest.approx(0.6)


def test_editor_text_and_sample():
    assert editor_text("x = f(a, b)\ny = 1", 0, 6) == "x = f(\ny = 1"
    sites = [_site(str(i), "x.py", "def x():") for i in range(50)]
    picked = sample(sites, 10, seed=3)
    assert picked == sample(list(reversed(sites)), 10, seed=3) and len(picked) == 10 == len(set(picked))


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    """The whole harness, once, on the synthetic package: (report, JSON file, package root)."""
    tmp = tmp_path_factory.mktemp("recall")
    root = write(tmp / "src" / "pkg", PY_REPO)
    out = tmp / "recall.json"
    report = context_recall.main(["--repo", str(root), "--no-large", "--sites", "300", "--out", str(out)])
    return report, out, root


def test_harness_report_and_its_arithmetic(harness):
    report, out, root = harness
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert {"figure", "unit", "machine", "comparison", "results"} <= set(report)
    (r,) = report["results"]
    assert r["language"] == "python" and r["call_sites_found"] == 6 and r["sites"] == 6
    assert r["engine_recall"] == round(r["engine_hits"] / 6, 3)
    assert r["cold_sized_prompts"] == 0  # steady state: the full budget, never a cold-sized prompt
    assert sum(r["miss_reasons"].values()) == 6 - r["engine_hits"]
    # BM25's query is the 10 lines before the cursor; count its hits independently.
    sites = sorted(python_sites(root))
    files = {rel: (root / rel).read_text().split("\n") for rel in PY_REPO}
    index = recall_bm25.BM25Index(files)
    expected = 0
    for s in sites:
        lines = editor_text("\n".join(files[s.path]), s.line, s.col).split("\n")
        hits = index.search(recall_bm25.query_for(lines, s.line, s.col), exclude_path=s.path)
        expected += recall_bm25.covers(recall_bm25.retrieved_spans(hits), s.def_path, s.def_line)
    assert r["bm25_hits"] == expected and r["bm25_recall"] == round(expected / 6, 3)
    ratio = r["engine_hits"] / expected if expected else None
    assert r["ratio_engine_to_bm25"] == (round(ratio, 2) if ratio is not None else None)
    assert r["context_build"]["n"] == 6 and r["context_build"]["p50_ms"] > 0
    assert r["retrieval_cpu"]["n"] == 6 and r["retrieval_cpu"]["p50_ms"] > 0


def test_engine_recalls_every_definition_in_a_small_package(harness):
    """Every callee here is a few tokens, resolved through an import and used at the cursor:
    a 2,048-token prompt has room for all. A miss names the explain entry (or its absence)."""
    (r,) = harness[0]["results"]
    assert r["engine_hits"] == 6, r["miss_examples"]


def test_bad_input_gets_a_clear_answer(tmp_path, capsys):
    with pytest.raises(SystemExit, match="is not a directory"):
        context_recall.main(["--repo", str(tmp_path / "missing"), "--no-large"])
    empty = write(tmp_path / "notes", {"README.md": "nothing to call\n"})
    with pytest.raises(SystemExit, match="no Python or JavaScript/TypeScript source"):
        context_recall.main(["--repo", str(empty), "--no-large"])
    with pytest.raises(SystemExit):
        context_recall.main(["--sites", "0", "--no-large"])
    assert "--sites must be at least 1" in capsys.readouterr().err
    # A repository without a cross-file call: no figure rather than NaN (which JSON rejects).
    flat = write(tmp_path / "flat", {"a.py": "def f():\n    return 1\n\n\nf()\n", "b.py": "x = (1)\n"})
    out = tmp_path / "flat.json"
    (r,) = context_recall.main(["--repo", str(flat), "--no-large", "--out", str(out)])["results"]
    assert r["sites"] == 0 and r["engine_recall"] is None and r["ratio_engine_to_bm25"] is None
    json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
