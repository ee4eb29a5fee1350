"""What a JavaScript/TypeScript module exports, beyond what the symbol queries list.

``export default function f``: the definition whose line says so. CommonJS: ``module.exports
= f`` names the definition a ``require`` binds; ``module.exports = function (...) {`` and
``module.exports = (...) => {`` and ``exports.f = function ...`` are assignments, so the symbol queries do not list them: here
they become definitions spanning the assignment (to its closing brace at the margin). Used
by ``lookup`` when an import resolves to a file but not to a listed definition.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from repo_index.facts import Definition

if TYPE_CHECKING:
    from repo_index.gathering import Retrieval

_EXPORTS = re.compile(r"\s*module\.exports\s*=\s*(?:function\s+|class\s+)?([\w$]+)")
_EXPORTS_ARROW = re.compile(r"\s*module\.exports\s*=\s*\(")  # `module.exports = ({ a, b }) => {`


def default_export(r: "Retrieval", rel: str) -> list[Definition]:
    """``export default``: the top-level definition whose line says so."""
    lines = r.lines_of(rel) or []
    return [d for d in r.file_symbols(rel) if not d.parent and d.start_line < len(lines)
            and "export default" in lines[d.start_line]][:1]


def module_export(r: "Retrieval", rel: str, local: str) -> list[Definition]:
    """What ``const local = require(rel)`` binds: the definition ``module.exports = name``
    (or ``export default``) names, else a top-level definition named like ``local``."""
    lines = r.lines_of(rel) or []
    top = {d.name: d for d in r.file_symbols(rel) if not d.parent}
    for row in range(len(lines) - 1, -1, -1):
        if "module.exports" not in lines[row]:
            continue
        match = _EXPORTS.match(lines[row])
        if match and match.group(1) in top:
            return [top[match.group(1)]]
        if (match and match.group(1) in ("function", "class", "async")) or _EXPORTS_ARROW.match(lines[row]):
            return [_assigned(rel, local, lines, row)]
    return default_export(r, rel) or ([top[local]] if local in top else [])


def exported_assignment(r: "Retrieval", rel: str, name: str) -> list[Definition]:
    """``exports.name = function ...`` (or ``module.exports.name = ...``)."""
    lines = r.lines_of(rel) or []
    pattern = re.compile(rf"\s*(?:module\.)?exports\.{re.escape(name)}\s*=")
    return [_assigned(rel, name, lines, row) for row, line in enumerate(lines)
            if "exports." in line and pattern.match(line)][:1]


def _assigned(rel: str, name: str, lines: list[str], row: int) -> Definition:
    """An assignment as a definition: from its line to the closing brace at the margin."""
    end = row + 1
    if lines[row].rstrip().endswith(("{", "(")):
        for r in range(row + 1, min(len(lines), row + 200)):
            if lines[r][:1] in ("}", ")"):
                end = r + 1
                break
    return Definition(rel, name, "function", "", row, end, lines[row].strip(), -1, -1, row + 1)
