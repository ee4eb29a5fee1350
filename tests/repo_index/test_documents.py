"""Open documents: incremental reparsing must give the tree a fresh parse gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from repo_index import languages
from repo_index.config import IndexConfig
from repo_index.documents import OpenDocuments, common_prefix, common_suffix

BASE = '''import os


class Shape:
    """A shape."""

    def area(self):
        return 1


def compute(x):
    return os.path.join(x, "é")
'''

PIECES = st.sampled_from(["", "x", "def f():\n    pass\n", "é", "(", ")", "\n", "    ", "class C:\n", "'", '"""', "日本"])


@settings(max_examples=150, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 20), PIECES), min_size=1, max_size=6))
def test_incremental_reparse_equals_fresh_parse(edits):
    docs = OpenDocuments(IndexConfig())
    text = BASE
    docs.set("m.py", text)
    for position, deleted, inserted in edits:
        position = min(position, len(text))
        text = text[:position] + inserted + text[position + deleted:]
        doc = docs.set("m.py", text)
        fresh = languages.parser_for("python").parse(text.encode("utf-8"))
        assert str(doc.tree.root_node) == str(fresh.root_node)
        assert doc.tree.root_node.end_byte == len(text.encode("utf-8"))


@given(a=st.binary(max_size=50), b=st.binary(max_size=50))
def test_common_prefix_and_suffix(a, b):
    p = common_prefix(a, b)
    assert a[:p] == b[:p] and (p == min(len(a), len(b)) or a[p] != b[p])
    limit = min(len(a), len(b)) - p
    s = common_suffix(a, b, limit)
    assert s <= limit and a[len(a) - s:] == b[len(b) - s:]


def test_facts_are_extracted_lazily_and_kept_for_imports():
    docs = OpenDocuments(IndexConfig())
    doc = docs.set("m.py", BASE)
    assert doc._facts is None
    facts = docs.facts(doc)
    assert [s.name for s in facts.symbols] == ["Shape", "area", "compute"]
    newer = docs.set("m.py", BASE + "\ndef more():\n    pass\n")
    assert newer._facts is None and newer.stale_facts is facts
    assert docs.close("m.py") and docs.get("m.py") is None
