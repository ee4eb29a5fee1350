"""The slow work the server runs off the event loop: loading and swapping models, opening
and indexing workspace roots.

A mixin of ``QwenServer`` (it uses the server's state: settings, roots, models, messages and
progress). Every method here runs in its own daemon thread or is quick; the newest model
change wins, and a failure leaves what was running in place and tells the user.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from assistant.engine import CompletionEngine
from assistant.session import Session
from model.backends.base import Backend
from repo_index import Progress
from lsp_server.models import load_models
from lsp_server.progress import WorkProgress
from lsp_server.settings import ServerSettings

log = logging.getLogger(__name__)


@dataclass
class RootState:
    state: str = "opening"  # opening, indexing, ready, failed
    files: int = 0
    problem: str = ""
    progress: str = ""  # the last index progress report, e.g. "indexing 30/120"


class BackgroundWork:
    """Model loading and root indexing for ``QwenServer`` (see the module docstring)."""

    # -- models --------------------------------------------------------------------------
    def _current_backend(self) -> Backend:
        models = self.models
        if models is not None:
            return models.shared_completion()
        if self._placeholder is None:
            from model.backends.tokenizer_only import TokenizerOnlyBackend

            self._placeholder = TokenizerOnlyBackend(self.settings.n_ctx)
        return self._placeholder

    def load_models_in_background(self, settings: ServerSettings) -> Future:
        done: Future = Future()
        with self._model_lock:
            self._load_gen += 1
            gen = self._load_gen
            self.model_state = "loading"
        self.load_wait.begin(settings.model)  # completions asked for meanwhile wait (assistant/load_wait.py)
        threading.Thread(target=self._load_models, args=(settings, gen, done), daemon=True,
                         name="qwenpair-load").start()
        return done

    def _load_models(self, settings: ServerSettings, gen: int, done: Future) -> None:
        progress = WorkProgress(self, "qwenpair: loading model")
        progress.begin(settings.model)
        try:
            models = load_models(settings, lambda m: progress.report(m))
        except Exception as exc:
            with self._model_lock:
                current = gen == self._load_gen
                if current:
                    self.model_state = "ready" if self.models is not None else "failed"
                    self.model_problem = str(exc)
                    self.load_wait.end(self.models is not None)
            progress.end("failed")
            if current:
                keep = f" Still using {self.models.completion_ref}." if self.models is not None else " Completions are empty until this is fixed."
                self.show(types.MessageType.Error, f"qwenpair: {exc}.{keep}")
            done.set_result(False)
            return
        with self._model_lock:
            if gen != self._load_gen or self.closed:
                superseded = True
            else:
                superseded = False
                old, self.models = self.models, models
                self.model_problem = ""
        if superseded:
            models.close()
            progress.end("superseded by a newer model change")
            done.set_result(False)
            return
        for engine in self.roots.engines() if self.roots else []:
            try:
                engine.set_backend(models.shared_completion())
            except Exception:  # an engine closed meanwhile (shutdown, root removed)
                log.info("engine not switched: closed")
        self.load_wait.end(True)  # after the engines switched: a waiting completion gets the model
        self._chat.clear()
        if old is not None:
            old.close()
        with self._model_lock:
            if gen == self._load_gen:
                self.model_state = "ready"
        if models.chat is None and settings.chat_model != "auto":
            self.show(types.MessageType.Warning, f"qwenpair: chat is unavailable: {models.chat_problem}")
        if settings.calibrate:
            progress.report("measuring speed")
            for engine in self.roots.engines() if self.roots else []:
                try:
                    engine.calibrate()
                except Exception:
                    log.exception("calibration failed")
        progress.end(f"ready: {models.completion.name}")
        log.info("model ready: %s (chat: %s)", models.completion_ref, models.chat_ref or models.chat_problem)
        done.set_result(True)

    def _adapter_only_change(self, old: ServerSettings, new: ServerSettings) -> bool:
        """Only the adapter changed and the loaded model can swap adapters in place."""
        same = all(getattr(old, k) == getattr(new, k) for k in ("model", "chat_model", "n_ctx", "threads", "gpu_layers"))
        models = self.models
        return same and models is not None and hasattr(models.completion, "set_adapter")

    def swap_adapter_in_background(self, adapter: str | None) -> Future:
        """Apply ``adapter`` (None: remove it) to the running completion model, no reload."""
        done: Future = Future()
        with self._model_lock:
            self._load_gen += 1  # a model load still running for an older change is superseded
        threading.Thread(target=self._swap_adapter, args=(adapter, done), daemon=True, name="qwenpair-adapter").start()
        return done

    def _swap_adapter(self, adapter: str | None, done: Future) -> None:
        models = self.models
        try:
            with models.lock:
                models.completion.set_adapter(adapter)  # checks meta.json: another base is refused
        except Exception as exc:
            self.model_problem = str(exc)
            self.show(types.MessageType.Error, f"qwenpair: {exc}. Still using adapter {models.adapter or 'none'}.")
            done.set_result(False)
            return
        models.adapter = adapter
        self.model_problem = ""
        for engine in self.roots.engines() if self.roots else []:
            try:
                engine.set_backend(models.shared_completion())  # drops completions of the old adapter
            except Exception:  # an engine closed meanwhile (shutdown, root removed)
                log.info("engine not switched: closed")
        log.info("adapter now %s", adapter or "none")
        done.set_result(True)

    def _ensure_backend(self, engine: CompletionEngine) -> None:
        models = self.models
        if models is not None and getattr(engine.backend, "inner", None) is not models.completion:
            engine.set_backend(models.shared_completion())

    # -- roots and indexing ----------------------------------------------------------------
    def add_root(self, uri: str) -> None:
        path = self.path_of(uri)
        if path is None or self.roots is None:
            return
        self.root_states[path] = RootState()
        threading.Thread(target=self._open_root, args=(path,), daemon=True, name="qwenpair-root").start()

    def remove_root(self, uri: str) -> None:
        path = self.path_of(uri)
        if path is not None and self.roots is not None:
            self.root_states.pop(path, None)
            # closing waits for the model thread and the watcher: not on the event loop
            threading.Thread(target=self.roots.remove, args=(path,), daemon=True, name="qwenpair-root").start()

    def _open_root(self, path: Path) -> None:
        state = self.root_states.get(path) or RootState()
        try:
            session = self.roots.add(path)
        except Exception as exc:
            state.state, state.problem = "failed", str(exc)
            self.show(types.MessageType.Error, f"qwenpair: cannot index {path}: {exc}")
            return
        # A corrupt store rebuilt, waiting for another process that indexes this root:
        # the workspace words these for the user (repo_index.sharing).
        session.workspace.notify = lambda message: self.show(types.MessageType.Info, f"qwenpair: {message}")
        if session.workspace.rebuild_notice:
            self.show(types.MessageType.Warning, f"qwenpair: {session.workspace.rebuild_notice}")
        self._ensure_backend(session.engine)
        for uri in self.docs.uris():  # documents opened before the root was ready
            doc, p = self.docs.get(uri), self.path_of(uri)
            if doc is not None and p is not None and self.roots.session_for(p) is session:
                session.engine.document_changed(p, doc.text)
                self.roots.overlay(p, doc.text)
        self._index(session, state)
        if self.settings.watch and not self._stop.is_set():
            try:
                session.workspace.start_watching()
            except Exception:
                log.exception("cannot watch %s", path)

    def _index(self, session: Session, state: RootState) -> int:
        state.state = "indexing"
        progress = WorkProgress(self, f"qwenpair: indexing {session.root.name}")
        progress.begin("scanning")
        last = [0.0]

        def report(p: Progress) -> None:
            state.progress = f"{p.phase} {p.done}/{p.total}"
            now = time.monotonic()
            if now - last[0] >= 0.2 or p.done == p.total:
                last[0] = now
                pct = int(100 * p.done / p.total) if p.total else None
                progress.report(f"{p.phase} {p.done}/{p.total}", pct)

        try:
            session.workspace.build(progress=report, cancel=self._stop)
            files = session.workspace.stats().files
        except Exception as exc:
            state.state, state.problem = "failed", str(exc)
            progress.end("failed")
            if not self._stop.is_set():
                self.show(types.MessageType.Error, f"qwenpair: indexing {session.root} failed: {exc}")
            return 0
        state.state, state.files = "ready", files
        progress.end(f"{files} files")
        if session.workspace.save_problem:  # a whole index, but the cache disk is full
            self.show(types.MessageType.Warning, f"qwenpair: {session.workspace.save_problem}")
        return files

    def reindex(self) -> int:
        """Re-scan every root now (progress shown); returns the number of files indexed."""
        total = 0
        for session in list(self.roots.sessions.values()) if self.roots else []:
            total += self._index(session, self.root_states.setdefault(session.root, RootState()))
        return total

