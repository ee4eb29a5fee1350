"""Golden cases: a document with a cursor marker, the raw model output, the expected item.

Each file in ``golden/`` holds ``key: value`` header lines, then sections::

    language: python          (required; a language id)
    mode: multi               (optional: the decision the context must reach, single|multi)
    indent: tab | 2 | 4       (optional: the file's indent unit, when the document is too short)
    parses: yes               (optional: the document with the result applied parses cleanly)
    range: 4:10-4:12          (required: the range the item replaces, 0-based line:character
                               in the document; start == end is an insertion at the cursor)
    expected_failure: reason  (optional: a known-bad case — the chain does not give the
                               expected item yet, and this says why; the run reports it as
                               xfail, strictly, so a case that starts passing is noticed)
    about: one line saying what the case is for
    --- document ---
    text with one ‸ at the cursor
    --- raw ---
    what the model returned
    --- expected ---
    the item's text

A section is the lines between its header and the next, joined with newlines (an empty line
right before the next header is a trailing newline). ``--- raw (json) ---`` (or expected)
takes one JSON string instead, for whitespace that must be seen: tabs, trailing spaces.

``QWENPAIR_UPDATE_GOLDEN=1`` writes the chain's item into the cases that are not known-bad
(their expected section and range) and skips them, saying so (tests/golden.py); review the
diff like code.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from pp_cursor import MARKER, at

from assistant.postprocess import decide_line_mode, format_steps, shape_completion
from tests.golden import rewrite, updating, xfail_param

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.txt"))
_HEADER = re.compile(r"^--- (document|raw|expected)( \(json\))? ---$")
_RANGE = re.compile(r"^(\d+):(\d+)-(\d+):(\d+)$")


@dataclass
class Golden:
    name: str
    meta: dict[str, str]
    document: str
    raw: str
    expected: str
    json_sections: set[str]

    @property
    def range(self) -> tuple[int, int, int, int]:
        found = _RANGE.match(self.meta.get("range", ""))
        assert found, f"{self.name}: `range: line:char-line:char` is required"
        sl, sc, el, ec = map(int, found.groups())
        return sl, sc, el, ec


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
    return Golden(path.stem, meta, body["document"], body["raw"], body["expected"], json_sections)


def dump(case: Golden) -> str:
    """The file text of ``case`` (the inverse of ``load``)."""
    head = [f"{k}: {v}" for k, v in case.meta.items()]

    def section(name: str, value: str) -> list[str]:
        trailing = any(line != line.rstrip(" \t") for line in value.split("\n"))
        if name in case.json_sections or (name != "document" and trailing):
            return [f"--- {name} (json) ---", json.dumps(value)]
        return [f"--- {name} ---", value]

    parts = head + section("document", case.document) + section("raw", case.raw) + section("expected", case.expected)
    return "\n".join(parts) + "\n"


def cursor_of(document: str) -> tuple[int, int]:
    """0-based (line, character) of the marker."""
    before = document[: document.index(MARKER)]
    return before.count("\n"), len(before) - (before.rfind("\n") + 1)


def _indent(meta: dict[str, str]) -> str | None:
    value = meta.get("indent")
    return None if value is None else "\t" if value == "tab" else " " * int(value)


def _visible(text: str) -> list[str]:
    """Lines with tabs and line ends shown, so whitespace-only differences can be seen."""
    lines = [line.replace("\t", "→   ") for line in text.split("\n")]
    return [line + "⏎" for line in lines[:-1]] + lines[-1:]


def run_case(case: Golden):
    """(context, shown item, steps) of the chain on ``case``."""
    ctx = at(case.document, case.meta["language"], indent_unit=_indent(case.meta))
    steps: list = []
    return ctx, shape_completion(case.raw, ctx, steps=steps), steps


def applied(case: Golden, text: str, replace: int) -> str:
    """The document with ``text`` put at the cursor over ``replace`` characters."""
    prefix, suffix = case.document.split(MARKER)
    return prefix + text + suffix[replace:]


def _params():
    return [xfail_param(path, load(path).meta.get("expected_failure"), id=path.stem) for path in CASES]


@pytest.mark.parametrize("path", _params())
def test_golden(path: Path):
    case = load(path)
    ctx, shown, steps = run_case(case)
    line, col = cursor_of(case.document)
    actual_range = (line, col, line, col + shown.replace)
    if "expected_failure" not in case.meta and updating():
        case.expected = shown.text
        case.meta["range"] = "{}:{}-{}:{}".format(*actual_range)
        rewrite(path, dump(case))
    if "mode" in case.meta:
        assert ("multi" if ctx.multiline else "single") == case.meta["mode"], decide_line_mode(ctx).reason
    problems = []
    if shown.text != case.expected:
        diff = "\n".join(
            difflib.unified_diff(_visible(case.expected), _visible(shown.text), "expected", "actual", lineterm="")
        )
        problems.append(f"the text differs\n{diff}")
    if actual_range != case.range:
        problems.append(f"the range is {actual_range}, expected {case.range}")
    if problems:
        pytest.fail(f"{case.name}: " + "\n".join(problems) + f"\n\nsteps:\n{format_steps(steps)}")


@pytest.mark.parametrize(
    "path", [p for p in CASES if "parses: yes" in p.read_text(encoding="utf-8")], ids=lambda p: p.stem
)
def test_golden_result_leaves_the_document_parsing(path: Path):
    """The expected item, applied over its range, gives a file tree-sitter parses without errors."""
    from tree_sitter_language_pack import get_parser

    case = load(path)
    sl, sc, el, ec = case.range
    assert sl == el, f"{case.name}: a range spans one line"
    source = applied(case, case.expected, ec - sc).encode()
    tree = get_parser(case.meta["language"]).parse(source)
    assert not tree.root_node.has_error, f"{case.name}:\n{source.decode()}"


def test_golden_ranges_start_at_the_cursor():
    for path in CASES:
        case = load(path)
        line, col = cursor_of(case.document)
        assert case.range[:2] == (line, col), case.name


def test_golden_cases_cover_the_languages_and_situations():
    cases = [load(p) for p in CASES]
    assert len(cases) >= 80
    languages = {c.meta["language"] for c in cases}
    assert {"python", "go", "rust", "c", "java", "ruby"} <= languages and languages & {"javascript", "typescript"}
    assert len(languages) >= 6
    modes = {c.meta.get("mode") for c in cases}
    assert {"single", "multi"} <= modes
    assert any(c.expected == "" for c in cases)
    assert sum(c.range[3] > c.range[1] for c in cases) >= 10, "replace ranges"
    known_bad = [c for c in cases if "expected_failure" in c.meta]
    assert all(c.meta["expected_failure"] for c in known_bad), "a known-bad case says why"
