"""The LSP handlers: each converts LSP types to the server's calls and back, nothing more.

``build_server()`` registers them on a fresh ``QwenServer``; ``serve()`` runs it over stdio
or TCP (loopback, one client with the token: see ``transport``) and returns the process
exit code (0 after shutdown + exit, 1 otherwise).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled

from assistant.chat_errors import ChatError, Refused, StaleEdit
from assistant.large_document import is_large
from assistant.request import CompletionItem, CompletionResult
from assistant.scheduler import Superseded
from lsp_server import code_actions, commands, next_edit, outcomes, transport
from lsp_server.documents import Change, DocumentError
from lsp_server.positions import to_line_col, to_position
from lsp_server.progress import WorkProgress
from lsp_server.server import ChatUnavailable, QwenServer

log = logging.getLogger(__name__)

CONTENT_MODIFIED = -32801
REQUEST_FAILED = -32803


class ContentModified(JsonRpcException):
    CODE = CONTENT_MODIFIED


class RequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


def _arguments(parse, args: tuple) -> Any:
    """A command's arguments through its parser in ``commands``; bad ones are the client's
    error (-32602, with the parser's reason)."""
    try:
        return parse(list(args))
    except commands.BadArguments as exc:
        raise JsonRpcInvalidParams(str(exc)) from None

def _range(ls: QwenServer, text: str, item: CompletionItem) -> types.Range:
    sl, sc = to_position(text, item.line, item.col, ls.encoding)
    el, ec = to_position(text, item.end_line, item.end_col, ls.encoding)
    return types.Range(start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec))


#: The notification carrying a multi-line suggestion's whole block after the request was
#: answered with its first line (docs/lsp.md, "Multi-line suggestions").
EXTENDED = "qwenpair/inlineCompletionExtended"


class _Extension:
    """Sends ``EXTENDED`` for one inline completion once both the whole block is there and
    the request's answer has been written: a fast block can land before the first line's
    answer goes out, and the notification must not overtake it."""

    def __init__(self, ls: QwenServer, uri: str, position: types.Position, text: str) -> None:
        self.ls, self.uri, self.position, self.text = ls, uri, position, text
        self._lock = threading.Lock()
        self._answered = False
        self._block: CompletionResult | None = None

    def on_extended(self, result: CompletionResult) -> None:  # the model's thread
        with self._lock:
            self._block, go = result, self._answered
        if go:
            self.ls.call_soon(self._send)

    def answered(self, _task: Any) -> None:
        """The request's task is done; pygls' own callback, registered first, has written the answer."""
        with self._lock:
            self._answered, go = True, self._block is not None
        if go:
            self._send()

    def _send(self) -> None:
        ls, block = self.ls, self._block
        ids = ls.outcomes.completion_ids(self.uri, self.text, block, block=True)  # a new suggestion: the block
        items = [types.InlineCompletionItem(insert_text=i.text, range=_range(ls, self.text, i),
                                            command=outcomes.lsp_command(sid, kind))
                 for i, (sid, kind) in zip(block.items, ids)]
        params = {"textDocument": types.VersionedTextDocumentIdentifier(uri=self.uri, version=block.version or 0),
                  "position": self.position, "items": items}
        ls.protocol.notify(EXTENDED, ls.protocol._converter.unstructure(params))


async def _complete(ls: QwenServer, uri: str, position: types.Position,
                    extend: bool = False) -> tuple[str, CompletionResult] | None:
    """The completion at ``position``; with ``extend`` a multi-line one answers with its first
    line and the whole block follows as an ``EXTENDED`` notification."""
    try:
        await ls.wait_for_model(uri)  # asked for while the model loads: wait for it, capped
    except Superseded:
        raise JsonRpcRequestCancelled("superseded by a newer completion request for this document") from None
    ls.next_edits.completion_started()  # a next edit computing ahead gives way (docs/lsp.md, "Next edits")
    found = ls.completion_request(uri, position)
    if found is None:
        return None
    engine, request = found
    on_extended = None
    if extend:
        extension = _Extension(ls, uri, position, request.text)
        asyncio.current_task().add_done_callback(extension.answered)
        on_extended = extension.on_extended
    try:
        return request.text, await ls.complete(engine, request, on_extended)
    except Superseded:
        raise JsonRpcRequestCancelled("superseded by a newer completion request for this document") from None
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a model error must not fail the editor's request: no completion
        log.exception("completion failed at %s:%d", uri, position.line)
        if getattr(exc, "user_facing", False) and str(exc) != getattr(ls, "last_problem", None):
            ls.last_problem = str(exc)  # shown once, not at every keystroke (e.g. a model file changed)
            ls.show(types.MessageType.Error, f"qwenpair: {exc}")
        return None


def build_server() -> QwenServer:
    ls = QwenServer()
    ls.next_edits = next_edit.NextEdits(ls)  # edit history + qwenpair/nextEdit (docs/lsp.md, "Next edits")
    ls.outcomes = outcomes.Outcomes(ls)  # suggestion ids and outcomes (docs/lsp.md, "Suggestion outcomes")

    @ls.feature(types.INITIALIZE)
    def initialize(ls: QwenServer, params: types.InitializeParams) -> None:
        ls.on_initialize(params)

    @ls.feature(types.INITIALIZED)
    def initialized(ls: QwenServer, params: types.InitializedParams) -> None:
        ls.on_initialized()

    @ls.feature(types.SHUTDOWN)
    def shutdown(ls: QwenServer, params: Any) -> None:
        ls.outcomes.close()
        ls.on_shutdown()

    # -- document sync -----------------------------------------------------------------
    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: QwenServer, params: types.DidOpenTextDocumentParams) -> None:
        d = params.text_document
        ls.docs.open(d.uri, d.text, d.version, d.language_id)
        path = ls.path_of(d.uri)
        engine = ls.sync_engine(path)
        if engine is not None:
            engine.document_opened(path, d.text)
        ls.next_edits.opened(path, d.text)
        if path is not None and ls.roots is not None:
            ls.roots.overlay(path, _indexable(d.text))

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: QwenServer, params: types.DidChangeTextDocumentParams) -> None:
        changes = [Change(c.text, (c.range.start.line, c.range.start.character, c.range.end.line, c.range.end.character))
                   if isinstance(c, types.TextDocumentContentChangePartial) else Change(c.text)
                   for c in params.content_changes]
        try:
            doc, line = ls.docs.change(params.text_document.uri, params.text_document.version, changes)
        except DocumentError as exc:
            log.warning("%s", exc)
            return
        path = ls.path_of(doc.uri)
        engine = ls.sync_engine(path)
        if engine is not None:
            engine.document_changed(path, doc.text, line)
        ls.outcomes.changed(doc.uri, doc.text, changes)
        ls.next_edits.changed(doc.uri, path, doc.text)
        if path is not None and ls.roots is not None:
            ls.roots.overlay(path, _indexable(doc.text))

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: QwenServer, params: types.DidSaveTextDocumentParams) -> None:
        path = ls.path_of(params.text_document.uri)
        session = ls.roots.session_for(path) if (path is not None and ls.roots) else None
        if session is not None:
            threading.Thread(target=session.workspace.refresh, args=([path],), daemon=True).start()

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: QwenServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.docs.close(uri)
        ls.outcomes.closed(uri)
        path = ls.path_of(uri)
        engine = ls.sync_engine(path)
        if engine is not None:
            engine.document_closed(path)
        ls.next_edits.closed(path)
        if path is not None and ls.roots is not None:
            ls.roots.policy.forget_text(path)  # the server's policy judged it too (next edits, chat)
            ls.roots.overlay(path, None)

    @ls.feature(types.WORKSPACE_DID_RENAME_FILES, types.FileOperationRegistrationOptions(
        filters=[types.FileOperationFilter(pattern=types.FileOperationPattern(glob="**/*"), scheme="file")]))
    def did_rename_files(ls: QwenServer, params: types.RenameFilesParams) -> None:
        for f in params.files:  # the next-edit history follows a renamed file (docs/lsp.md, "Next edits")
            ls.next_edits.renamed(ls.path_of(f.old_uri), ls.path_of(f.new_uri))

    @ls.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def folders_changed(ls: QwenServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            ls.remove_root(folder.uri)
        for folder in params.event.added:
            ls.add_root(folder.uri)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def configuration_changed(ls: QwenServer, params: types.DidChangeConfigurationParams) -> None:
        ls.change_configuration(params.settings)

    # -- completion ----------------------------------------------------------------------
    @ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: QwenServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        done = await _complete(ls, params.text_document.uri, params.position, extend=True)
        items = []
        if done is not None:
            text, result = done
            ids = ls.outcomes.completion_ids(params.text_document.uri, text, result)
            items = [types.InlineCompletionItem(insert_text=i.text, range=_range(ls, text, i),
                                                command=outcomes.lsp_command(sid, kind))
                     for i, (sid, kind) in zip(result.items, ids)]
        nes = ls.next_edits.inline_item(params.text_document.uri, params.position.line, params.position.character)
        if nes is not None:  # computed ahead for this version, at the cursor's line: first (docs/lsp.md, "Next edits")
            items.insert(0, ls.protocol._converter.structure(nes, types.InlineCompletionItem))
        return types.InlineCompletionList(items=items)

    @ls.feature(next_edit.METHOD)
    async def next_edit_request(ls: QwenServer, params: Any) -> dict:
        return await ls.next_edits.request(params)

    @ls.feature(next_edit.COPILOT_METHOD)
    async def copilot_inline_edit(ls: QwenServer, params: Any) -> dict:
        return await ls.next_edits.copilot_request(params)

    @ls.command(next_edit.ITEM_COMMAND)
    async def next_edit_accepted(ls: QwenServer, *args: Any) -> None:
        """Run by clients when a next edit is accepted (the edit itself arrives as didChange):
        the next one after it is computed at once."""
        ls.next_edits.accepted(args)
        ls.outcomes.accepted(args)

    @ls.command(outcomes.ACCEPTED)
    async def suggestion_accepted(ls: QwenServer, *args: Any) -> None:
        """Run by clients when a completion is accepted (the item's command): recorded, and the
        next edit after it is computed at once."""
        ls.outcomes.accepted(args)
        ls.next_edits.accepted(args)

    @ls.feature(outcomes.NOTIFICATION)
    def suggestion_outcome(ls: QwenServer, params: Any) -> None:
        ls.outcomes.notified(params)

    @ls.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: QwenServer, params: types.CompletionParams) -> types.CompletionList:
        """For clients without inline completion: the same completion as one item."""
        caps = ls.client_capabilities.text_document
        if caps is not None and caps.inline_completion is not None:
            return types.CompletionList(is_incomplete=False, items=[])
        done = await _complete(ls, params.text_document.uri, params.position)
        if done is None:
            return types.CompletionList(is_incomplete=True, items=[])
        text, result = done
        items = []
        ids = ls.outcomes.completion_ids(params.text_document.uri, text, result)
        for rank, (item, (sid, kind)) in enumerate(zip(result.items, ids)):
            first = item.text.strip().split("\n", 1)[0]
            items.append(types.CompletionItem(
                label=first[:60] or item.text[:60], kind=types.CompletionItemKind.Text, detail="qwenpair",
                sort_text=f"{rank:04d}", filter_text="", insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=_range(ls, text, item), new_text=item.text),
                command=outcomes.lsp_command(sid, kind),  # run by the client after inserting it: recorded
            ))
        return types.CompletionList(is_incomplete=True, items=items)

    @ls.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix]))
    def code_action(ls: QwenServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.docs.get(params.text_document.uri)
        return code_actions.code_actions(params.text_document.uri, params.range, doc.version if doc else None,
                                         list(params.context.diagnostics))

    # -- commands --------------------------------------------------------------------------
    @ls.command(commands.STATUS)
    async def status(ls: QwenServer, *args: Any) -> dict:
        return {**ls.status(), "suggestions_today": ls.outcomes.today()}

    @ls.command(commands.REINDEX)
    async def reindex(ls: QwenServer, *args: Any) -> dict:
        files = await asyncio.get_running_loop().run_in_executor(None, ls.reindex)
        return {"files": files}

    @ls.command(commands.SWITCH_MODEL)
    async def switch_model(ls: QwenServer, *args: Any) -> dict:
        change = _arguments(commands.switch_args, args)
        new = dict(ls.current_overrides(), **change)
        ls.change_configuration(new)
        if ls.pending_load is not None:
            await asyncio.wrap_future(ls.pending_load)
        return ls.status()

    @ls.command(commands.CHAT)
    async def chat(ls: QwenServer, *args: Any) -> dict:
        a = _arguments(commands.chat_args, args)
        path = ls.path_of(a.uri) if a.uri else None
        text, selection = None, None
        if a.uri is not None:
            found = ls.document_text(a.uri)
            if found is None:
                raise RequestFailed(f"{a.uri} was not used: {ls.unreadable_reason(a.uri)}")
            text = found[0]
            if a.range is not None:
                selection = _lines(ls, text, a.range)
        answer = await _run_chat(ls, a.stream_id, path, lambda engine, on_text, cancel: engine.ask(
            a.question, history=a.history, path=path, text=text, selection=selection,
            diagnostics=a.diagnostics, on_text=on_text, cancel=cancel))
        return {"text": answer.text, "stop_reason": answer.stop_reason, "warnings": answer.warnings,
                "sent": answer.sent}

    @ls.command(commands.EDIT)
    async def edit(ls: QwenServer, *args: Any) -> dict:
        a = _arguments(commands.edit_args, args)
        path = ls.path_of(a.uri)
        doc = ls.docs.get(a.uri)
        found = ls.document_text(a.uri)
        if path is None or found is None:
            raise RequestFailed(f"{a.uri} was not used: {ls.unreadable_reason(a.uri)}")
        text, version = found
        if a.version is not None and doc is not None and doc.version != a.version:
            raise ContentModified(f"the document changed (version {doc.version}, the edit was asked for {a.version}); ask again")
        start, end = _lines(ls, text, a.range)
        try:
            proposal = await _run_chat(ls, a.stream_id, path, lambda engine, on_text, cancel: engine.edit(
                a.instruction, path=path, text=text, start_line=start, end_line=end, version=version,
                diagnostics=a.diagnostics, on_text=on_text, cancel=cancel))
        except RequestFailed:  # a document changed meanwhile outranks what the model said
            _check_unchanged(ls, a.uri, text)
            raise
        _check_unchanged(ls, a.uri, text)
        sl, sc, el, ec = proposal.replace_range()
        start_pos, end_pos = to_position(text, sl, sc, ls.encoding), to_position(text, el, ec, ls.encoding)
        edit_range = types.Range(start=types.Position(line=start_pos[0], character=start_pos[1]),
                                 end=types.Position(line=end_pos[0], character=end_pos[1]))
        text_edit = types.TextEdit(range=edit_range, new_text=proposal.new_text)
        workspace_edit = types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=a.uri, version=version),
            edits=[text_edit])])
        return {"edit": ls.protocol._converter.unstructure(workspace_edit), "diff": proposal.diff,
                "warnings": proposal.warnings}

    return ls


def _indexable(text: str) -> str | None:
    """The text the index may take as a document's unsaved version: None (the saved file)
    for one over the size cap, which the index would parse whole (docs/configuration.md)."""
    return None if is_large(text) else text


def _check_unchanged(ls: QwenServer, uri: str, text: str) -> None:
    now = ls.docs.get(uri)
    if now is not None and now.text != text:
        raise ContentModified("the document changed while the edit was being written; ask again")


def _lines(ls: QwenServer, text: str, span: commands.Span) -> tuple[int, int]:
    """Lines [start, end) a client Range covers, in the document ``text``."""
    start, _ = to_line_col(text, span[0], span[1], ls.encoding)
    end_line, end_col = to_line_col(text, span[2], span[3], ls.encoding)
    return commands.selection_lines((start, 0, end_line, end_col))


async def _run_chat(ls: QwenServer, stream_id: str | None, path, work) -> Any:
    """Run a chat/edit call in a thread: stream deltas as ``qwenpair/chatDelta``, report
    progress on the client's workDoneToken, and cancel the model on $/cancelRequest."""
    try:
        engine = ls.chat_engine(path)
    except ChatUnavailable as exc:
        raise RequestFailed(f"chat is unavailable: {exc}") from None
    cancel = threading.Event()
    token = ls.qprotocol.command_token()
    progress = None
    if token is not None:
        progress = WorkProgress(ls, "qwenpair: thinking", token)
        progress.begin("", cancellable=True)
    ls.qprotocol.on_request_cancelled(cancel.set)

    def on_text(delta: str) -> None:
        if stream_id is not None and delta:
            ls.call_soon(lambda: ls.protocol.notify("qwenpair/chatDelta", {"streamId": stream_id, "text": delta}))
        if progress is not None and delta:
            progress.report(delta[-40:])

    try:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: work(engine, on_text, cancel))
    except asyncio.CancelledError:
        cancel.set()
        raise
    except StaleEdit as exc:
        raise ContentModified(str(exc)) from None
    except (Refused, ChatError) as exc:
        if cancel.is_set():
            raise JsonRpcRequestCancelled("cancelled") from None
        raise RequestFailed(str(exc)) from None
    finally:
        if progress is not None:
            progress.end()


def _private_stdout() -> BinaryIO:
    """The LSP stream on a private copy of fd 1; fd 1 itself then points at stderr, so that
    anything else that prints (llama.cpp's C code does while loading a model) cannot
    corrupt the protocol."""
    out = os.fdopen(os.dup(1), "wb")
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def serve(tcp: tuple[str, int] | None = None, *, allow_remote: bool = False,
          token_file: Path | None = None, log_file: str | None = None) -> int:
    """Run the server until the client exits or disappears; returns the exit code.
    ``tcp`` listens there instead of stdio (loopback only unless ``allow_remote``, with a
    token: ``transport.start_tcp``); ``log_file`` is the command line's log path, which
    wins over the config file and which no client can change (docs/security.md)."""
    ls = build_server()
    if log_file:
        ls.server_options["log_file"] = log_file
    # The event loop answers in microseconds, but waits for the GIL while the model's thread
    # runs Python between decode steps: a shorter switch interval (default 5 ms) bounds that.
    sys.setswitchinterval(0.0005)
    try:
        if tcp is None:
            transport.start_io(ls, sys.stdin.buffer, _private_stdout())
        else:
            transport.start_tcp(ls, *tcp, allow_remote=allow_remote, token_file=token_file)
    except SystemExit:
        pass
    finally:
        ls.close()
    code = ls.qprotocol.exit_code
    return 1 if code is None else code
