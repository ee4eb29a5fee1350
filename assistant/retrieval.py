"""The bridge from the engine to repo_index: retrieval and the prompt path policy.

``WorkspaceRetriever`` adapts ``repo_index.Workspace.retrieve`` to the engine's
``Retriever`` protocol. ``PromptPolicy`` applies repo_index's single "may this path be
used" rule set to the document being completed: a secret file, or one under an ignore rule
or an excluded directory, never enters a prompt. Files skipped only for what they look like
on disk (too large, minified, generated, not saved yet) still get a file-level completion:
the user is typing in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from repo_index import IndexConfig, PathRules, Snippet, Workspace

#: Verdicts that keep a document out of every prompt.
REFUSED = ("secret file", "excluded directory")


class PromptPolicy:
    def __init__(self, root: Path | None, *, max_bytes: int = 1_000_000) -> None:
        self.root = root
        self._rules = PathRules(root, max_bytes=max_bytes) if root is not None else None

    def __call__(self, path: Path) -> tuple[bool, str]:
        rules = self._rules
        if rules is None or not _inside(path, self.root):
            rules = PathRules(path.parent)
        verdict = rules.check(path, sniff=False)
        if not verdict.allowed and (verdict.reason in REFUSED or verdict.reason.startswith("ignored by")):
            return False, verdict.reason
        return True, ""

    def reload(self) -> None:
        if self._rules is not None:
            self._rules.reload()


class WorkspaceRetriever:
    """Definitions and similar windows from the workspace index, unsaved buffers included."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def retrieve(self, path: Path, text: str, line: int, col: int) -> Sequence[Snippet]:
        return self.workspace.retrieve(path, text, line, col)


def workspace_retriever(root: Path, config: IndexConfig | None = None, *, build: bool = True):
    """(retriever, close) for ``root``: opens (and brings up to date) its persisted index."""
    workspace = Workspace.open(root, config)
    if build:
        workspace.build()
    return WorkspaceRetriever(workspace), workspace.close


def _inside(path: Path, root: Path | None) -> bool:
    if root is None:
        return False
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
