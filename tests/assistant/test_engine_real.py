"""The engine end to end on real parts: the tiny GGUF in llama.cpp and a real workspace index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import EngineConfig
from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from assistant.retrieval import PromptPolicy, workspace_retriever
from model.backends.llama_cpp import LlamaCppBackend

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_repo"


@pytest.fixture()
def engine(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("QWENPAIR_CACHE_DIR", str(tmp_path / "cache"))  # a fresh index store
    root = tmp_path / "sample_repo"
    shutil.copytree(SAMPLE, root)
    backend = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=2)
    retriever, close = workspace_retriever(root)
    eng = CompletionEngine(backend, config=EngineConfig(latency_target_s=60.0), workspace_root=root,
                           retriever=retriever, path_policy=PromptPolicy(root))
    yield eng, root
    eng.close()
    close()
    backend.close()


def test_typing_reuses_the_kv_cache_and_keeps_the_snippets(engine):
    eng, root = engine
    path = root / "geometry" / "report.py"
    lines = path.read_text().split("\n")
    lines[6] = "    return s"
    evaluated = []
    for typed in ("", "u", "um", "um("):
        lines[6] = "    return s" + typed
        result = eng.complete_sync(CompletionRequest(path, "\n".join(lines), 6, len(lines[6])))
        assert "<|file_sep|>geometry/shapes.py\n" in result.prompt or result.cache != "miss"
        if result.cache == "miss":
            evaluated.append(result.evaluated_tokens)
    assert evaluated[0] > 100  # the first request evaluates the whole prompt
    assert all(n <= 6 for n in evaluated[1:]), evaluated  # then only the typed tokens


def test_prefill_on_open_warms_the_first_request(engine):
    eng, root = engine
    path = root / "geometry" / "report.py"
    text = path.read_text()
    eng.document_opened(path, text, line=6).result(timeout=60)
    lines = text.split("\n")
    lines[6] += "  # t"  # the user starts typing at the end of line 7
    result = eng.complete_sync(CompletionRequest(path, "\n".join(lines), 6, len(lines[6])))
    assert result.evaluated_tokens < result.prompt_tokens / 4


def test_unsaved_buffer_and_secret_files(engine):
    eng, root = engine
    new = root / "geometry" / "draft.py"  # exists only in the editor
    result = eng.complete_sync(CompletionRequest(new, "from geometry.shapes import Circle\n\nc = Ci", 2, 6))
    assert "<|file_sep|>geometry/draft.py\n" in result.prompt
    secret = root / ".env"
    refused = eng.complete_sync(CompletionRequest(secret, "TOKEN=", 0, 6))
    assert refused.items == [] and "secret file" in refused.warnings[0]


@pytest.mark.parametrize(
    "text,line,col",
    [("", 0, 0), ("x" * 200_000, 0, 200_000), ("a\n" * 30_000, 29_999, 1), ("ünï\ncödé 🎉", 1, 7)],
    ids=["empty", "minified", "huge", "unicode"],
)
def test_odd_documents_never_raise(engine, text, line, col):
    eng, root = engine
    result = eng.complete_sync(CompletionRequest(root / "odd.py", text, line, col))
    assert result.prompt.endswith("<|fim_middle|>" + text.split("\n")[min(line, text.count("\n"))][:col]) or result.prompt
    assert result.prompt_tokens <= eng.backend.n_ctx


def test_unknown_language_and_file_outside_the_workspace(engine, tmp_path):
    eng, _ = engine
    outside = tmp_path / "elsewhere" / "notes.xyz"
    result = eng.complete_sync(CompletionRequest(outside, "some words here\nmore ", 1, 5))
    assert result.prompt.startswith("<|fim_prefix|>")
