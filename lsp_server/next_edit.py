"""Next edits over LSP (docs/lsp.md, "Next edits"): ``qwenpair/nextEdit``,
``textDocument/copilotInlineEdit``, next-edit items in ``textDocument/inlineCompletion``, and
``qwenpair/nextEditReady``.

The edit history (``assistant.edit_history``) follows the document sync notifications. A next
edit runs ``assistant.next_edit.NextEditEngine`` as a job of the document's completion
scheduler (``assistant.scheduler``: one generation at a time, the newest wins): on request as a
request job, after an edit pause (``next_edit.pause_ms``) or an accept as a background job,
which runs only when no completion waits and is cancelled as soon as one arrives. What a
background job computes is kept (``assistant.next_edit.Ahead``) and announced with
``qwenpair/nextEditReady``; a request for that text is answered from it at once. This module
only converts and schedules; the logic is in assistant/.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from lsprotocol import types

from assistant.edit_history import EditHistory
from assistant.large_document import is_large
from assistant.next_edit import Ahead, NextEdit, NextEditConfig, NextEditEngine
from assistant.scheduler import Superseded
from lsp_server import outcomes
from lsp_server.positions import to_line_col, to_position

log = logging.getLogger(__name__)

METHOD = "qwenpair/nextEdit"
#: copilot-language-server's request for the same, answered in its shape so that clients
#: written for it (copilot-lsp for Neovim, sidekick.nvim) work unchanged.
COPILOT_METHOD = "textDocument/copilotInlineEdit"
#: Sent when a next edit computed in the background is ready for the document's version.
READY = "qwenpair/nextEditReady"
#: The ``command`` of a next-edit item: clients style these apart from completions and run it
#: on accept, with ``[{"id", "kind": "next_edit"}]`` (docs/lsp.md, "Suggestion outcomes").
ITEM_COMMAND = outcomes.NEXT_EDIT
KIND = "next_edit"
#: A generation cut by a cancel or the time cap is not kept as the document's answer.
_NOT_AN_ANSWER = ("cancelled", "time")


class NextEdits:
    """The server's next-edit state: the edit history, an engine per model and root, what was
    computed ahead, the pause timers and the ids answered (for the accept command)."""

    def __init__(self, ls) -> None:
        self.ls = ls
        self.history: EditHistory | None = None
        self.ahead = Ahead()
        self._config: NextEditConfig | None = None
        self._engines: dict[tuple[int, Path | None], NextEditEngine] = {}
        #: the running job's cancel event per document: a change makes its answer stale
        self._running: dict[Path, threading.Event] = {}
        self._timers: dict[Path, asyncio.TimerHandle] = {}
        #: the cancel events of running background jobs: a completion anywhere stops them
        self._background: set[threading.Event] = set()
        self._issued: OrderedDict[str, str] = OrderedDict()  # suggestion id -> uri
        self._last_changed: str | None = None  # the uri of the last didChange: where a completion was accepted
        #: a separate next-edit model (``next_edit.model``): (reference, backend, lock), loaded lazily
        self._model: tuple[str, Any, threading.Lock] | None = None
        self._loading: tuple[str, Future] | None = None
        self._model_problem: tuple[str, str] | None = None

    @property
    def config(self) -> NextEditConfig:
        return self.ls.settings.next_edit

    def _ahead(self) -> Ahead:
        """What was computed ahead, emptied when the settings changed (another model or format)."""
        if self.config is not self._config:
            self._config = self.config
            self.ahead.clear()
            self._model_problem = None  # a model that failed may load now (pulled meanwhile)
        return self.ahead

    def _hist(self) -> EditHistory | None:
        if self.history is None and self.ls.roots is not None:
            self.history = EditHistory(self.ls.roots.policy)  # the one policy (docs/security.md)
        return self.history

    # -- document sync -------------------------------------------------------------------
    def opened(self, path: Path | None, text: str) -> None:
        hist = self._hist()
        if hist is not None and path is not None and not is_large(text):
            hist.open(path, text)

    def changed(self, uri: str, path: Path | None, text: str) -> None:
        hist = self._hist()
        if hist is None or path is None:
            return
        self._last_changed = uri
        self._stale(path)
        if is_large(text):  # a large document keeps no history (each change would compare it whole)
            hist.close(path)
        elif path in hist:
            hist.update(path, text)
        else:
            hist.open(path, text)
        if self.config.enabled and self.config.pause_ms > 0 and path in hist:
            loop = self.ls.loop
            if loop is not None:
                self._timers[path] = loop.call_later(self.config.pause_ms / 1000, self.precompute, uri, "pause")

    def closed(self, path: Path | None) -> None:
        if path is None:
            return
        self._stale(path)
        if self.history is not None:
            self.history.close(path)

    def renamed(self, old: Path | None, new: Path | None) -> None:
        """workspace/didRenameFiles: the history goes along (judged again under the new name)."""
        if old is None or new is None or self.history is None:
            return
        self._stale(old)
        self.history.rename(old, new)

    def _stale(self, path: Path) -> None:
        """``path`` changed or closed: its running job, its timer and what was computed ahead go."""
        running = self._running.get(path)
        if running is not None:
            running.set()
        timer = self._timers.pop(path, None)
        if timer is not None:
            timer.cancel()
        self.ahead.drop(str(path))

    # -- the model ---------------------------------------------------------------------
    def _backend(self) -> tuple[Any, threading.Lock] | Future | str | None:
        """The model and its lock; a Future while the separate model loads (its loading started
        by the first call); a str saying why there is none; None while the completion model loads."""
        models, ref = self.ls.models, self.config.model
        if not ref:
            if self._model is not None:  # back to the completion model: the separate one goes
                threading.Thread(target=self.close, daemon=True).start()
            return (models.completion, models.lock) if models is not None else None
        if self._model is not None and self._model[0] == ref:
            return self._model[1], self._model[2]
        if self._model_problem is not None and self._model_problem[0] == ref:
            return self._model_problem[1]
        if self._loading is not None and self._loading[0] == ref:
            return self._loading[1]
        future: Future = Future()
        self._loading = (ref, future)
        threading.Thread(target=self._load, args=(ref, future), daemon=True, name="qwenpair-next-edit-model").start()
        return future

    def _load(self, ref: str, future: Future) -> None:
        from model.loader import BackendConfig, load_backend

        s = self.ls.settings
        try:
            backend = load_backend(BackendConfig(model=ref, n_ctx=max(s.n_ctx, 8192), n_threads=s.threads or None,
                                                 n_gpu_layers=s.gpu_layers))
        except Exception as exc:  # a missing or bad file: said once, then no next edits from it
            problem = f"next_edit.model {ref!r} cannot be used: {exc}"
            self._model_problem, self._loading = (ref, problem), None
            self.ls.show(types.MessageType.Warning, f"qwenpair: {problem}")
            future.set_result(problem)
            return
        old, self._model, self._loading = self._model, (ref, backend, threading.Lock()), None
        self._engines.clear()
        if old is not None:
            with old[2]:
                old[1].close()
        future.set_result(None)

    def close(self) -> None:
        """Release the separate next-edit model, if one is loaded."""
        model, self._model = self._model, None
        if model is not None:
            self._engines.clear()
            with model[2]:
                model[1].close()

    def _engine(self, path: Path, backend: Any, lock: threading.Lock) -> NextEditEngine:
        session = self.ls.roots.session_for(path)
        root = session.root if session is not None else None
        key = (id(backend), root)
        engine = self._engines.get(key)
        if engine is None or engine.backend is not backend or engine.config is not self.config:
            engine = NextEditEngine(backend, self._hist(), self.config, root=root, lock=lock)
            self._engines[key] = engine
        return engine

    def _job(self, uri: str, path: Path, text: str, line: int, col: int, *,
             background: bool = False) -> tuple[Any, Any] | Future | str | None:
        """(scheduler, work) for a next edit at (line, col) of ``text``, or what ``_backend``
        says when there is no model to run it on."""
        got = self._backend()
        if not isinstance(got, tuple):
            return got
        backend, lock = got
        engine, roots = self._engine(path, backend, lock), self.ls.roots
        completion = roots.engine_for(path)
        scheduler = completion.scheduler  # the completions' one: one generation at a time
        shared = backend is getattr(self.ls.models, "completion", None)

        def work(cancel: threading.Event) -> NextEdit:
            ready = self.ahead.get(str(path), text, line)
            if ready is not None:  # computed meanwhile (a pause, then the request)
                return ready
            doc = self.ls.docs.get(uri)
            if doc is not None and doc.text != text:
                cancel.set()
                return NextEdit("none", reason="the document changed before the next edit started (cancelled)")
            if background and any(e.scheduler.pending() > (1 if e.scheduler is scheduler else 0)  # 1: this job
                                  for e in roots.engines()):
                cancel.set()  # another root's completion is on the model: its next call must not wait for us
                return NextEdit("none", reason="a completion is running (cancelled)")
            self._running[path] = cancel
            if background:
                self._background.add(cancel)
            try:
                got = engine.suggest(path, text, line, col, cancel=cancel)
            finally:
                self._background.discard(cancel)
                if self._running.get(path) is cancel:
                    del self._running[path]
            if got.stop_reason not in _NOT_AN_ANSWER:
                self.ahead.put(str(path), text, line, got)
            if shared and got.prompt_tokens and not cancel.is_set():
                # the next edit's prompt replaced the completion's in the one KV cache: put that
                # back while the user is idle (background, behind any request), as after an open
                self.ls.call_soon(lambda: self._refill(completion, uri, path, text, line))
            return got

        return scheduler, work

    def _refill(self, completion, uri: str, path: Path, text: str, line: int) -> None:
        """On the event loop, so that no change slips in: only for the text still current."""
        doc = self.ls.docs.get(uri)
        if doc is not None and doc.text == text:
            completion.document_opened(path, text, line)

    # -- triggers ------------------------------------------------------------------------
    def precompute(self, uri: str, why: str, retry: bool = True) -> None:
        """Compute the next edit for ``uri`` as it is now, in the background (after an edit
        pause, or an accept), and send ``READY`` when there is one for this version. Runs on
        the event loop."""
        path = self.ls.path_of(uri)
        doc = self.ls.docs.get(uri)
        hist = self.history
        if not self.config.enabled or path is None or doc is None or hist is None or self.ls.models is None \
                or self.ls.roots is None:
            return
        self._timers.pop(path, None)
        line = hist.last_edited_line(path)
        if line is None:
            return  # nothing edited: nothing to predict from
        text, version = doc.text, doc.version
        if self._ahead().get(str(path), text, line) is not None:
            return
        job = self._job(uri, path, text, line, 0, background=True)
        if isinstance(job, Future):  # the separate model loads: try again when it is there
            job.add_done_callback(lambda _f: self.ls.call_soon(lambda: self.precompute(uri, why)))
            return
        if not isinstance(job, tuple):
            return
        scheduler, work = job
        future = scheduler.submit_background(f"next_edit:{path}", work)
        log.debug("next edit ahead for %s line %d (%s)", path, line + 1, why)
        future.add_done_callback(lambda f: self.ls.call_soon(lambda: self._precomputed(uri, version, f, why, retry)))

    def _precomputed(self, uri: str, version: int | None, future: Future, why: str, retry: bool) -> None:
        doc = self.ls.docs.get(uri)
        if doc is None or doc.version != version or future.cancelled():
            return
        if future.exception() is not None:
            if retry and isinstance(future.exception(), Superseded):  # a completion came first:
                self.precompute(uri, why, retry=False)  # queued again behind it, once
            return
        got = future.result()
        if got.kind == "none":
            return
        self.ls.protocol.notify(READY, {"textDocument": {"uri": uri, "version": version}})

    def completion_started(self) -> None:
        """A completion was asked for: running background next edits stop at their next token,
        also those on another root's scheduler (they share the model and its lock); each is
        queued again once, behind the completion."""
        for cancel in list(self._background):
            cancel.set()

    def accepted(self, args: tuple) -> None:
        """A suggestion was accepted (its command ran: ``qwenpair.nextEdit`` or
        ``qwenpair.accepted``, ``[{"id", "kind"}]``): the next edit after it is computed at once,
        without waiting for the pause, in the document of a next edit with that id, else (a
        completion) in the document changed last, where the client has just inserted it."""
        first = args[0] if args else None
        sid = first.get("id") if isinstance(first, dict) else None
        uri = self._issued.get(sid) if isinstance(sid, str) else None
        uri = uri or (self._last_changed if isinstance(sid, str) else None)
        if uri is not None:
            self.after_accept(uri)

    def after_accept(self, uri: str) -> None:
        path = self.ls.path_of(uri)
        if path is not None:
            timer = self._timers.pop(path, None)
            if timer is not None:
                timer.cancel()
        self.precompute(uri, "accept")

    def _answer(self, uri: str, got: NextEdit, text: str) -> dict:
        """``to_lsp``'s answer with the suggestion's id (``lsp_server.outcomes``: its outcome is
        recorded) on it and on its item's command."""
        out = to_lsp(got, text, self.ls.encoding)
        if got.kind == "none":
            return out
        target = out["target"]
        sid = self.ls.outcomes.shown(uri, KIND, target["newText"], target["range"], latency_ms=got.latency_s * 1000,
                                     prompt=got.prompt, answered=text)
        out["id"] = sid
        if out["item"] is not None:
            out["item"]["command"] = outcomes.item_command(sid, KIND)
        self._issued[sid] = uri
        while len(self._issued) > 256:
            self._issued.popitem(last=False)
        return out

    # -- requests ------------------------------------------------------------------------
    async def request(self, params: Any) -> dict:
        uri = _get(_get(params, "textDocument"), "uri")
        position = _get(params, "position")
        path = self.ls.path_of(uri) if isinstance(uri, str) else None
        found = self.ls.document_text(uri) if path is not None else None
        if path is None or found is None or position is None:
            return none_result(f"{uri} is not an open document the server may read")
        if not self.config.enabled:
            return none_result("next edits are turned off (the setting next_edit.enabled)")
        if self._hist() is None:
            return none_result("the server is not initialized")
        text = found[0]
        line, col = to_line_col(text, int(_get(position, "line")), int(_get(position, "character")), self.ls.encoding)
        got = self._ahead().get(str(path), text, line)
        precomputed = got is not None
        if got is None:
            job = self._job(uri, path, text, line, col)
            if isinstance(job, Future):
                await asyncio.wrap_future(job)  # the separate model loads (once)
                job = self._job(uri, path, text, line, col)
            if job is None or isinstance(job, Future):
                return none_result(self.ls.model_problem or "the model is still loading; try again in a moment")
            if isinstance(job, str):
                return none_result(job)
            scheduler, work = job
            future = scheduler.submit(f"next_edit:{path}", work)
            try:
                got = await asyncio.wrap_future(future)
            except Superseded:
                return none_result("a newer change or request for the document replaced this one (cancelled)")
            except asyncio.CancelledError:
                future.cancel()
                running = self._running.get(path)
                if running is not None:
                    running.set()
                raise
        out = self._answer(uri, got, text)
        out["precomputed"] = precomputed
        return out

    async def copilot_request(self, params: Any) -> dict:
        """``textDocument/copilotInlineEdit``: ``{"edits": [{"text", "range", "textDocument",
        "command"}]}`` with the one edit to offer (none: ``{"edits": []}``)."""
        got = await self.request(params)
        if got["kind"] == "none":
            return {"edits": []}
        uri = _get(_get(params, "textDocument"), "uri")
        doc = self.ls.docs.get(uri)
        target = got["target"]
        return {"edits": [{"text": target["newText"], "range": target["range"],
                           "textDocument": {"uri": uri, "version": doc.version if doc is not None else None},
                           "command": outcomes.item_command(got["id"], KIND)}]}

    def inline_item(self, uri: str, line: int, character: int) -> dict | None:
        """The next edit to add to ``textDocument/inlineCompletion``'s answer: the one computed
        ahead for the document's current text, when its target is at the cursor's line
        (``insertText``, ``range``, ``command``); None otherwise. Never computes."""
        path = self.ls.path_of(uri)
        doc = self.ls.docs.get(uri)
        if not self.config.enabled or path is None or doc is None:
            return None
        cursor, _ = to_line_col(doc.text, line, character, self.ls.encoding)
        got = self._ahead().get(str(path), doc.text, cursor)
        if got is None or got.kind != "inline":
            return None
        return self._answer(uri, got, doc.text)["item"]


def _get(obj: Any, name: str) -> Any:
    """A field of a request's params, which pygls hands over as an object or a dict."""
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def none_result(reason: str) -> dict:
    return {"kind": "none", "reason": reason, "edits": [], "jump": None, "item": None, "id": None}


def to_lsp(got: NextEdit, text: str, encoding: str) -> dict:
    """The engine's answer as the request's result (docs/lsp.md, "Next edits"), its id and its
    item's command still to be set (``NextEdits._answer``)."""
    if got.kind == "none" or got.target is None:
        return none_result(got.reason)
    lines = text.split("\n")
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()

    def edit(change) -> dict:
        (sl, sc), (el, ec), new_text = change.range_and_text(lines)
        return {"range": _range(text, sl, sc, el, ec, encoding), "newText": new_text}

    target = edit(got.target)
    jump_line, jump_col = to_position(text, got.target.start if got.target.start < len(lines) else max(0, len(lines) - 1),
                                      0, encoding)
    item = None
    if got.kind == "inline":
        item = {"insertText": target["newText"], "range": target["range"], "command": None}
    return {"kind": got.kind, "reason": "", "id": None, "edits": [edit(c) for c in got.changes], "target": target,
            "jump": {"line": jump_line, "character": jump_col}, "item": item,
            "timings": {"latency_ms": round(got.latency_s * 1000, 1), "prompt_tokens": got.prompt_tokens,
                        "reused_tokens": got.reused_tokens, "generated_tokens": got.generated_tokens,
                        "accepted_draft_tokens": got.accepted}}


def _range(text: str, sl: int, sc: int, el: int, ec: int, encoding: str) -> dict:
    a, b = to_position(text, sl, sc, encoding), to_position(text, el, ec, encoding)
    return {"start": {"line": a[0], "character": a[1]}, "end": {"line": b[0], "character": b[1]}}
