"""Fixtures for the workspace-index tests: scratch workspaces and a scratch cache.

Every test gets its own cache directory (``QWENPAIR_CACHE_DIR``), so stores never leak
between tests or into the user's cache. ``make_tree`` writes a dict of relative paths to
text (str) or bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_index import IndexConfig, Workspace


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(cache))
    return cache


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def writer():
    """``write_tree`` itself, for tests that make trees in their own directories."""
    return write_tree


@pytest.fixture
def make_tree(tmp_path: Path):
    def make(files: dict[str, str | bytes], name: str = "ws") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        return write_tree(root, files)

    return make


@pytest.fixture
def open_ws():
    """Open workspaces that are closed at the end of the test."""
    opened: list[Workspace] = []

    def open_(root: Path, **config) -> Workspace:
        ws = Workspace.open(root, IndexConfig(**config))
        opened.append(ws)
        return ws

    yield open_
    for ws in opened:
        ws.close()
