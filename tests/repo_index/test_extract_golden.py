"""Golden tests: what extraction finds in one sample file per language.

Each fixture under ``fixtures/langs/`` is rendered (symbols with kind, parent, span, header
end, signature and doc span; imports; windows) and compared with
``golden/<fixture>.txt``. A failure prints a unified diff. After a deliberate change, run
with ``QWENPAIR_UPDATE_GOLDEN=1`` (the tests then skip, saying what they wrote; see
tests/golden.py) and review the golden diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repo_index.chunking import unpack_windows
from repo_index.config import IndexConfig
from repo_index.chunking import line_starts
from repo_index.extract import _Lines, extract
from repo_index.facts import FileFacts
from tests.golden import check_text

HERE = Path(__file__).parent
FIXTURES = sorted((HERE / "fixtures" / "langs").iterdir())
GOLDEN = HERE / "golden"


def render(facts: FileFacts) -> str:
    out = [f"language: {facts.language}", f"package: {facts.package}", f"lines: {facts.n_lines}",
           f"notes: {', '.join(facts.notes)}", "symbols:"]
    for s in facts.symbols:
        owner = f"{s.parent}." if s.parent else ""
        doc = f"doc [{s.doc_start}-{s.doc_end})" if s.doc_start >= 0 else "no doc"
        out.append(f"  {s.kind:<9} {owner}{s.name}  [{s.start_line}-{s.end_line}) head<{s.head_end_line} {doc}")
        out.append(f"            {s.signature}")
    out.append("imports:")
    for i in facts.imports:
        names = f" names={','.join(i.names)}" if i.names else ""
        out.append(f"  line {i.line}: {i.module}{names}{' (relative)' if i.relative else ''}")
    w = unpack_windows(facts.windows)
    out.append("windows: " + " ".join(f"[{a}-{b})" for a, b in zip(w.starts.tolist(), w.ends.tolist())))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_symbols_golden(fixture: Path):
    facts = extract(fixture.name, fixture.read_bytes(), config=IndexConfig())
    assert isinstance(facts, FileFacts)
    check_text(GOLDEN / f"{fixture.name}.txt", render(facts), what="extracted")


def test_every_required_language_has_a_golden_fixture():
    languages = {extract(f.name, f.read_bytes(), config=IndexConfig()).language for f in FIXTURES}
    assert languages >= {"python", "javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp",
                         "csharp", "ruby", "php", "lua"}


def test_every_fixture_defines_its_functions_classes_and_constants():
    # A check that does not depend on the golden files being right: each sample's known
    # definitions are found with the right kind.
    expected = {
        "sample.py": {("Shape", "class"), ("area", "method"), ("compute", "function"), ("MAX_SIZE", "constant")},
        "sample.js": {("Shape", "class"), ("area", "method"), ("compute", "function"), ("MAX_SIZE", "constant")},
        "sample.ts": {("Named", "interface"), ("Shape", "class"), ("compute", "function"), ("Color", "enum")},
        "sample.tsx": {("Panel", "function"), ("Store", "class"), ("load", "method")},
        "sample.go": {("Shape", "struct"), ("Named", "interface"), ("Area", "method"), ("compute", "function"),
                      ("MaxSize", "constant")},
        "sample.rs": {("Shape", "struct"), ("Area", "interface"), ("compute", "function"), ("MAX_SIZE", "constant"),
                      ("new", "method")},
        "Sample.java": {("Sample", "class"), ("area", "method"), ("Named", "interface"), ("MAX_SIZE", "constant")},
        "sample.c": {("shape", "struct"), ("compute", "function"), ("MAX_SIZE", "constant")},
        "sample.cpp": {("Shape", "class"), ("area", "method"), ("compute", "function"), ("Point", "struct")},
        "Sample.cs": {("Shape", "class"), ("Area", "method"), ("INamed", "interface"), ("MaxSize", "constant")},
        "sample.rb": {("Shape", "class"), ("area", "method"), ("Geometry", "module"), ("MAX_SIZE", "constant")},
        "sample.php": {("Shape", "class"), ("area", "method"), ("compute", "function"), ("Named", "interface")},
        "sample.lua": {("compute", "function"), ("area", "method"), ("MAX_SIZE", "constant")},
    }
    for fixture in FIXTURES:
        facts = extract(fixture.name, fixture.read_bytes(), config=IndexConfig())
        found = {(s.name, s.kind) for s in facts.symbols}
        assert expected[fixture.name] <= found, (fixture.name, expected[fixture.name] - found)


def test_syntax_errors_are_noted_and_the_rest_still_extracted():
    source = b"def good(a):\n    return a\n\ndef broken(:\n    pass\n\nclass Fine:\n    pass\n"
    facts = extract("broken.py", source, config=IndexConfig())
    assert "syntax errors" in facts.notes
    assert {"good", "Fine"} <= {s.name for s in facts.symbols}


def test_non_utf8_is_noted_and_indexed():
    facts = extract("latin.py", "# caf\xe9\ndef f():\n    return 'na\xefve'\n".encode("latin-1"), config=IndexConfig())
    assert isinstance(facts, FileFacts)
    assert "non-UTF-8" in facts.notes
    assert [s.name for s in facts.symbols] == ["f"]


def test_plain_text_gets_line_windows():
    text = "\n".join(f"paragraph {i} line {j}" for i in range(5) for j in range(8)).encode()
    facts = extract("notes.md", text, config=IndexConfig())
    assert facts.language == "" and facts.symbols == ()
    w = unpack_windows(facts.windows)
    assert w.starts[0] == 0 and w.ends[-1] == facts.n_lines


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=60) | st.text(alphabet=" \t\r\n\x0b\x1c\x85\xa0#@-é", max_size=60).map(str.encode))
def test_lines_lstripped_is_the_start_of_the_decoded_line_lstripped(data):
    # Comments and attributes above a definition are found by prefix on ``lstripped``,
    # which skips decoding: it must agree with the decoded line, Unicode blanks included.
    lines = _Lines(data, line_starts(data))
    for row in range(-1, lines.n + 1):
        assert lines.lstripped(row) == lines.line(row).lstrip()[:16]
