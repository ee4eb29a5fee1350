"""Every reference to the design notes resolves to a heading inside the repository.

Code and docs cite the design as ``docs/design.md §N`` (a section whose heading starts with
``N.``) or ``docs/<page>.md#anchor`` (any heading, by GitHub's anchor); a plain
``docs/<page>.md`` must name a page that exists. Anything else that names a design file
(the old ``DESIGN.md`` outside the repository, ``../shared/...``) and any ``§`` that is not
part of a ``docs/<page>.md §N`` citation fails, with the file and line: a user reading the
code has only the repository. Inside a docs page, a bare ``§N`` cites that page's own section.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Where the project's own text lives (editors/ without its installed node_modules).
SCANNED = ("assistant", "bench", "docs", "editors", "lsp_server", "model", "qwenpair", "repo_index",
           "tests", "training", ".ci")
TOP_FILES = ("README.md", "pyproject.toml", "setup.sh")
SUFFIXES = {".py", ".md", ".toml", ".sh", ".lua", ".ts", ".vim", ".txt", ".json", ".cfg", ".ini", ".yaml", ".yml"}
SKIPPED_DIRS = {"node_modules", "__pycache__", ".venv", "out", "dist", ".vscode-test"}

#: A citation of a docs page, with an optional section number or anchor.
CITATION = re.compile(r"docs/(?P<page>[\w.-]+?\.md)(?:\s*§\s*(?P<section>\d+(?:\.\d+)*)|#(?P<anchor>[\w-]+))?")
#: Any path that names a design file; only ``docs/design.md`` is one.
DESIGN_NAME = re.compile(r"[\w./-]*" + "design" + r"\.md", re.IGNORECASE)
SECTION_SIGN = re.compile(r"§\s*(\d+(?:\.\d+)*)?")


def slug(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def headings(page: Path) -> list[str]:
    out, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line.lstrip("#").strip())
    return out


def numbered(titles: list[str], section: str) -> bool:
    return any(re.match(re.escape(section) + r"\.?\s", t) for t in titles)


def problems_in(text: str, docs: Path = DOCS, page: Path | None = None) -> list[str]:
    """What in ``text`` does not resolve, one message per reference; ``page`` is the docs page
    ``text`` comes from, whose own sections a bare ``§N`` cites."""
    problems: list[str] = []
    cited_spans = []
    for found in CITATION.finditer(text):
        cited_spans.append(found.span())
        page = docs / found["page"]
        ref = found.group(0)
        if not page.is_file():
            problems.append(f"{ref}: there is no docs/{found['page']}")
            continue
        titles = headings(page)
        if found["section"] and not numbered(titles, found["section"]):
            problems.append(f"{ref}: docs/{found['page']} has no heading numbered {found['section']}")
        if found["anchor"] and found["anchor"] not in {slug(t) for t in titles}:
            problems.append(f"{ref}: docs/{found['page']} has no heading with the anchor #{found['anchor']}")
    for found in DESIGN_NAME.finditer(text):
        name = found.group(0)
        if not (name == "docs/design.md" or name.endswith("/docs/design.md")):
            problems.append(f"{name}: not a page of this repository; cite docs/design.md §N or #heading")
    for found in SECTION_SIGN.finditer(text):
        if any(start <= found.start() < end for start, end in cited_spans):
            continue
        if page is not None and found[1]:
            if not numbered(headings(page), found[1]):
                problems.append(f"{found.group(0)}: this page has no heading numbered {found[1]}")
            continue
        problems.append("a § that is not part of a `docs/<page>.md §N` citation")
    return problems


def project_files() -> list[Path]:
    files = [ROOT / name for name in TOP_FILES if (ROOT / name).is_file()]
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).parts
            if path.is_file() and path.suffix in SUFFIXES and not SKIPPED_DIRS.intersection(rel):
                files.append(path)
    return files


def test_every_design_reference_in_the_repository_resolves():
    found = []
    for path in project_files():
        if path == Path(__file__).resolve():
            continue  # this file's examples of bad references are bad on purpose
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        page = path if path.parent == DOCS and path.suffix == ".md" else None
        for number, line in enumerate(text.splitlines(), 1):
            for problem in problems_in(line, page=page):
                found.append(f"{path.relative_to(ROOT)}:{number}: {problem}")
    assert not found, "references that do not resolve inside the repository:\n" + "\n".join(found)


def test_the_scan_sees_the_code_and_the_design_page():
    files = {str(p.relative_to(ROOT)) for p in project_files()}
    assert {"docs/design.md", "model/tokens.py", "tests/test_docs_refs.py", "README.md"} <= files
    assert not any("node_modules" in f for f in files)


def test_design_page_sections_are_numbered_for_citations():
    titles = headings(DOCS / "design.md")
    numbered = [t for t in titles if re.match(r"\d+\. ", t)]
    assert [int(t.split(".")[0]) for t in numbered] == list(range(1, len(numbered) + 1))
    assert len(numbered) >= 9


@pytest.mark.parametrize("text, problem", [
    ("(" + "DES" + "IGN.md §4: keep one warm context)", "not a page of this repository"),
    ("see ../shared/" + "DES" + "IGN.md", "not a page of this repository"),
    ("the figure in docs/design.md §42", "no heading numbered 42"),
    ("docs/design.md#no-such-heading", "no heading with the anchor"),
    ("docs/nowhere.md §1", "there is no docs/nowhere.md"),
    ("as the report says (§3)", "not part of a"),
])
def test_a_reference_that_does_not_resolve_is_reported(text, problem):
    assert any(problem in p for p in problems_in(text)), problems_in(text)


def test_inside_a_docs_page_a_bare_section_cites_that_page():
    design = DOCS / "design.md"
    assert problems_in("the budget (§5)", page=design) == []
    assert any("no heading numbered 42" in p for p in problems_in("see §42", page=design))
    assert any("not part of a" in p for p in problems_in("see § above", page=design))


@pytest.mark.parametrize("text", [
    "docs/design.md §4 (stable-first prompts)",
    "docs/design.md§3",
    "docs/design.md#stable-first-prompts-for-the-kv-cache",
    "docs/design.md#3-qwen25-coder-facts",
    "docs/security.md, \"control tokens\"",
    "nothing cited here",
])
def test_a_reference_that_resolves_is_accepted(text):
    assert problems_in(text) == []
