"""The workspace roots the server serves: one ``assistant.session.Session`` per folder.

Routes a document to the session whose root contains it (the deepest one); documents
outside every root get a file-level engine of their own. Unsaved text reaches the index
overlay through a debounced worker thread, so a storm of didChange messages costs one
overlay update per document and pause, never a stall of document sync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.retrieval import PromptPolicy
from assistant.session import Session, open_session
from model.backends.base import Backend
from repo_index import SourcePolicy

log = logging.getLogger(__name__)

#: Quiet time before unsaved text is sent to the index overlay, and its ceiling.
OVERLAY_DEBOUNCE_S = 0.3
OVERLAY_MAX_DELAY_S = 2.0


class Roots:
    def __init__(self, backend: Callable[[], Backend], config: EngineConfig) -> None:
        self._backend = backend  # the current (shared) backend for a new engine
        self.config = config
        self.sessions: dict[Path, Session] = {}
        #: Every workspace folder: what may be read from disk (an unopened file outside all of
        #: them never is). A folder joins before its index opens, so requests can use it at once.
        self.policy = SourcePolicy()
        self._loose: CompletionEngine | None = None
        self._lock = threading.RLock()
        self._pending: dict[Path, tuple[str | None, float, float]] = {}  # path -> (text|None=clear, first, last)
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._overlay_loop, name="qwenpair-overlay", daemon=True)
        self._thread.start()

    # -- sessions ----------------------------------------------------------------------
    def add(self, root: Path) -> Session:
        with self._lock:
            root = root.resolve()
            if root in self.sessions:
                return self.sessions[root]
        self.policy.add_root(root)  # PolicyError for a folder inside .git: never a workspace
        try:
            session = open_session(root, self._backend(), config=self.config, build=False)
        except BaseException:
            self.policy.remove_root(root)
            raise
        with self._lock:
            self.sessions[root] = session
        return session

    def remove(self, root: Path) -> None:
        with self._lock:
            session = self.sessions.pop(root.resolve(), None)
        self.policy.remove_root(root)
        if session is not None:
            session.close()

    def session_for(self, path: Path) -> Session | None:
        with self._lock:
            best = None
            for root, session in self.sessions.items():
                if path == root or root in path.parents:
                    if best is None or len(root.parts) > len(best.root.parts):
                        best = session
            return best

    def engine_for(self, path: Path, *, create: bool = True) -> CompletionEngine | None:
        """The engine serving ``path``; documents outside every root share a file-level one,
        made on first use (``create=False``: None rather than make it, e.g. before a model
        is loaded, when making it would load a tokenizer on the caller's thread)."""
        session = self.session_for(path)
        if session is not None:
            return session.engine
        with self._lock:
            if self._loose is None and create:
                # no root, but the same secret and ignore rules (judged from the file's folder)
                self._loose = CompletionEngine(self._backend(), config=self.config, path_policy=PromptPolicy(None))
            return self._loose

    def engines(self) -> list[CompletionEngine]:
        with self._lock:
            return [s.engine for s in self.sessions.values()] + ([self._loose] if self._loose else [])

    def set_config(self, config: EngineConfig) -> None:
        self.config = config
        for engine in self.engines():
            engine.config = config

    # -- index overlay ------------------------------------------------------------------
    def overlay(self, path: Path, text: str | None) -> None:
        """Queue unsaved ``text`` for the index (None: the document closed)."""
        now = time.monotonic()
        with self._cv:
            first = self._pending.get(path, (None, now, now))[1]
            self._pending[path] = (text, first, now)
            self._cv.notify()

    def _due(self) -> tuple[list[tuple[Path, str | None]], float | None]:
        now = time.monotonic()
        due, wait = [], None
        for path, (text, first, last) in list(self._pending.items()):
            ready_at = min(last + OVERLAY_DEBOUNCE_S, first + OVERLAY_MAX_DELAY_S)
            if ready_at <= now:
                due.append((path, text))
                del self._pending[path]
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        return due, wait

    def _overlay_loop(self) -> None:
        while True:
            with self._cv:
                due, wait = self._due()
                while not due and not self._closed:
                    self._cv.wait(wait)
                    due, wait = self._due()
                if self._closed:
                    return
            for path, text in due:
                session = self.session_for(path)
                if session is None:
                    continue
                try:
                    if text is None:
                        session.workspace.clear_overlay(path)
                    else:
                        session.workspace.set_overlay(path, text)
                except Exception:  # the index must never take the server down
                    log.exception("index overlay update failed for %s", path)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        with self._lock:
            sessions, self.sessions = list(self.sessions.values()), {}
            loose, self._loose = self._loose, None
        if loose is not None:
            loose.close()
        for session in sessions:
            try:
                session.close()
            except Exception:
                log.exception("closing the session of %s failed", session.root)
