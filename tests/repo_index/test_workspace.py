"""The Workspace facade end to end: build, lookups, retrieval, overlays, cancellation."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from repo_index import IndexConfig, Progress, Workspace, WorkspaceError

PROJECT = {
    "shapes/__init__.py": "",
    "shapes/geometry.py": '''"""Geometry helpers."""

SCALE_FACTOR = 3


class Rectangle:
    """An axis-aligned rectangle."""

    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.height


def perimeter(rect):
    """Length of the border."""
    return 2 * (rect.width + rect.height)
''',
    "shapes/render.py": '''from shapes.geometry import Rectangle, perimeter


def describe(rect):
    total = perimeter(rect)
    return f"{rect.width}x{rect.height} border {total}"
''',
    "billing/invoice.py": '''def invoice_total(items, tax_rate):
    subtotal = sum(item.price * item.quantity for item in items)
    discount = compute_discount(subtotal)
    return round((subtotal - discount) * (1 + tax_rate), 2)


def compute_discount(subtotal):
    return subtotal * 0.1 if subtotal > 100 else 0
''',
    "web/app.ts": '''import { formatPrice } from "./format";

export function showPrice(cents: number): string {
  return formatPrice(cents / 100);
}
''',
    "web/format.ts": '''/** Format a price for display. */
export function formatPrice(value: number): string {
  return "$" + value.toFixed(2);
}
''',
    "README.md": "# Project\n\nShapes and invoices.\n",
    ".env": "API_KEY=hunter2\n",
    "keys/deploy.pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
    ".gitignore": "generated/\n",
    "generated/big.py": "def generated_fn():\n    pass\n",
}

USER = '''from shapes.geometry import Rectangle


def main():
    r = Rectangle(2, 3)
    print(r.area())
    p = perimeter(r)
    subtotal = sum(item.price * item.quantity for item in items)
'''


@pytest.fixture
def project(make_tree):
    return make_tree(PROJECT)


def test_open_rejects_a_missing_root(tmp_path):
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(tmp_path / "nope")
    assert err.value.user_facing


def test_build_stats_and_lookups(project, open_ws):
    ws = open_ws(project)
    reports: list[Progress] = []
    stats = ws.build(progress=reports.append)
    assert stats.files_indexed == 8 and not stats.cancelled
    assert stats.skipped == {"secret file": 2, "ignored by .gitignore": 1}
    assert [r.phase for r in reports][0] == "scanning" and reports[-1] == Progress("saving", 1, 1)
    info = ws.stats()
    assert info.files == 8 and info.languages == {"python": 4, "typescript": 2, "text": 2}
    assert info.symbols >= 8 and info.windows >= 7
    [rect] = ws.definitions("Rectangle")
    assert (rect.path, rect.kind, rect.start_line, rect.signature) == (
        "shapes/geometry.py", "class", 5, "class Rectangle:")
    assert [d.name for d in ws.symbols("shapes/geometry.py")] == [
        "SCALE_FACTOR", "Rectangle", "__init__", "area", "perimeter"]
    [imp] = ws.imports("shapes/render.py")
    assert imp.paths == ("shapes/geometry.py",) and imp.names == ("Rectangle", "perimeter")
    assert ("shapes/render.py", 4) in ws.references("perimeter")


def test_retrieve_definitions_and_similar_code(project, open_ws):
    ws = open_ws(project)
    ws.build()
    lines = USER.split("\n")
    snippets = ws.retrieve("main.py", USER, line=7, col=len(lines[7]))
    defs = [s for s in snippets if s.kind == "definition"]
    similar = [s for s in snippets if s.kind == "similar"]
    names = [s.symbol for s in defs]
    assert names[:2] == ["perimeter", "Rectangle"] or set(names[:3]) >= {"perimeter", "Rectangle"}
    rect = next(s for s in defs if s.symbol == "Rectangle")
    assert rect.path == "shapes/geometry.py" and "is imported on line 1" in rect.reason
    assert rect.text.startswith("class Rectangle:") and "def area(self):" in rect.text
    assert similar and similar[0].path == "billing/invoice.py"
    assert "shared:" in similar[0].reason and "subtotal" in similar[0].reason
    assert all(s.path not in (".env", "keys/deploy.pem", "generated/big.py") for s in snippets)
    # Deterministic: same inputs, same answer; and again after a warm restart.
    assert ws.retrieve("main.py", USER, line=7, col=len(lines[7])) == snippets
    ws.close()
    again = open_ws(project)
    again.build()
    assert again.retrieve("main.py", USER, line=7, col=len(lines[7])) == snippets


def test_the_identifier_being_typed_matches_by_prefix(project, open_ws):
    ws = open_ws(project)
    ws.build()
    text = "from billing.invoice import invoice_total\n\nx = compute_di"
    snippets = ws.retrieve("billing/use.py", text, line=2, col=14, max_similar=0)
    assert snippets[0].symbol == "compute_discount"
    assert "starts with `compute_di`" in snippets[0].reason


def test_retrieve_respects_limits_and_same_language(project, open_ws):
    ws = open_ws(project)
    ws.build()
    text = 'import { formatPrice } from "./format";\nconst s = formatPrice(3);\n'
    snippets = ws.retrieve("web/other.ts", text, line=1, col=10, max_definitions=1, max_similar=1)
    assert [s.kind for s in snippets] == ["definition", "similar"]
    assert snippets[0].path == "web/format.ts" and snippets[0].text.startswith("/** Format a price")
    python_only = ws.retrieve("shapes/x.py", "formatPrice(1)\n", line=0, col=0, max_similar=0)
    assert python_only == []  # a TypeScript definition is no context for Python


def test_overlay_changes_what_retrieval_sees(project, open_ws):
    ws = open_ws(project)
    ws.build()
    unsaved = PROJECT["billing/invoice.py"] + "\n\ndef loyalty_bonus(points):\n    return points // 7\n"
    assert ws.set_overlay("billing/invoice.py", unsaved)
    user = "bonus = loyalty_bonus(pts)\n"
    [hit] = [s for s in ws.retrieve("app.py", user, 0, 5) if s.kind == "definition"]
    assert hit.path == "billing/invoice.py" and hit.symbol == "loyalty_bonus"
    assert "points // 7" in hit.text
    similar = ws.retrieve("app.py", "return points // 7\n", 0, 18, max_definitions=0)
    assert similar and similar[0].path == "billing/invoice.py" and "points" in similar[0].text
    ws.clear_overlay("billing/invoice.py")
    assert [s for s in ws.retrieve("app.py", user, 0, 5) if s.kind == "definition"] == []
    assert not ws.set_overlay(".env", "API_KEY=changed\n")  # secret files are never overlaid


def test_cancel_keeps_the_work_done(make_tree, open_ws):
    root = make_tree({f"m{i:03}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(300)})
    ws = open_ws(root, pool_min_files=10_000)  # in-process, so cancelling is immediate
    cancel = threading.Event()
    seen = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.phase == "indexing" and p.done > 0:
            cancel.set()

    stats = ws.build(progress=progress, cancel=cancel)
    assert stats.cancelled and 0 < stats.files_indexed < 300
    rest = ws.build()
    assert not rest.cancelled and rest.files_indexed == 300 - stats.files_indexed


def test_a_large_first_build_leaves_the_garbage_collector_on(make_tree, open_ws):
    # A first build of 1,000+ files runs without cyclic collections (indexer.sync); they
    # must be back on afterwards, also when the build fails midway.
    import gc

    root = make_tree({f"m{i:04}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(1100)})
    assert gc.isenabled()
    seen_off = []

    def failing(p: Progress) -> None:
        if p.phase == "indexing" and p.done > 0:
            seen_off.append(not gc.isenabled())
            raise RuntimeError("the editor went away")

    with pytest.raises(RuntimeError):
        open_ws(root, pool_min_files=10_000).build(progress=failing)
    assert seen_off == [True] and gc.isenabled()
    stats = open_ws(root, pool_min_files=10_000).build()
    assert stats.files_indexed == 1100 and gc.isenabled()


def test_tasks_handed_out_while_scanning_are_collected_once(make_tree):
    # A large first build hands the workers files while it still scans (ExtractorPool.prefetch);
    # run() yields those first, then the rest, every file exactly once; dropped ones are redone.
    from repo_index.extract_pool import ExtractorPool
    from repo_index.rules import ScanEntry

    root = make_tree({f"m{i:02}.py": f"def f{i}(x):\n    return x\n" for i in range(12)})
    entries = [ScanEntry(f"m{i:02}.py", (root / f"m{i:02}.py").stat().st_size, 0) for i in range(12)]
    pool = ExtractorPool(str(root), IndexConfig(workers=2, worker_nice=0))
    try:
        assert not pool.prefetch(["m00.py"])  # workers not up yet: the caller keeps the files
        pool._start()
        assert pool.ready
        assert pool.prefetch(["m03.py", "m07.py"]) and pool.prefetch(["m11.py"])
        first = [r.path for r in pool.run(entries, None)]
        assert first[:3] == ["m03.py", "m07.py", "m11.py"]
        assert sorted(first) == [e.rel for e in entries]
        assert pool.prefetch(["m05.py"])
        pool.drop_prefetched()
        assert sorted(r.path for r in pool.run(entries, None)) == [e.rel for e in entries]
        pool._start()
        assert all(pool.prefetch([e.rel]) for e in entries)
        pool.close()  # the workers go before run(): the tasks they had not started are cancelled
        assert sorted(r.path for r in pool.run(entries, None)) == [e.rel for e in entries]
    finally:
        pool.close()
    assert not pool.ready


def test_workers_start_with_every_query_compiled(tmp_path):
    # The fork server compiles every language's query once (worker_preload); forked
    # workers inherit them instead of compiling their own.
    from repo_index import languages
    from repo_index.extract_pool import ExtractorPool

    pool = ExtractorPool(str(tmp_path), IndexConfig(workers=2, worker_nice=0))
    try:
        pool._start()
        probe = "__import__('repo_index.languages').languages.query_for.cache_info().currsize"
        compiled = [pool._get().submit(eval, probe).result() for _ in range(4)]
    finally:
        pool.close()
    assert compiled == [len(languages.LANGUAGES)] * 4


def test_a_large_first_build_with_workers_indexes_every_file_once(make_tree, open_ws):
    root = make_tree({f"pkg{i % 7}/m{i:04}.py": f"def func_{i}(x):\n    return x * {i}\n" for i in range(1300)})
    ws = open_ws(root, workers=2, worker_nice=0)
    ws._pool._start()  # workers already up: the scan hands out its first files (prefetch)
    handed = []
    real = ws._pool.prefetch
    ws._pool.prefetch = lambda rels: real(rels) and not handed.append(rels)
    stats = ws.build()
    assert handed and sum(map(len, handed)) < 1300
    assert stats.files_indexed == 1300 and ws.stats().files == 1300
    assert all(len(ws.definitions(f"func_{i}")) == 1 for i in range(0, 1300, 97))


def test_build_with_worker_processes(make_tree, open_ws):
    root = make_tree({f"pkg/m{i:03}.py": f"def func_{i}(x):\n    return x * {i}\n" for i in range(120)})
    ws = open_ws(root, pool_min_files=10, workers=2)
    stats = ws.build()
    assert stats.files_indexed == 120
    assert ws.definitions("func_77")[0].path == "pkg/m077.py"


def test_refresh_follows_edits_and_deletions(project, open_ws):
    ws = open_ws(project)
    ws.build()
    geometry = Path(ws.root) / "shapes" / "geometry.py"
    geometry.write_text(geometry.read_text().replace("def perimeter", "def outline"))
    (Path(ws.root) / "billing" / "invoice.py").unlink()
    stats = ws.refresh([geometry, Path(ws.root) / "billing" / "invoice.py"])
    assert stats.files_indexed == 1 and stats.files_removed == 1
    assert ws.definitions("perimeter") == [] and ws.definitions("outline")
    assert ws.definitions("compute_discount") == []


def test_saving_an_open_document_indexes_what_was_saved(project, open_ws):
    ws = open_ws(project)
    ws.build()
    path = Path(ws.root) / "billing" / "invoice.py"
    text = PROJECT["billing/invoice.py"] + "\n\ndef saved_from_editor():\n    return 1\n"
    ws.set_overlay(path, text)
    ws.retrieve("billing/invoice.py", text, 0, 0)  # the open document has extracted facts now
    path.write_text(text)
    assert ws.refresh([path]).files_indexed == 1
    ws.clear_overlay(path)
    [d] = ws.definitions("saved_from_editor")
    assert d.path == "billing/invoice.py" and ws.state.files["billing/invoice.py"].mtime_ns == path.stat().st_mtime_ns


def test_an_open_document_that_was_current_still_reaches_the_lexical_index(project, open_ws):
    ws = open_ws(project)
    ws.build()
    text = "def rare_helper_name(qq):\n    return qq * 42\n"
    ws.set_overlay("billing/helper.py", text)
    ws.retrieve("billing/helper.py", text, 1, 5)  # current: not applied, but facts computed
    hits = ws.retrieve("other.py", "x = rare_helper_name(qq)\n", 0, 24, max_definitions=0)
    assert [s.path for s in hits] == ["billing/helper.py"]


def test_a_private_key_pasted_into_a_buffer_never_reaches_a_snippet(project, open_ws):
    ws = open_ws(project)
    ws.build()
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    text = PROJECT["billing/invoice.py"] + "\nSECRET = '''\n" + key + "'''\n"
    assert not ws.set_overlay("billing/invoice.py", text)
    snippets = ws.retrieve("x.py", "subtotal = compute_discount(subtotal)\n", 0, 10)
    assert snippets and all("PRIVATE KEY" not in s.text for s in snippets)
