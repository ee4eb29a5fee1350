"""``QwenServer``: the state the LSP handlers share.

It holds the open documents, the workspace roots (one ``assistant.session.Session`` each),
the loaded models and the settings; the slow work (loading and swapping models, indexing
roots) runs off the event loop in ``background.py``. Handlers (``handlers.py``)
stay adapters of a few lines over the methods here. Anything a thread sends to the client
goes through ``call_soon`` so that the writer is only ever used from the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from assistant.chat import ChatEngine
from assistant.engine import CompletionEngine
from assistant.load_wait import LoadWait
from assistant.request import CompletionRequest, CompletionResult
from assistant.retrieval import PromptPolicy
from assistant.scheduler import Superseded
from model.backends.base import Backend
from lsp_server import logs, settings as settings_mod
from lsp_server.background import BackgroundWork, RootState
from lsp_server.documents import DocumentStore
from lsp_server.models import Models, rss_mb
from lsp_server.positions import UTF16, to_line_col
from lsp_server.protocol import QwenProtocol
from lsp_server.roots import Roots
from lsp_server.settings import ServerSettings

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("qwenpair")
    except PackageNotFoundError:
        return "0"


class QwenServer(BackgroundWork, LanguageServer):
    def __init__(self) -> None:
        super().__init__("qwenpair", _version(), protocol_cls=QwenProtocol,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental, max_workers=8)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.settings = ServerSettings()
        #: Settings from the ``qwenpair serve`` command line (``--log-file``): the last layer.
        self.server_options: dict[str, Any] = {}
        self._file_options: dict[str, Any] = {}
        self._init_options: dict[str, Any] = {}
        self._client_section: dict[str, Any] = {}
        self.pending_load: Future | None = None
        self.docs = DocumentStore(UTF16)
        self.roots: Roots | None = None
        self.root_states: dict[Path, RootState] = {}
        self.models: Models | None = None
        self.model_state = "none"  # none, loading, ready, failed
        self.load_wait = LoadWait()  # completions asked for while the model loads
        self.model_problem = ""
        self._model_notes: set[str] = set()  # the models' warnings already shown
        self.last_latency_ms: float | None = None
        self.last_engine_ms: float | None = None
        self.log_path: Path | None = None
        self._placeholder: Backend | None = None
        self._load_gen = 0
        self._model_lock = threading.Lock()
        self._chat: dict[Path | None, ChatEngine] = {}
        self._inflight: dict[Path, Future] = {}
        self._pending_messages: list[tuple[types.MessageType, str]] = []
        self._stop = threading.Event()
        self._initialized = False
        self.closed = False

    # -- plumbing ------------------------------------------------------------------------
    @property
    def qprotocol(self) -> QwenProtocol:
        return self.protocol  # type: ignore[return-value]

    @property
    def encoding(self) -> str:
        return self.docs.encoding

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` on the event loop (from any thread)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def show(self, kind: types.MessageType, text: str) -> None:
        """window/showMessage (queued until ``initialized``)."""
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, "%s", text)
        if not self._initialized:
            self._pending_messages.append((kind, text))
            return
        self.call_soon(lambda: self.window_show_message(types.ShowMessageParams(type=kind, message=text)))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls would show every decoding failure as a popup; the log is enough."""
        log.warning("LSP error (%s): %s", getattr(source, "__name__", source), error)

    # -- lifecycle -----------------------------------------------------------------------
    def on_initialize(self, params: types.InitializeParams) -> None:
        self.loop = asyncio.get_running_loop()
        encoding = self.workspace.position_encoding or UTF16
        self.docs.encoding = str(getattr(encoding, "value", encoding))
        self._file_options, notes = settings_mod.read_config_file()
        init, dropped = settings_mod.client_layer(params.initialization_options, "initializationOptions")
        self._init_options = init if isinstance(init, dict) else {}
        if params.initialization_options is not None and not isinstance(params.initialization_options, dict):
            notes.append("initializationOptions must be an object; ignored")
        self.settings, more = settings_mod.parse(settings_mod.merge(self._file_options, self._init_options,
                                                                    self.server_options))
        self.log_path = logs.configure(self, self.settings.log_file, self.settings.log_level)
        self._report_settings(notes + dropped + more)
        self.roots = Roots(self._current_backend, self.settings.engine)
        if params.process_id:
            threading.Thread(target=self._watch_parent, args=(params.process_id,), daemon=True,
                             name="qwenpair-parent").start()

    def on_initialized(self) -> None:
        self._initialized = True
        pending, self._pending_messages = self._pending_messages, []
        for kind, text in pending:
            self.show(kind, text)
        folders = [f.uri for f in (self.workspace.folders or {}).values()]
        if not folders and self.workspace.root_uri:
            folders = [self.workspace.root_uri]
        for uri in folders:
            self.add_root(uri)
        self.load_models_in_background(self.settings)

    def on_shutdown(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop background work and release the index, engines and models (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self._stop.set()
        if self.roots is not None:
            self.roots.close()
        with self._model_lock:
            models, self.models = self.models, None
        if models is not None:
            models.close()
        next_edits = getattr(self, "next_edits", None)  # set by handlers.build_server
        if next_edits is not None:
            next_edits.close()

    def _watch_parent(self, pid: int) -> None:
        """The client died without closing our stdin (LSP: exit when the parent is gone)."""
        while not self._stop.wait(2.0):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.warning("the client (process %d) is gone; exiting", pid)
                self.close()
                os._exit(1)
            except PermissionError:
                pass  # alive, another user's process

    # -- settings ------------------------------------------------------------------------
    def _report_settings(self, messages: list[str]) -> None:
        if messages:
            self.show(types.MessageType.Warning, "qwenpair settings: " + "; ".join(messages))

    def current_overrides(self) -> dict[str, Any]:
        """The settings the client sent last (didChangeConfiguration, switchModel)."""
        return dict(self._client_section)

    def change_configuration(self, raw: Any) -> None:
        """Apply new client settings; a model change loads in the background (``pending_load``)."""
        section = raw.get("qwenpair", raw) if isinstance(raw, dict) else raw
        self.pending_load = None
        if section is None:
            return
        section, dropped = settings_mod.client_layer(section, "workspace/didChangeConfiguration")
        if not isinstance(section, dict):
            self._report_settings([f"workspace/didChangeConfiguration settings must be an object, got {type(section).__name__}"])
            return
        self._client_section = dict(section)
        new, messages = settings_mod.parse(settings_mod.merge(self._file_options, self._init_options, section,
                                                              self.server_options))
        self._report_settings(dropped + messages)
        old, self.settings = self.settings, new
        if (old.log_file, old.log_level) != (new.log_file, new.log_level):
            self.log_path = logs.configure(self, new.log_file, new.log_level)
        if old.engine != new.engine and self.roots is not None:
            self.roots.set_config(new.engine)
        if old.chat != new.chat:
            self._chat.clear()
        if settings_mod.model_fields_changed(old, new):
            if self._adapter_only_change(old, new):
                self.pending_load = self.swap_adapter_in_background(new.adapter)
            else:
                self.pending_load = self.load_models_in_background(new)

    # -- documents -----------------------------------------------------------------------
    def path_of(self, uri: str) -> Path | None:
        if not isinstance(uri, str) or not uri.startswith("file:"):
            return None
        try:
            fs = to_fs_path(uri)
        except Exception:
            return None
        return Path(os.path.abspath(fs)).resolve() if fs else None

    def document_text(self, uri: str) -> tuple[str, int | None] | None:
        """The editor's text of ``uri``, else the saved file's (None when neither may be
        used: ``unreadable_reason`` says why). The workspace policy decides what is read
        from disk: only files inside a workspace folder, under every rule (docs/security.md)."""
        doc = self.docs.get(uri)
        if doc is not None:
            return doc.text, doc.version
        path = self.path_of(uri)
        if path is None or self.roots is None:
            return None
        text, _ = self.roots.policy.read(path)
        return (text, None) if text is not None else None

    def unreadable_reason(self, uri: str) -> str:
        """Why ``document_text(uri)`` gave nothing, for the client's error message."""
        path = self.path_of(uri)
        if path is None or self.roots is None:
            return "not a file: URI the server can read"
        return self.roots.policy.read(path)[1].message() or "it changed while it was read; try again"

    def sync_engine(self, path: Path | None) -> CompletionEngine | None:
        """The engine a document change goes to, never made on the event loop before a
        model is loaded (the text is kept in ``docs`` and replayed when a root opens)."""
        if path is None or self.roots is None:
            return None
        return self.roots.engine_for(path, create=self.models is not None)

    # -- completion ----------------------------------------------------------------------
    async def wait_for_model(self, uri: str) -> None:
        """A completion asked for while the first model loads waits for it, up to a cap;
        a newer one for the same document supersedes it (assistant/load_wait.py)."""
        if not self.load_wait.blocks_completions():
            return
        ticket, deadline = self.load_wait.enter(uri, self.settings.engine.latency_target_s)
        try:
            while (outcome := self.load_wait.outcome(uri, ticket, deadline)) == "wait":
                await asyncio.sleep(0.02)
        finally:
            self.load_wait.leave(uri, ticket)
        if outcome == "superseded":
            raise Superseded("superseded by a newer completion request while the model loaded")

    def completion_request(self, uri: str, position: types.Position) -> tuple[CompletionEngine, CompletionRequest] | None:
        if self.models is None or self.roots is None:
            return None
        path = self.path_of(uri)
        found = self.document_text(uri)
        if path is None or found is None:
            return None
        text, version_ = found
        line, col = to_line_col(text, position.line, position.character, self.encoding)
        return self.roots.engine_for(path), CompletionRequest(path, text, line, col, version=version_)

    async def complete(self, engine: CompletionEngine, request: CompletionRequest,
                       on_extended: Callable[[CompletionResult], None] | None = None) -> CompletionResult:
        """Run one completion; cancelling the awaiting task cancels the engine's job.
        ``Superseded`` (a newer request for the document) propagates to the caller.
        A multi-line suggestion answers with its first line as soon as the model has written
        it; ``on_extended`` later gets the whole block (from the model's thread), unless a
        newer request superseded it (docs/lsp.md, "Multi-line suggestions")."""
        t0 = time.perf_counter()
        first, future = engine.complete_streamed(request)
        if on_extended is not None:
            future.add_done_callback(lambda f: _extended(first, f, on_extended))
        finished: list[float] = []
        first.add_done_callback(lambda _f: finished.append(time.perf_counter()))
        self._inflight[request.path] = future
        try:
            result = await asyncio.wrap_future(first)
        except asyncio.CancelledError:
            if self._inflight.get(request.path) is future:
                engine.cancel(request.path)
            raise
        finally:
            if self._inflight.get(request.path) is future:
                del self._inflight[request.path]
        self.last_engine_ms = 1000 * ((finished[0] if finished else time.perf_counter()) - t0)
        total = result.timings.get("total_s")
        self.last_latency_ms = round(1000 * total, 1) if total is not None else round(self.last_engine_ms, 1)
        for warning in result.warnings:
            log.info("completion: %s", warning)
        self._show_model_notes(engine)
        return result

    def _show_model_notes(self, engine) -> None:
        """The model's warnings (e.g. no <|file_sep|>: prompts are file-level), each shown once."""
        model = getattr(engine.backend, "inner", engine.backend)
        for note in list(getattr(model, "warnings", ())):
            if note not in self._model_notes:
                self._model_notes.add(note)
                self.show(types.MessageType.Warning, f"qwenpair: {note}")

    # -- chat ----------------------------------------------------------------------------
    def chat_engine(self, path: Path | None) -> ChatEngine:
        """The chat engine for a document's root (or for no document); raises ``ChatUnavailable``."""
        models = self.models
        if models is None:
            raise ChatUnavailable(self.model_problem or "the model is still loading; try again in a moment")
        shared = models.shared_chat()
        if shared is None:
            raise ChatUnavailable(models.chat_problem)
        session = self.roots.session_for(path) if (self.roots and path is not None) else None
        key = session.root if session is not None else None
        engine = self._chat.get(key)
        if engine is None or getattr(engine.backend, "inner", None) is not models.chat:
            engine = ChatEngine(shared, workspace_root=key, config=self.settings.chat,
                                retriever=session.retriever if session else None,
                                path_policy=session.policy if session else PromptPolicy(None))
            self._chat[key] = engine
        return engine

    # -- status --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        models = self.models
        roots = {str(p): {"state": s.state, "files": s.files,
                          **({"progress": s.progress} if s.state == "indexing" and s.progress else {}),
                          **({"problem": s.problem} if s.problem else {})}
                 for p, s in self.root_states.items()}
        states = {s.state for s in self.root_states.values()}
        overall = ("indexing" if states & {"opening", "indexing"} else "failed" if "failed" in states
                   else "ready" if states else "none")
        engines = self.roots.engines() if self.roots else []
        return {
            "model": models.completion_ref if models else None,
            "chat_model": models.chat_ref if models else None,
            "adapter": models.adapter if models else None,
            "model_state": self.model_state,
            "model_problem": self.model_problem or None,
            **({"model_load": self.load_wait.status()} if self.model_state == "loading" else {}),
            "chat_problem": (models.chat_problem or None) if models else None,
            "index": {"files": sum(s.files for s in self.root_states.values()), "state": overall, "roots": roots},
            "last_latency_ms": self.last_latency_ms,
            "last_engine_ms": self.last_engine_ms,
            "rss_mb": rss_mb(),
            "position_encoding": self.encoding,
            "open_documents": len(self.docs.uris()),
            "engine": engines[0].status() if engines and models else None,
            "log_file": str(self.log_path) if self.log_path else None,
            "version": self.version,
        }


class ChatUnavailable(Exception):
    """No chat model is loaded; the message says how to get one."""

    user_facing = True


def _extended(first: Future, final: Future, on_extended: Callable[[CompletionResult], None]) -> None:
    """Hand ``final`` to ``on_extended`` when the answer was its first line only."""
    if not first.done() or first.cancelled() or first.exception() is not None:
        return
    if final.cancelled() or final.exception() is not None:
        return
    if first.result().stop_reason == "first_line" and final.result() is not first.result():
        on_extended(final.result())
