"""Collect training documents from directories, git repositories and JSONL corpora.

Every file from a directory or a repository goes through repo_index's path rules
(``PathRules(root).walk()``; a git revision is exported and walked the same way, with the
ignore files of that revision), so ignore files (.gitignore, .aiignore, .qwenpairignore ...) and the secret rules
apply to training data exactly as they do to prompts, and every text (JSONL records too) is
scanned whole for secret content (``repo_index.rules.contains_secret``). This module only reads and decodes:
it skips (and counts) files that are not UTF-8, binary or too large, tags each document with
its language, and yields them in a deterministic order (sorted paths), one at a time.

Source specs, as the CLI takes them:

- ``DIR``: the working tree under DIR.
- ``REPO@REV``: the files of a git revision (``my/repo@main``, ``.@HEAD~3``), read from the
  object store, not the working tree.
- ``FILE.jsonl``: one JSON object per line with ``text`` (and optional ``path``, ``repo``,
  ``lang``): for prose and maths corpora.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from repo_index.rules import PathRules, contains_secret, may_use_path
from training.data.languages import language_of
from training.errors import DataError

#: What each mix source is: the CLI flags --code, --text, --math.
KINDS = ("code", "text", "math")


@dataclass(frozen=True)
class Document:
    """One training document before it becomes samples."""

    text: str
    path: str  # relative to its repository root, POSIX separators
    repo: str  # repository (or corpus) name: <|repo_name|> of repo-level samples
    lang: str  # language tag (training.data.languages)
    kind: str  # mix source: code | text | math


@dataclass(frozen=True)
class Source:
    """A parsed source spec."""

    kind: str
    path: Path
    rev: str | None = None  # a git revision: read from the object store

    @property
    def label(self) -> str:
        return f"{self.path}@{self.rev}" if self.rev else str(self.path)


def parse_source(kind: str, spec: str) -> Source:
    """``DIR``, ``FILE``, ``FILE.jsonl`` or ``REPO@REV`` -> Source; clear error if missing."""
    if kind not in KINDS:
        raise DataError(f"unknown source kind {kind!r}: use one of {', '.join(KINDS)}")
    path, rev = Path(spec), None
    if not path.exists() and "@" in spec:
        head, _, rev = spec.rpartition("@")
        path = Path(head or ".")
    if not path.exists():
        raise DataError(f"source {spec!r} does not exist")
    if rev is not None and not _is_git_repo(path):
        raise DataError(f"source {spec!r}: {path} is not a git repository, so @{rev} means nothing")
    return Source(kind, path.resolve(), rev)


def iter_documents(source: Source, stats: Counter, *, max_file_bytes: int = 1_000_000) -> Iterator[Document]:
    """Yield the documents of one source, counting what is skipped and why in ``stats``."""
    if source.path.is_file() and source.path.suffix == ".jsonl":
        yield from _iter_jsonl(source, stats)
    elif source.rev is not None:
        yield from _iter_git(source, stats, max_file_bytes)
    elif source.path.is_file():
        yield from _iter_tree(source, stats, max_file_bytes, only=source.path)
    else:
        yield from _iter_tree(source, stats, max_file_bytes)


def decode(data: bytes, stats: Counter) -> str | None:
    """UTF-8 text, or None (counted) for binary and non-UTF-8 content."""
    if b"\x00" in data[:8192]:
        stats["binary"] += 1
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        stats["invalid_utf8"] += 1
        return None
    return text.removeprefix("\ufeff")


def repo_name(root: Path) -> str:
    """The repository's name: its origin remote's last path part when ``root`` is the top of
    a git repository with one, else the folder name."""
    root = root.resolve()

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    top = git("rev-parse", "--show-toplevel")
    url = git("config", "--get", "remote.origin.url") if top and Path(top).resolve() == root else ""
    if url:
        name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].removesuffix(".git")
        if name:
            return name
    return root.name


def _doc(source: Source, rel: str, text: str, repo: str) -> Document:
    return Document(text=text, path=rel, repo=repo, lang=language_of(rel, text), kind=source.kind)


def _iter_tree(source: Source, stats: Counter, max_bytes: int, only: Path | None = None,
               root: Path | None = None, repo: str | None = None) -> Iterator[Document]:
    root = root or (source.path.parent if only else source.path)
    repo = repo or repo_name(root)
    if only is not None:
        verdict = may_use_path(root, only, max_bytes=max_bytes)
        paths = [only] if verdict.allowed else []
        stats["files_seen"] += 1
        if not verdict.allowed:
            stats[f"excluded: {verdict.reason}"] += 1
    else:
        rules = PathRules(root, max_bytes=max_bytes)
        paths = rules.walk()  # sorted, allowed files only; the rest lands in rules.skipped
    for path in paths:
        if only is None:
            stats["files_seen"] += 1
        try:
            data = path.read_bytes()
        except OSError:
            stats["unreadable"] += 1
            continue
        if contains_secret(data):  # anywhere in the file, not only the sniffed head
            stats["excluded: secret file"] += 1
            continue
        text = decode(data, stats)
        if text is not None:
            yield _doc(source, path.relative_to(root).as_posix(), text, repo)
    if only is None:
        for reason, n in rules.skipped_counts().items():
            stats[f"excluded: {reason}"] += n


def _iter_git(source: Source, stats: Counter, max_bytes: int) -> Iterator[Document]:
    """The files of a revision, judged by the rules (ignore files included) as they stand in
    that revision: the tree is exported with ``git archive`` and walked like a directory."""
    top = subprocess.run(["git", "-C", str(source.path), "rev-parse", "--show-toplevel"],
                         capture_output=True, text=True).stdout.strip()  # empty in a bare repository
    repo = repo_name(Path(top) if top else source.path)
    with tempfile.TemporaryDirectory(prefix="qwenpair-git-") as tmp:
        root = Path(tmp) / repo
        root.mkdir()
        archive = subprocess.Popen(["git", "-C", str(source.path), "archive", "--format=tar", source.rev],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert archive.stdout is not None
        try:
            with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
                tar.extractall(root, filter="data")
        except tarfile.TarError as exc:
            raise DataError(f"cannot read {source.label}: {exc}") from exc
        finally:
            err = archive.communicate()[1]
        if archive.returncode != 0:
            raise DataError(f"git archive {source.rev} in {source.path} failed: {err.decode(errors='replace').strip()}")
        yield from _iter_tree(source, stats, max_bytes, root=root, repo=repo)


def _iter_jsonl(source: Source, stats: Counter) -> Iterator[Document]:
    name = source.path.stem
    with open(source.path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            stats["records_seen"] += 1
            line = decode(raw, stats)
            if line is None:
                continue
            try:
                record = json.loads(line)
                text = record["text"]
            except (ValueError, KeyError, TypeError):
                stats["bad_records"] += 1
                continue
            if not isinstance(text, str):
                stats["bad_records"] += 1
                continue
            if contains_secret(text):
                stats["excluded: secret file"] += 1
                continue
            path = str(record.get("path") or f"{name}/{n}")
            yield Document(
                text=text,
                path=path,
                repo=str(record.get("repo") or name),
                lang=str(record.get("lang") or language_of(path, text)),
                kind=source.kind,
            )


def _is_git_repo(path: Path) -> bool:
    try:
        return subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--git-dir"], capture_output=True, timeout=10
        ).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False
