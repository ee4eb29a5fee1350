"""The JSON-RPC protocol layer, where pygls 2.1 needs three corrections (docs/design.md §9).

- A request before ``initialize`` is answered ServerNotInitialized (-32002) and a
  notification before it is dropped (pygls would run them as if initialized).
- A request after ``shutdown`` is answered InvalidRequest (-32600): pygls ignores it, and
  every request must get exactly one response.
- A request whose params do not fit the method is answered InvalidParams (-32602): pygls
  fails while decoding it and would never answer.
- Position encoding: UTF-8 when the client offers it, else UTF-16 (pygls takes the client's
  first preference). The exit code (0 after shutdown, else 1) is kept for the caller,
  because pygls' ``sys.exit`` is swallowed by its own event loop.
- Every notification, and every step of a generator handler, is entered in pygls' request
  table under a fresh uuid that nothing removes: each didChange left a future there, each
  completion or command step its task with its result (a 30-minute soak grew RSS 23 %;
  issue 18). Entries are removed when their handler finishes (``_execute_handler``).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.exceptions import JsonRpcException
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)

SERVER_NOT_INITIALIZED = -32002
INVALID_REQUEST = -32600


INVALID_PARAMS = -32602

#: The ExecuteCommandParams of the command being run (its workDoneToken).
_COMMAND_PARAMS: contextvars.ContextVar[types.ExecuteCommandParams | None] = contextvars.ContextVar(
    "qwenpair_command_params", default=None)


class _Undecodable:
    """A request whose params could not be decoded; answered with an error."""

    def __init__(self, msg_id: Any, method: str, error: Exception) -> None:
        self.id, self.method, self.error = msg_id, method, error


class QwenProtocol(LanguageServerProtocol):
    def __init__(self, server, converter) -> None:
        super().__init__(server, converter)
        self.initialize_seen = False
        self.exit_code: int | None = None

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        def done(future, msg_id=msg_id, callback=callback):
            if self._request_futures.get(msg_id) is future:  # finished: out of the table
                self._request_futures.pop(msg_id, None)
            callback(future)

        return super()._execute_handler(msg_id, handler, done, args, kwargs)

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data.get("method"), str) and isinstance(data.get("id"), (int, str)):
                return _Undecodable(data["id"], data["method"], exc)
            raise

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        is_request = method is not None and getattr(message, "id", None) is not None
        if method is not None and not self.initialize_seen and method not in (types.INITIALIZE, types.EXIT):
            if is_request:
                self._refuse(message.id, SERVER_NOT_INITIALIZED, f"{method} before initialize: send initialize first")
            return
        if isinstance(message, _Undecodable):
            self._refuse(message.id, INVALID_PARAMS, f"invalid params for {method}: {str(message.error.__cause__ or message.error)[:200]}")
            return
        if is_request and self._shutdown and method != types.EXIT:
            self._refuse(message.id, INVALID_REQUEST, f"{method} after shutdown: only exit is accepted")
            return
        if method == types.INITIALIZE:
            if self.initialize_seen and is_request:
                self._refuse(message.id, INVALID_REQUEST, "initialize was already received")
                return
            self.initialize_seen = True
        super().handle_message(message)

    def _refuse(self, msg_id: Any, code: int, text: str) -> None:
        log.warning("refused request %s: %s", msg_id, text)
        self._send_response(msg_id, error=types.ResponseError(code=code, message=text))

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams):
        general = params.capabilities.general
        offered = list(general.position_encodings or []) if general is not None else []
        if types.PositionEncodingKind.Utf8 in offered:
            general.position_encodings = [types.PositionEncodingKind.Utf8]  # ours, if offered
        elif offered:
            general.position_encodings = [types.PositionEncodingKind.Utf16]  # always supported
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        _COMMAND_PARAMS.set(params)
        return (yield from super().lsp_workspace__execute_command(params))

    def command_token(self) -> types.ProgressToken | None:
        """The workDoneToken of the command being run (in its handler's context)."""
        params = _COMMAND_PARAMS.get()
        return params.work_done_token if params is not None else None

    def on_request_cancelled(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if the request being handled is cancelled ($/cancelRequest or
        shutdown). Commands run behind pygls' own future, which a cancel resolves at once
        (answering -32800) while the handler keeps running: this stops the handler's work."""
        future = self._request_futures.get(self.msg_id)
        if future is not None:
            future.add_done_callback(lambda f: callback() if f.cancelled() else None)

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        """The server's own store (``documents``) holds the text; pygls' workspace copy is
        not kept: applying a change to it splits the whole text into lines, and a change in
        a 50 MB document took 600 MB that way (issue 18 finding 3)."""
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args):
        """pygls' shutdown, cancelling the other requests over a snapshot of its request
        table: cancelling a request runs its done callbacks at once, and they remove it from
        that table (a worker thread finishing a request removes its own too), so iterating
        the live dict failed with "dictionary changed size during iteration" whenever a chat
        was running (issue 18 finding 5). ``dict.copy`` runs under the GIL without calling
        back into Python, so the snapshot is taken whole while every mutator waits."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in self._request_futures.copy().items():
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args):
        self.exit_code = 0 if self._shutdown else 1
        return (yield from super().lsp_exit(*args))

