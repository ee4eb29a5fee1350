"""Golden cases: a document with a cursor marker, the raw model output, the expected result.

Each file in ``golden/`` holds ``key: value`` header lines, then sections::

    language: python          (required; a language id)
    mode: multi               (optional: the decision the context must reach, single|multi)
    indent: tab | 2 | 4       (optional: the file's indent unit, when the document is too short)
    parses: yes               (optional: the document with the result inserted parses cleanly)
    about: one line saying what the case is for
    --- document ---
    text with one ‸ at the cursor
    --- raw ---
    what the model returned
    --- expected ---
    what the chain must return

A section is the lines between its header and the next, joined with newlines (an empty line
right before the next header is a trailing newline). ``--- raw (json) ---`` takes one JSON
string instead, for whitespace that must be seen: tabs, trailing spaces.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from pp_cursor import at

from assistant.postprocess import decide_line_mode, format_steps, run_chain

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.txt"))
_HEADER = re.compile(r"^--- (document|raw|expected)( \(json\))? ---$")


@dataclass
class Golden:
    name: str
    meta: dict[str, str]
    document: str
    raw: str
    expected: str


def load(path: Path) -> Golden:
    text = path.read_text(encoding="utf-8")
    text = text[:-1] if text.endswith("\n") else text
    meta: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    json_sections: set[str] = set()
    current: list[str] | None = None
    for line in text.split("\n"):
        header = _HEADER.match(line)
        if header:
            current = sections.setdefault(header[1], [])
            if header[2]:
                json_sections.add(header[1])
        elif current is not None:
            current.append(line)
        elif line.strip():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    assert set(sections) == {"document", "raw", "expected"}, f"{path.name}: sections {sorted(sections)}"
    assert "language" in meta, f"{path.name}: no language"
    body = {k: json.loads("\n".join(v)) if k in json_sections else "\n".join(v) for k, v in sections.items()}
    return Golden(path.stem, meta, body["document"], body["raw"], body["expected"])


def _indent(meta: dict[str, str]) -> str | None:
    value = meta.get("indent")
    return None if value is None else "\t" if value == "tab" else " " * int(value)


def _visible(text: str) -> list[str]:
    """Lines with tabs and line ends shown, so whitespace-only differences can be seen."""
    lines = [line.replace("\t", "→   ") for line in text.split("\n")]
    return [line + "⏎" for line in lines[:-1]] + lines[-1:]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path):
    case = load(path)
    ctx = at(case.document, case.meta["language"], indent_unit=_indent(case.meta))
    if "mode" in case.meta:
        assert ("multi" if ctx.multiline else "single") == case.meta["mode"], decide_line_mode(ctx).reason
    steps: list = []
    actual = run_chain(case.raw, ctx, steps=steps)
    if actual != case.expected:
        diff = "\n".join(
            difflib.unified_diff(_visible(case.expected), _visible(actual), "expected", "actual", lineterm="")
        )
        pytest.fail(f"{case.name}: the chain's result differs\n{diff}\n\nsteps:\n{format_steps(steps)}")


@pytest.mark.parametrize(
    "path", [p for p in CASES if "parses: yes" in p.read_text(encoding="utf-8")], ids=lambda p: p.stem
)
def test_golden_result_leaves_the_document_parsing(path: Path):
    """The expected result, inserted at the cursor, gives a file tree-sitter parses without errors."""
    from tree_sitter_language_pack import get_parser

    case = load(path)
    prefix, suffix = case.document.split("‸")
    source = (prefix + case.expected + suffix).encode()
    tree = get_parser(case.meta["language"]).parse(source)
    assert not tree.root_node.has_error, f"{case.name}:\n{source.decode()}"


def test_golden_cases_cover_the_languages_and_situations():
    cases = [load(p) for p in CASES]
    assert len(cases) >= 20
    languages = {c.meta["language"] for c in cases}
    assert {"python", "go", "rust", "c"} <= languages and languages & {"javascript", "typescript", "tsx"}
    modes = {c.meta.get("mode") for c in cases}
    assert {"single", "multi"} <= modes
    assert any(c.expected == "" for c in cases)
