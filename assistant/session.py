"""Open a workspace session: index + retriever + prompt policy + completion engine.

The one factory the CLI (``qwenpair complete``, ``chat``, ``edit``), the language server and
training share, so that all of them build prompts from the same index under the same path
rules. It wires objects together and owns their shutdown order; it makes no decisions of
its own. It does not load a model: callers pass a loaded backend (or a tokenizer-only one).

Typical use::

    session = open_session(root, backend, config=config)
    result = session.engine.complete_sync(request)
    session.close()                       # engine first, then the index; not the backend
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.retrieval import PromptPolicy, WorkspaceRetriever
from model.backends.base import Backend
from repo_index import IndexConfig, Workspace


@dataclass
class Session:
    """Everything a workspace root needs to complete code. ``close`` does not close the
    backend: it may be shared (with chat, or another root of a multi-root workspace)."""

    root: Path
    workspace: Workspace
    retriever: WorkspaceRetriever
    policy: PromptPolicy
    engine: CompletionEngine

    def close(self) -> None:
        self.engine.close()
        self.workspace.close()


def open_session(
    root: Path,
    backend: Backend,
    *,
    config: EngineConfig | None = None,
    index_config: IndexConfig | None = None,
    build: bool = True,
) -> Session:
    """A session for ``root``. ``build=True`` brings the persisted index up to date now
    (the CLI); the server passes False and builds in the background with progress."""
    root = root.resolve()
    workspace = Workspace.open(root, index_config)
    try:
        if build:
            workspace.build()
        retriever = WorkspaceRetriever(workspace)
        policy = PromptPolicy(root, rules_generation=lambda: workspace.rules_generation)
        engine = CompletionEngine(backend, config=config, workspace_root=root, retriever=retriever,
                                  path_policy=policy)
    except BaseException:
        workspace.close()
        raise
    return Session(root, workspace, retriever, policy, engine)
