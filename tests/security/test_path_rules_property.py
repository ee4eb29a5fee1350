"""Findings 1 and 10 of issue 14, as a property: hypothesis builds random file trees.

Each example is a real directory: nested folders (some named ``.git``, ``node_modules`` or
``private``), files (some with secret names or control characters), ``.gitignore`` files with
patterns and negations, and symlinks to files and folders inside the root, outside it,
into ``.git``, to ignored paths, to missing paths, and to other links. The invariant, for
everything the path rules let through (``PathRules.scan``, what the index reads) and
everything ``SourcePolicy`` allows (what a prompt or training reads):

- its real path (every link followed) is inside the root;
- neither the path as named nor its real path passes through an excluded directory
  (``.git``, ``node_modules`` ...), has a secret name or a control character;
- git itself (``git check-ignore --no-index``, an independent implementation of the ignore
  rules) ignores neither the path as named nor its real path.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repo_index import SourcePolicy
from repo_index.file_kinds import is_secret_name
from repo_index.rules import DEFAULT_EXCLUDED_DIRS, PathRules, has_control_chars

DIRS = ["src", "a", "b", "private", ".git", "node_modules", "deep"]
FILES = ["x.py", "keep.py", "top.py", ".env", "id_rsa", "notes.log", "secret_1.py", "deep.py", "new\nline.py"]
PATTERNS = ["private/", "*.log", "secret_*.py", "b/", "!keep.py", "/top.py", "a/**/deep.py", "src/x.py", "deep/"]

folder = st.lists(st.sampled_from(DIRS), min_size=0, max_size=3).map(lambda parts: "/".join(parts))
file_entry = st.tuples(folder, st.sampled_from(FILES))
ignore_entry = st.tuples(folder.filter(lambda d: ".git" not in d.split("/")),
                         st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3))
# A link: where it is, its name, and what it points at (resolved against the tree later).
link_target = st.one_of(
    st.tuples(st.just("file"), st.integers(0, 50)),  # one of the files made (by index)
    st.tuples(st.just("dir"), folder),  # a folder inside the root
    st.tuples(st.just("outside"), st.sampled_from(["leak.py", "", "sub/inner.py"])),
    st.tuples(st.just("git"), st.sampled_from(["config", ""])),
    st.tuples(st.just("missing"), st.just("nothing.py")),
    st.tuples(st.just("link"), st.integers(0, 50)),  # another link (chains, loops)
)
link_entry = st.tuples(folder.filter(lambda d: ".git" not in d.split("/")),
                       st.sampled_from(["l.py", "ln.py", "dirlink", "keep.py", "x.py"]), link_target,
                       st.booleans())  # an absolute target, else relative to the link's folder
trees = st.tuples(st.lists(file_entry, min_size=1, max_size=12), st.lists(ignore_entry, max_size=3),
                  st.lists(link_entry, max_size=6))


def build(base: Path, files, ignores, links) -> tuple[Path, list[Path]]:
    root, outside = base / "root", base / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "leak.py").write_text("LEAK = 1\n")
    (outside / "sub" / "inner.py").write_text("INNER = 1\n")
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)  # makes .git/config
    made: list[Path] = []
    for directory, name in files:
        path = root / directory / name if directory else root / name
        if path.exists() or any(p.is_symlink() for p in [path, *path.parents]):
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("value = 1\n")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        made.append(path)
    for directory, patterns in ignores:
        target = (root / directory if directory else root) / ".gitignore"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n".join(patterns) + "\n")
        except (FileExistsError, NotADirectoryError):
            continue
    links_made: list[Path] = []
    for directory, name, (kind, arg), absolute in links:
        where = root / directory if directory else root
        link = where / name
        if kind == "file":
            if not made:
                continue
            dest = str(made[arg % len(made)])
        elif kind == "dir":
            dest = str(root / arg) if arg else str(root)
        elif kind == "outside":
            dest = str(outside / arg) if arg else str(outside)
        elif kind == "git":
            dest = str(root / ".git" / arg) if arg else str(root / ".git")
        elif kind == "missing":
            dest = str(root / arg)
        else:
            if not links_made:
                continue
            dest = str(links_made[arg % len(links_made)])
        try:
            where.mkdir(parents=True, exist_ok=True)
            if link.exists() or link.is_symlink():
                continue
            os.symlink(dest if absolute else os.path.relpath(dest, where), link)
        except (FileExistsError, NotADirectoryError, OSError):
            continue
        links_made.append(link)
    candidates = made + links_made
    # paths through linked folders, as an editor or a user could name them
    for link in links_made:
        if link.is_dir():
            candidates += [link / "x.py", link / "keep.py", link / "leak.py", link / "config"]
    return root, candidates


def git_ignored(root: Path, rels: set[str]) -> set[str]:
    """The subset of ``rels`` git would ignore (its own reading of the .gitignore files)."""
    rels = {r for r in rels if r and not has_control_chars(r)}
    if not rels:
        return set()
    out = subprocess.run(["git", "-C", str(root), "check-ignore", "--no-index", "--stdin"],
                         input="\n".join(sorted(rels)) + "\n", capture_output=True, text=True)
    return set(out.stdout.splitlines())


def violations(root: Path, allowed: list[Path]) -> list[str]:
    real_root = os.path.realpath(root)
    named = {p: os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/") for p in allowed}
    real = {}
    problems = []
    for path in allowed:
        target = os.path.realpath(path)
        if not target.startswith(real_root + os.sep):
            problems.append(f"{named[path]} -> {target}: outside the root")
            continue
        real[path] = os.path.relpath(target, real_root).replace(os.sep, "/")
    ignored = git_ignored(root, set(named.values()) | set(real.values()))
    for path in allowed:
        for rel in filter(None, (named[path], real.get(path))):
            parts = rel.split("/")
            if any(part in DEFAULT_EXCLUDED_DIRS for part in parts[:-1]):
                problems.append(f"{named[path]} ({rel}): in an excluded directory")
            if is_secret_name(parts[-1]) or has_control_chars(rel):
                problems.append(f"{named[path]} ({rel}): secret or control-character name")
            if rel in ignored:
                problems.append(f"{named[path]} ({rel}): ignored by git")
    return problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_nothing_allowed_leaves_the_root_or_reaches_an_ignored_or_secret_path(tree):
    """findings 1 and 10: the invariant holds for the index's scan and for the policy."""
    files, ignores, links = tree
    with tempfile.TemporaryDirectory(prefix="qp-tree-") as tmp:
        root, candidates = build(Path(tmp), files, ignores, links)
        scanned = [root / entry.rel for entry in PathRules(root).scan()]
        policy = SourcePolicy(root)
        judged = [p for p in candidates if policy.judge(p, use="context").allowed]
        read = [p for p in candidates if policy.read(p, use="context")[0] is not None]
        problems = violations(root, scanned) + violations(root, judged) + violations(root, read)
        assert not problems, problems
        # Liveness: a plain file nobody ignores is still allowed (the rules are not "refuse all").
        plain = [p for p in candidates if not p.is_symlink() and p.name == "x.py" and p.parent == root / "src"
                 and not (root / "src" / ".gitignore").exists() and not (root / ".gitignore").exists()]
        for path in plain:
            assert path in judged, path
