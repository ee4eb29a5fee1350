"""The bridge from the engine to repo_index: retrieval and the prompt path policy.

``WorkspaceRetriever`` adapts ``repo_index.Workspace.retrieve`` to the engine's
``Retriever`` protocol. ``PromptPolicy`` is ``repo_index.SourcePolicy`` under the name the
engines know: the one policy every text source goes through (docs/security.md). For the
document being completed, chatted about or edited it refuses a secret name or secret content
(the whole text), ignore rules, excluded directories, symlinks whose real target is refused,
and control characters in the name. Files skipped only for what they look like on disk
(too large, minified, generated, not saved yet) still get a file-level completion: the user
is typing in them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from repo_index import IndexConfig, Snippet, SourcePolicy, Workspace


class PromptPolicy(SourcePolicy):
    """``PromptPolicy(root)``: the policy of one workspace root (``None``: no root, so only
    the text handed over is judged, by its name and content).

    ``rules_generation`` (the workspace's counter of ignore-rule reloads) makes the policy
    forget its cached verdicts when the index read the ignore files again: a file added to
    ``.gitignore`` while the server runs leaves the prompts from then on, not at restart."""

    def __init__(self, root: Path | None, *, max_bytes: int = 1_000_000,
                 rules_generation: Callable[[], int] | None = None) -> None:
        super().__init__(root, max_bytes=max_bytes)
        self._generation = rules_generation
        self._seen = rules_generation() if rules_generation else 0

    def _path_verdict(self, absolute: str, *, use: str, handed_over: bool):
        if self._generation is not None and (now := self._generation()) != self._seen:
            self._seen = now
            self.reload()
        return super()._path_verdict(absolute, use=use, handed_over=handed_over)


class WorkspaceRetriever:
    """Definitions and similar windows from the workspace index, unsaved buffers included."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def retrieve(self, path: Path, text: str, line: int, col: int) -> Sequence[Snippet]:
        return self.workspace.retrieve(path, text, line, col)

    def explained(self, path: Path, text: str, line: int, col: int) -> Sequence[Snippet]:
        """``retrieve`` plus the candidates left out (kind "dropped", empty text: a definition
        in an ignored or secret file, one in the current file), for the completion's explain."""
        return self.workspace.retrieve(path, text, line, col, explain=True)


def workspace_retriever(root: Path, config: IndexConfig | None = None, *, build: bool = True):
    """(retriever, close) for ``root``: opens (and brings up to date) its persisted index."""
    workspace = Workspace.open(root, config)
    if build:
        workspace.build()
    return WorkspaceRetriever(workspace), workspace.close

