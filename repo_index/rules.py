"""May this path be used? The one place that decides (docs/design.md §7).

Indexing, prompts, chat context and training data all ask here, so a file that is ignored or
secret for one of them is ignored or secret for all. The rules, in the order they are tried:

1. default excludes: VCS directories, node_modules, virtualenvs (any directory holding a
   ``pyvenv.cfg``), caches and build outputs (``DEFAULT_EXCLUDED_DIRS``);
2. secret files by name: ``.env*``, ``*.pem``, ``*.key``, ``id_rsa*``, credential JSONs ...
   (``SECRET_NAME_PATTERNS``); a symlink is judged by its own name and by its target's;
   a name with a control character (a newline would break a prompt's ``<|file_sep|>path``
   header) is skipped;
3. ignore files: ``.gitignore`` (nested, with negation), ``.ignore``, ``.aiignore`` and
   ``.qwenpairignore`` in every directory, plus ``.git/info/exclude``; within a directory
   later files in that list override earlier ones, deeper directories override shallower
   (``ignore_files``);
4. what the file is: not a regular file, unreadable, a symlink loop, too large, empty of text;
5. what the first bytes say (sniffing): binary (a NUL byte), a private key or a credential
   JSON ("secret file"), minified, generated (a "DO NOT EDIT" header, lock files).

A path outside the workspace root (or with no root) gets rules 2, 4 and 5 only.

Symlinks are judged by where they really lead (``os.path.realpath``), not only by their
names: a link (or a path through a linked directory) whose target is outside the root,
inside ``.git`` or another excluded directory, or under an ignore or secret rule is refused
("symlink target: ..."), whatever the link itself is called. ``scan`` never follows a linked
directory. See docs/security.md.

Not here: reading whole files (the indexer does, and scans all of each for secrets with
``repo_index.secrets``), or deciding for a prompt or a disk read (``repo_index.policy``).
Run ``python -m repo_index.rules PATH`` to see the verdict for one path.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple

from repo_index.file_kinds import (
    GENERATED_NAMES, SNIFF_BYTES, contains_private_key, contains_secret, is_binary_name, is_secret_name,
    judge_content,
)
from repo_index.ignore_files import IGNORE_FILES, IgnoreFiles

__all__ = [
    "PathRules", "PathVerdict", "ScanEntry", "may_use_path", "judge_content", "contains_private_key",
    "contains_secret", "has_control_chars", "CONTROL_NAME",
    "SNIFF_BYTES", "IGNORE_FILES", "DEFAULT_EXCLUDED_DIRS",
]

DEFAULT_MAX_BYTES = 1_000_000

#: Directory names never descended into, anywhere in the tree.
DEFAULT_EXCLUDED_DIRS = frozenset({
    # version control
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".jj", ".fossil",
    # dependencies and virtual environments
    "node_modules", "bower_components", "jspm_packages", ".venv", "venv", ".virtualenv",
    ".tox", ".nox", ".eggs", "vendor", "Pods", ".bundle",
    # caches
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache",
    ".parcel-cache", ".turbo", ".gradle", ".terraform", ".ipynb_checkpoints", ".import_linter_cache",
    # build outputs
    "build", "dist", "target", "out", "_build", ".next", ".nuxt", ".svelte-kit", ".output",
    "coverage", "htmlcov", "obj", "cmake-build-debug", "cmake-build-release",
    # editors
    ".idea", ".vs",
})
#: Directory-name globs excluded like the names above.
DEFAULT_EXCLUDED_DIR_GLOBS = ("*.egg-info", "*.dist-info")


@dataclass(frozen=True)
class PathVerdict:
    """Whether a path may be used, and if not, why (a short category for stats)."""

    allowed: bool
    reason: str = ""


ALLOWED = PathVerdict(True)


class ScanEntry(NamedTuple):
    """An allowed file found by ``PathRules.scan``; rel uses "/" separators."""

    rel: str
    size: int
    mtime_ns: int


def _is_excluded_dir_name(name: str) -> bool:
    if name in DEFAULT_EXCLUDED_DIRS:
        return True
    return any(fnmatch.fnmatchcase(name, g) for g in DEFAULT_EXCLUDED_DIR_GLOBS)


class PathRules:
    """The rules for one workspace root, with cached ignore files and directory verdicts.

    ``check(path)`` judges one path; ``walk()`` yields every allowed file below the root and
    records the skipped ones in ``skipped`` (relative path -> reason). Call ``reload()``
    after an ignore file changed. Not thread-safe for concurrent ``reload``; reads are fine.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        extra_ignores: tuple[str, ...] = (),
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.max_bytes = max_bytes
        self.extra_ignores = tuple(extra_ignores)
        self.skipped: dict[str, str] = {}
        self._dir_verdicts: dict[str, PathVerdict] = {}
        self._root_str = str(self.root)
        self._ignores = IgnoreFiles(self._root_str, self.extra_ignores)
        self._real_root = os.path.realpath(self._root_str)

    # -- public -------------------------------------------------------------------------

    def reload(self) -> None:
        """Forget cached ignore files and directory verdicts."""
        self._ignores.clear()
        self._dir_verdicts.clear()

    def relative(self, path: Path | str) -> str | None:
        """The root-relative POSIX path of ``path``, or None when it lies outside the root."""
        absolute = os.path.abspath(os.path.join(self._root_str, path))
        if absolute == self._root_str:
            return ""
        prefix = self._root_str.rstrip(os.sep) + os.sep
        if not absolute.startswith(prefix):
            return None
        rel = absolute[len(prefix):]
        return rel.replace(os.sep, "/") if os.sep != "/" else rel

    def check(self, path: Path | str, *, sniff: bool = True) -> PathVerdict:
        """Judge one file. ``sniff=False`` skips reading its first bytes."""
        rel = self.relative(path)
        absolute = os.path.abspath(os.path.join(self._root_str, path))
        if rel is None:
            return self._check_file(absolute, os.path.basename(absolute), None, sniff=sniff)
        if rel == "":
            return PathVerdict(False, "not a regular file")
        if has_control_chars(rel):
            return PathVerdict(False, CONTROL_NAME)
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            verdict = self.check_dir("/".join(parts[:depth]))
            if not verdict.allowed:
                return verdict
        real = os.path.realpath(absolute)
        if real != os.path.join(self._real_root, rel):  # a link somewhere along the path
            reason = self._judge_target(real)
            if reason:
                return PathVerdict(False, reason)
        return self._check_file(absolute, parts[-1], rel, sniff=sniff)

    def _judge_target(self, real: str) -> str:
        """Why a link's real target may not be used ("" when it may): outside the root, or
        refused there by a directory, secret-name or ignore rule."""
        if is_secret_name(os.path.basename(real)):
            return "secret file"
        prefix = self._real_root.rstrip(os.sep) + os.sep
        if not real.startswith(prefix):
            return "symlink target: outside the workspace"
        rel = real[len(prefix):].replace(os.sep, "/")
        if has_control_chars(rel):
            return f"symlink target: {CONTROL_NAME}"
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            verdict = self.check_dir("/".join(parts[:depth]))
            if not verdict.allowed:
                return f"symlink target: {verdict.reason}"
        source = self._ignores.ignored_by(rel, is_dir=False)
        return f"symlink target: ignored by {source}" if source else ""

    def check_dir(self, rel_dir: str) -> PathVerdict:
        """Judge a directory (root-relative POSIX path), assuming its parents are allowed."""
        cached = self._dir_verdicts.get(rel_dir)
        if cached is not None:
            return cached
        name = rel_dir.rsplit("/", 1)[-1]
        if _is_excluded_dir_name(name):
            verdict = PathVerdict(False, "excluded directory")
        elif self._is_environment(rel_dir):
            verdict = PathVerdict(False, "excluded directory")
        else:
            source = self._ignores.ignored_by(rel_dir, is_dir=True)
            verdict = PathVerdict(False, f"ignored by {source}") if source else ALLOWED
        self._dir_verdicts[rel_dir] = verdict
        return verdict

    def _is_environment(self, rel_dir: str) -> bool:
        """A virtualenv or conda environment under any name (env/, py311/ ...)."""
        directory = os.path.join(self._root_str, rel_dir)
        return os.path.isfile(os.path.join(directory, "pyvenv.cfg")) or os.path.isdir(
            os.path.join(directory, "conda-meta")
        )

    def is_ignore_file(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return name in IGNORE_FILES or rel == ".git/info/exclude"

    def scan(self) -> Iterator[ScanEntry]:
        """Every allowed file below the root, in sorted order, judged without reading it
        (the indexer sniffs content itself while it reads). Skips go to ``self.skipped``."""
        self.skipped = {}
        stack: list[str] = [""]
        while stack:
            rel_dir = stack.pop()
            directory = os.path.join(self._root_str, rel_dir) if rel_dir else self._root_str
            try:
                with os.scandir(directory) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self.skipped[rel_dir or "."] = _os_error_reason(exc)
                continue
            if not self._ignores.knows(rel_dir):  # the listing says which ignore files to read
                self._ignores.layers_for(rel_dir, {e.name for e in entries if e.name in IGNORE_FILES})
            subdirs: list[str] = []
            for entry in entries:
                name = entry.name
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if _has_surrogates(rel):
                    self.skipped[rel] = "undecodable file name"
                    continue
                if has_control_chars(name):
                    self.skipped[rel] = CONTROL_NAME
                    continue
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError as exc:
                    self.skipped[rel] = _os_error_reason(exc)
                    continue
                if is_dir:
                    verdict = self.check_dir(rel)
                    if verdict.allowed:
                        subdirs.append(rel)
                    else:
                        self.skipped[rel + "/"] = verdict.reason
                    continue
                if is_link and _points_to_dir(entry.path):
                    # Not followed: links to directories can loop or leave the workspace.
                    self.skipped[rel] = "symlinked directory"
                    continue
                verdict, st = self._judge_file(entry.path, name, rel, sniff=False)
                if not verdict.allowed or st is None:
                    self.skipped[rel] = verdict.reason or "not a regular file"
                    continue
                yield ScanEntry(rel, st.st_size, st.st_mtime_ns)
            stack.extend(reversed(subdirs))

    def walk(self, *, sniff: bool = True) -> Iterator[Path]:
        """Every allowed file below the root as an absolute Path, in sorted order.

        With ``sniff`` (the default) each file's first bytes are read too, so binary,
        minified, generated and secret-content files are left out; skips are recorded in
        ``self.skipped`` (relative path -> reason; directories end with "/").
        """
        for entry in self.scan():
            path = self.root / entry.rel
            if sniff and entry.size:
                reason = _sniff_path(str(path), entry.rel.rsplit("/", 1)[-1])
                if reason:
                    self.skipped[entry.rel] = reason
                    continue
            yield path

    def skipped_counts(self) -> Counter[str]:
        return Counter(self.skipped.values())

    # -- internals ----------------------------------------------------------------------

    def _check_file(self, absolute: str, name: str, rel: str | None, *, sniff: bool) -> PathVerdict:
        verdict, st = self._judge_file(absolute, name, rel, sniff=sniff)
        return verdict

    def _judge_file(
        self, absolute: str, name: str, rel: str | None, *, sniff: bool
    ) -> tuple[PathVerdict, os.stat_result | None]:
        if is_secret_name(name):
            return PathVerdict(False, "secret file"), None
        if rel is not None:
            source = self._ignores.ignored_by(rel, is_dir=False)
            if source:
                return PathVerdict(False, f"ignored by {source}"), None
        try:
            lst = os.lstat(absolute)
        except OSError as exc:
            return PathVerdict(False, _os_error_reason(exc)), None
        st = lst
        if stat.S_ISLNK(lst.st_mode):
            try:
                st = os.stat(absolute)
                target = os.path.realpath(absolute)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    return PathVerdict(False, "symlink loop"), None
                if isinstance(exc, FileNotFoundError):
                    return PathVerdict(False, "broken symlink"), None
                return PathVerdict(False, _os_error_reason(exc)), None
            if is_secret_name(os.path.basename(target)):
                return PathVerdict(False, "secret file"), None
            if rel is not None:  # inside a root: the target must be usable there too
                reason = self._judge_target(target)
                if reason:
                    return PathVerdict(False, reason), None
        if stat.S_ISDIR(st.st_mode):
            return PathVerdict(False, "not a regular file"), None
        if not stat.S_ISREG(st.st_mode):
            return PathVerdict(False, "not a regular file"), None
        if is_binary_name(name):
            return PathVerdict(False, "binary"), None
        if st.st_size > self.max_bytes:
            return PathVerdict(False, "too large"), None
        if name in GENERATED_NAMES:
            return PathVerdict(False, "generated"), None
        if sniff and st.st_size:
            reason = _sniff_path(absolute, name)
            if reason:
                return PathVerdict(False, reason), None
        return ALLOWED, st

def may_use_path(root: Path | str | None, path: Path | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> PathVerdict:
    """May ``path`` be indexed, put in a prompt, shown in chat or used for training?

    Inside ``root`` every rule applies; outside it (or with ``root=None``) only the secret,
    file-kind, size and content rules do. Reads ignore files fresh on every call; for many
    paths build one ``PathRules`` and call ``check``.
    """
    if root is None:
        absolute = os.path.abspath(path)
        rules = PathRules(os.path.dirname(absolute), max_bytes=max_bytes)
        return rules._check_file(absolute, os.path.basename(absolute), None, sniff=True)
    return PathRules(root, max_bytes=max_bytes).check(path)


def _sniff_path(path: str, name: str) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError as exc:
        return _os_error_reason(exc)
    return judge_content(name, head)


#: The reason a name with a control character is skipped (finding 10 of docs/security.md).
CONTROL_NAME = "control character in file name"
# C0 and C1 controls, DEL, and the separators str.splitlines() breaks on.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_chars(name: str) -> bool:
    """A newline (or another control character) in a path would let a file name write its
    own lines into a prompt; such files are skipped, with this reason."""
    return _CONTROL_RE.search(name) is not None


def _points_to_dir(path: str) -> bool:
    try:
        return os.path.isdir(path)
    except OSError:
        return False


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _os_error_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, FileNotFoundError):
        return "vanished"
    if isinstance(exc, PermissionError):
        return "unreadable"
    return "unreadable"


if __name__ == "__main__":  # python -m repo_index.rules PATH [ROOT]
    target = Path(sys.argv[1])
    workspace = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()
    print(may_use_path(workspace, target))
