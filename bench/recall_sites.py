"""Cross-file call sites for the context-recall benchmark (bench/context_recall.py).

A ``Site`` is one call ``name(`` whose callee is defined in another file of the same
repository, as the language's own parser and the repository's imports say
(``recall_python`` for Python, ``recall_js`` for JavaScript/TypeScript). This module holds
what both share: the record, the editor's view of a document with the cursor just after the
``(``, and the seeded sample. It does not rank or retrieve anything.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Site:
    path: str
    """The calling file, relative to the repository root, "/"-separated."""
    line: int
    """0-based line of the ``(``."""
    col: int
    """Characters (code points) before the cursor on that line: just after the ``(``."""
    name: str
    """The callee as written (``f``, ``mod.f``)."""
    def_path: str
    """The file that defines the callee."""
    def_line: int
    """0-based line of its ``def``/``class``/``function`` line there."""
    def_text: str
    """That line, stripped: what must appear in the prompt for the site to count."""
    alternates: tuple[tuple[int, str], ...] = ()
    """Other (line, text) declaring the same callee in that file, which count as well:
    ``@overload`` signatures, TypeScript overload signatures."""

    def as_dict(self) -> dict:
        return asdict(self)


def editor_text(text: str, line: int, col: int) -> str:
    """The document as an editor holds it just after ``name(`` was typed: the rest of the
    cursor line is gone (the arguments are not written yet), the lines after it are kept."""
    lines = text.split("\n")
    lines[line] = lines[line][:col]
    return "\n".join(lines)


def sample(sites: list[Site], limit: int, seed: int) -> list[Site]:
    """At most ``limit`` distinct sites, the same ones for the same seed, in file order."""
    unique = sorted(set(sites))
    if len(unique) > limit:
        unique = sorted(random.Random(seed).sample(unique, limit))
    return unique


def source_files(root: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Files under ``root`` with these suffixes, relative and sorted; caches, dependency
    folders and bundles (``dist``, ``node_modules``, ``*.min.js``, ``*.d.ts``) left out."""
    skip = {"__pycache__", "node_modules", "dist", ".git"}
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in skip for part in rel.parts[:-1]) or not path.is_file():
            continue
        name = path.name
        if name.endswith(suffixes) and not name.endswith((".d.ts", ".min.js")):
            out.append(rel.as_posix())
    return sorted(out)


def line_text(lines: list[str], row: int) -> str:
    return lines[row].strip() if 0 <= row < len(lines) else ""


def char_col(line: str, byte_col: int) -> int:
    """A UTF-8 byte offset on ``line`` (what ``ast`` reports) as a code point offset."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
