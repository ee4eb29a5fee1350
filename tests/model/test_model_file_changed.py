"""A model file overwritten in place while a real ``qwenpair serve`` has it loaded (issue 18
finding 6): llama.cpp maps the file, so the next generation read pages past the new end and
the server died with SIGBUS, the request unanswered. Now the file's identity (inode, size,
mtime) is checked before each evaluation: the completion is answered (empty), the user is
told what happened and what to do, and the server lives on."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lsp_server"))
from lsp_wire import Wire, server_env  # noqa: E402

DOCUMENT = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def _options(model: Path) -> dict:
    return {"model": str(model), "chat_model": str(model), "n_ctx": 2048, "threads": 1, "calibrate": False,
            "engine": {"max_tokens_single": 8, "max_tokens_multi": 8}, "chat": {"max_answer_tokens": 8}}


def _inline(wire: Wire, uri: str, line: int, character: int) -> dict:
    return wire.result("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
        "line": line, "character": character}, "context": {"triggerKind": 1}}, timeout=60)


def test_model_truncated_in_place_is_refused_with_a_message_not_a_crash(tiny_model, tmp_path):
    model = tmp_path / "copy.gguf"
    shutil.copyfile(tiny_model.gguf, model)
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text(DOCUMENT)
    wire = Wire(server_env(tmp_path))
    try:
        wire.initialize(project, _options(model))
        uri = wire.open(project / "calc.py")
        assert wire.wait_ready()["model_state"] == "ready"
        assert _inline(wire, uri, 1, len("    return a + b"))["items"], "the model answers before the change"

        size = model.stat().st_size
        with open(model, "r+b") as f:  # in place: same inode, as `cp` or a careless tool would
            f.truncate(size // 2)

        after = _inline(wire, uri, 5, len("    return a - b"))
        assert after == {"items": []}
        assert wire.process.poll() is None, f"the server died (signal {-wire.process.returncode})"
        wire.wait_for(lambda: any("overwritten in place" in m["message"] for m in wire.notifications("window/showMessage")),
                      timeout=20, what="a message about the changed model file")
        (shown,) = [m for m in wire.notifications("window/showMessage") if "overwritten in place" in m["message"]]
        assert str(model) in shown["message"] and "qwenpair.switchModel" in shown["message"]
        assert shown["type"] == 1  # Error
        # the server goes on: another completion is answered (empty) without a second popup, status works
        assert _inline(wire, uri, 4, len("def sub(a, b):"))["items"] == []
        assert len([m for m in wire.notifications("window/showMessage") if "overwritten in place" in m["message"]]) == 1
        assert wire.status()["model_state"] == "ready"
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()


def test_backend_refuses_a_replaced_or_removed_file(tiny_model, tmp_path):
    """The same check in the backend itself: a file replaced by rename (a new inode), and one
    removed, are refused before llama.cpp evaluates anything."""
    from model.backends.base import GenerationRequest
    from model.backends.llama_cpp import LlamaCppBackend
    from model.file_identity import ModelFileChanged

    model = tmp_path / "copy.gguf"
    shutil.copyfile(tiny_model.gguf, model)
    backend = LlamaCppBackend(model, n_ctx=512, n_threads=1)
    try:
        assert backend.generate(GenerationRequest("def f(", max_tokens=2)).token_ids
        fresh = tmp_path / "fresh.gguf"
        shutil.copyfile(tiny_model.gguf, fresh)
        os.replace(fresh, model)  # the loaded inode stays mapped and intact: refused as a change anyway
        with pytest.raises(ModelFileChanged, match="replaced by another file"):
            backend.generate(GenerationRequest("def g(", max_tokens=2))
        model.unlink()
        with pytest.raises(ModelFileChanged, match="is gone"):
            backend.prefill("def h(")
    finally:
        backend.close()
