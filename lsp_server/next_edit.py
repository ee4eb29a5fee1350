"""``qwenpair/nextEdit``: next-edit suggestions over LSP (docs/lsp.md, "Next edits").

The edit history (``assistant.edit_history``) follows the open documents from the document
sync notifications; the request runs ``assistant.next_edit.NextEditEngine`` on the completion
model, off the event loop, and answers the edits of the predicted window plus the one to offer:
``inline`` (at the cursor: an ``InlineCompletionItem``-shaped item whose range replaces text)
or ``jump`` (where to move). This module only converts; the logic is in assistant/.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from assistant.edit_history import EditHistory
from assistant.large_document import is_large
from assistant.next_edit import NextEdit, NextEditEngine
from lsp_server.positions import to_line_col, to_position

log = logging.getLogger(__name__)

METHOD = "qwenpair/nextEdit"
#: copilot-language-server's request for the same, answered in its shape so that clients
#: written for it (copilot-lsp for Neovim, sidekick.nvim) work unchanged.
COPILOT_METHOD = "textDocument/copilotInlineEdit"
#: The ``command`` of a next-edit item: clients style these apart from completions, and may
#: run it on accept (the server takes it and does nothing).
ITEM_COMMAND = "qwenpair.nextEdit"


class NextEdits:
    """The server's next-edit state: one edit history, one engine per loaded model."""

    def __init__(self, ls) -> None:
        self.ls = ls
        self.history: EditHistory | None = None
        self._engine: NextEditEngine | None = None
        #: the running request's cancel event per document: a change to the document makes its
        #: answer stale, and the model (shared with completions) is freed at the next token
        self._running: dict[Path, threading.Event] = {}

    def _hist(self) -> EditHistory | None:
        if self.history is None and self.ls.roots is not None:
            self.history = EditHistory(self.ls.roots.policy)  # the one policy (docs/security.md)
        return self.history

    # -- document sync -------------------------------------------------------------------
    def opened(self, path: Path | None, text: str) -> None:
        hist = self._hist()
        if hist is not None and path is not None and not is_large(text):
            hist.open(path, text)

    def changed(self, path: Path | None, text: str) -> None:
        hist = self._hist()
        if hist is None or path is None:
            return
        running = self._running.get(path)
        if running is not None:
            running.set()
        if is_large(text):  # a large document keeps no history (each change would compare it whole)
            hist.close(path)
        elif path in hist:
            hist.update(path, text)
        else:
            hist.open(path, text)

    def closed(self, path: Path | None) -> None:
        if self.history is not None and path is not None:
            self.history.close(path)

    # -- the request ---------------------------------------------------------------------
    def engine(self, path: Path) -> NextEditEngine | None:
        models, hist = self.ls.models, self._hist()
        if models is None or hist is None:
            return None
        if self._engine is None or self._engine.backend is not models.completion:
            # the completion model itself (prompt lookup needs its llama.cpp context), under
            # the lock completions take
            self._engine = NextEditEngine(models.completion, hist, lock=models.lock)
        session = self.ls.roots.session_for(path)
        self._engine.root = session.root if session is not None else None
        return self._engine

    async def request(self, params: Any) -> dict:
        uri = _get(_get(params, "textDocument"), "uri")
        position = _get(params, "position")
        path = self.ls.path_of(uri) if isinstance(uri, str) else None
        found = self.ls.document_text(uri) if path is not None else None
        if path is None or found is None or position is None:
            return none_result(f"{uri} is not an open document the server may read")
        engine = self.engine(path)
        if engine is None:
            return none_result(self.ls.model_problem or "the model is still loading; try again in a moment")
        text = found[0]
        line, col = to_line_col(text, int(_get(position, "line")), int(_get(position, "character")), self.ls.encoding)
        cancel = threading.Event()
        previous, self._running[path] = self._running.get(path), cancel
        if previous is not None:
            previous.set()  # a newer request for the document wins
        try:
            got = await asyncio.get_running_loop().run_in_executor(
                None, lambda: engine.suggest(path, text, line, col, cancel=cancel))
        finally:
            if self._running.get(path) is cancel:
                del self._running[path]
        return to_lsp(got, text, self.ls.encoding)


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
                           "command": {"title": "next edit", "command": ITEM_COMMAND}}]}


def _get(obj: Any, name: str) -> Any:
    """A field of a request's params, which pygls hands over as an object or a dict."""
    if obj is None:
        return None
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def none_result(reason: str) -> dict:
    return {"kind": "none", "reason": reason, "edits": [], "jump": None, "item": None}


def to_lsp(got: NextEdit, text: str, encoding: str) -> dict:
    """The engine's answer as the request's result (docs/lsp.md, "Next edits")."""
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
        item = {"insertText": target["newText"], "range": target["range"],
                "command": {"title": "next edit", "command": ITEM_COMMAND}}
    return {"kind": got.kind, "reason": "", "edits": [edit(c) for c in got.changes], "target": target,
            "jump": {"line": jump_line, "character": jump_col}, "item": item,
            "timings": {"latency_ms": round(got.latency_s * 1000, 1), "generated_tokens": got.generated_tokens,
                        "accepted_draft_tokens": got.accepted}}


def _range(text: str, sl: int, sc: int, el: int, ec: int, encoding: str) -> dict:
    a, b = to_position(text, sl, sc, encoding), to_position(text, el, ec, encoding)
    return {"start": {"line": a[0], "character": a[1]}, "end": {"line": b[0], "character": b[1]}}
