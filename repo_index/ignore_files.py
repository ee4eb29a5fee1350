"""Ignore files, layered as git layers them: which one, if any, excludes a path.

``.gitignore`` (nested, with negation), ``.ignore``, ``.aiignore`` and ``.qwenpairignore`` in
every directory, plus ``.git/info/exclude`` and the index settings' own patterns at the root.
Within a directory later files in ``IGNORE_FILES`` override earlier ones; deeper directories
override shallower. Each directory's files are read once and cached until ``clear``.

What it is not: the other path rules (``rules.PathRules`` asks here for step 3 of its list).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import pathspec

#: Ignore files read in every directory; a later one overrides an earlier one.
IGNORE_FILES = (".gitignore", ".ignore", ".aiignore", ".qwenpairignore")
#: An ignore file is read up to this many bytes (the default cap of indexed files).
_MAX_BYTES = 1_000_000


class _IgnoreLayer(NamedTuple):
    source: str  # e.g. ".gitignore", reported as "ignored by .gitignore"
    spec: pathspec.GitIgnoreSpec


class IgnoreFiles:
    """The ignore files below one root (``root`` an absolute path string); not thread-safe
    for ``clear``, reads are fine."""

    def __init__(self, root: str, extra_ignores: tuple[str, ...] = ()) -> None:
        self._root = root
        self.extra_ignores = extra_ignores
        self._layers: dict[str, tuple[_IgnoreLayer, ...]] = {}
        self._chains: dict[str, tuple[tuple[str, tuple[_IgnoreLayer, ...]], ...]] = {}

    def clear(self) -> None:
        """Forget every ignore file read (one of them changed)."""
        self._layers.clear()
        self._chains.clear()

    def knows(self, base: str) -> bool:
        """Whether directory ``base``'s ignore files have been read."""
        return base in self._layers

    def ignored_by(self, rel: str, *, is_dir: bool) -> str:
        """The ignore file that excludes ``rel`` ("" when none does). Deeper directories and
        later ignore files win, as in git; a negated pattern can re-include."""
        cut = rel.rfind("/")
        decision: str | None = None
        source = ""
        for base, layers in self._chain(rel[:cut] if cut >= 0 else ""):
            sub = (rel[len(base) + 1:] if base else rel) + ("/" if is_dir else "")
            for layer in layers:
                include = _direct_match(layer.spec, sub)
                if include is None:
                    continue
                decision = "ignored" if include else "kept"
                source = layer.source
        return source if decision == "ignored" else ""

    def _chain(self, directory: str) -> tuple[tuple[str, tuple[_IgnoreLayer, ...]], ...]:
        """(base, layers) of every directory from the root down to ``directory`` that has
        ignore rules, outermost first: most have none, and a file is then judged by the
        few that do, without building each ancestor's path again."""
        chain = self._chains.get(directory)
        if chain is None:
            cut = directory.rfind("/")
            parent = self._chain(directory[:cut] if cut >= 0 else "") if directory else ()
            layers = self.layers_for(directory)
            chain = parent + ((directory, layers),) if layers else parent
            self._chains[directory] = chain
        return chain

    def layers_for(self, base: str, present: set[str] | None = None) -> tuple[_IgnoreLayer, ...]:
        """The ignore layers of directory ``base``; ``present`` (from a listing of it) names
        the ignore files there, so the others are not tried."""
        layers = self._layers.get(base)
        if layers is not None:
            return layers
        found: list[_IgnoreLayer] = []
        directory = os.path.join(self._root, base) if base else self._root
        if base == "":
            found += self._load_layer(os.path.join(directory, ".git", "info", "exclude"), ".git/info/exclude")
            if self.extra_ignores:
                spec = pathspec.GitIgnoreSpec.from_lines(self.extra_ignores)
                found.append(_IgnoreLayer("index settings", spec))
        for ignore_name in IGNORE_FILES:
            if present is None or ignore_name in present:
                found += self._load_layer(os.path.join(directory, ignore_name), ignore_name)
        layers = tuple(found)
        self._layers[base] = layers
        return layers

    @staticmethod
    def _load_layer(path: str, source: str) -> list[_IgnoreLayer]:
        try:
            with open(path, "rb") as f:
                text = f.read(_MAX_BYTES).decode("utf-8", "replace")
        except OSError:
            return []
        try:
            spec = pathspec.GitIgnoreSpec.from_lines(text.splitlines())
        except Exception:  # a malformed line must not disable the other rules
            lines = []
            for line in text.splitlines():
                try:
                    pathspec.GitIgnoreSpec.from_lines([line])
                    lines.append(line)
                except Exception:
                    continue
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
        return [_IgnoreLayer(source, spec)] if spec.patterns else []


def _direct_match(spec: pathspec.GitIgnoreSpec, sub: str) -> bool | None:
    """Whether the last pattern of ``spec`` that matches ``sub`` itself excludes it (True),
    re-includes it (False), or no pattern does (None). pathspec also counts a directory
    pattern as matching everything below that directory; a path's ancestors are judged on
    their own here (and a path below an excluded one is never reached), so such a match says
    nothing about the path, and a negated one ("!src/") would wrongly re-include it."""
    result = spec.check_file(sub)
    if result.include is None or _matches_itself(spec.patterns[result.index], sub):
        return result.include  # nearly always: the winner matched the path itself
    for pattern in reversed(spec.patterns):
        if pattern.include is not None and _matches_itself(pattern, sub):
            return pattern.include
    return None


def _matches_itself(pattern, sub: str) -> bool:
    match = pattern.regex.match(sub) if pattern.regex is not None else None
    if match is None:
        return False
    if "ps_d" in match.re.groupindex and match.group("ps_d") is not None:
        return match.end("ps_d") == len(sub)  # not just an ancestor directory of it
    return True
