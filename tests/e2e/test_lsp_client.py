"""``qwenpair serve`` driven by an independent LSP client library (pytest-lsp, on pygls'
client): the same subprocess an editor starts, the tiny test model, stdio.

It checks what an editor sees first: capabilities, progress while the model loads, an inline
completion at the right UTF-16 range on a line with emoji, the status command, and a clean
shutdown (exit code 0).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

TEXT = 'def greet(name):\n    banner = "🎉🎉 party 🎉" + name\n    return banner\n'
UTF16_COL = len('    banner = "🎉🎉 party 🎉" + name') + 3  # each emoji is two UTF-16 units


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lsp-client-project")
    (root / "greet.py").write_text(TEXT, encoding="utf-8")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "qwenpair", "serve"],
    server_env={**os.environ, "QWENPAIR_CONFIG": os.devnull}))
async def client(lsp_client: LanguageClient, project: Path, tiny_model):
    params = types.InitializeParams(
        capabilities=types.ClientCapabilities(
            window=types.WindowClientCapabilities(work_done_progress=True),
            text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities())),
        root_uri=project.as_uri(),
        initialization_options={"model": str(tiny_model.gguf), "chat_model": str(tiny_model.gguf),
                                "threads": 1, "n_ctx": 2048,
                                "engine": {"max_tokens_single": 8, "max_tokens_multi": 8}})
    result = await lsp_client.initialize_session(params)
    assert result.capabilities.inline_completion_provider is not None
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf16
    yield
    await lsp_client.shutdown_session()


async def _status(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="qwenpair.status"))


@pytest.mark.asyncio
async def test_inline_completion_through_a_real_client(client: LanguageClient, project: Path):
    uri = (project / "greet.py").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=TEXT)))
    for _ in range(300):
        status = await _status(client)
        if status["model_state"] == "ready" and status["index"]["state"] == "ready":
            break
        await asyncio.sleep(0.1)
    assert status["model_state"] == "ready", status
    begins = [r for reports in client.progress_reports.values() for r in reports
              if isinstance(r, types.WorkDoneProgressBegin)]
    assert any("loading model" in r.title for r in begins)

    at = types.Position(line=1, character=UTF16_COL)
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at,
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items and items[0].insert_text.startswith(" name")
    assert items[0].range == types.Range(start=at, end=at)
    assert (await _status(client))["last_latency_ms"] is not None
