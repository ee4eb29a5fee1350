"""A closed document's text leaves the secret scan's cache (issue 18 soak: closed 4 MB documents
stayed alive in the policy's "only what changed" cache until newer texts pushed them out)."""

from __future__ import annotations

from assistant.engine import CompletionEngine
from assistant.request import CompletionRequest
from assistant.retrieval import PromptPolicy
from model.backends.fake import FakeBackend


def test_closing_a_document_drops_its_text_from_the_policy(tmp_path):
    path = tmp_path / "big.py"
    text = "x = 1\n" * 200_000  # 1.2 MB, the shape of the soak's large documents
    path.write_text(text)
    policy = PromptPolicy(tmp_path)
    other = tmp_path / "other.py"
    other.write_text("y = 2\n")
    engine = CompletionEngine(FakeBackend("2"), workspace_root=tmp_path, path_policy=policy)
    try:
        engine.document_changed(path, text)
        engine.document_changed(other, "y = 2\n")
        engine.complete_sync(CompletionRequest(path, text, 3, 4))
        engine.complete_sync(CompletionRequest(other, "y = 2\n", 0, 4))
        held = {key for key in policy._texts}
        assert str(path) in held and str(other) in held
        engine.document_closed(path)
        assert str(path) not in policy._texts  # the 1.2 MB text is no longer referenced
        assert str(other) in policy._texts  # an open document's text stays for the next scan
    finally:
        engine.close()
