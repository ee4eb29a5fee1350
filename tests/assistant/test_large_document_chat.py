"""Chat and edit in a document over the 4 MB cap see a window, not the whole text (issue 18
finding 3; docs/configuration.md, "Large documents").

Before, ``ChatEngine.ask``/``edit`` took the whole text: split into lines (twice), scanned,
diffed line by line and parsed with tree-sitter whole, for a prompt that holds a few hundred
lines at most. Now they see the selection and the lines around it (``chat_window``), say so in
a warning, and an edit made on the window is moved back to the document's lines: its LSP
range, its diff's hunk headers and the document it applies to are the whole file's.
Real parts: the tiny model and a scripted GGUF on llama.cpp.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant import large_document
from assistant.chat import ChatEngine
from assistant.chat_errors import Refused
from assistant.large_document import LARGE_DOCUMENT_CHARS, WINDOW_CHARS, WINDOW_LINES, chat_window

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scripted_chat_model import scripted_gguf  # noqa: E402

FILLER = "value_{} = compute(alpha, beta) + 12345  # a long generated file\n"
SCRIPTED = "    return b + a"  # what the scripted model answers to anything


def _large(middle: str) -> tuple[str, int]:
    """A text over the cap with ``middle`` starting at the returned line."""
    n = LARGE_DOCUMENT_CHARS // len(FILLER) // 2 + 1000  # distinct lines, as code has (difflib's junk heuristic)
    before = "".join(FILLER.format(i) for i in range(n))
    after = "".join(FILLER.format(i) for i in range(n, 2 * n))
    return before + middle + after, n


def test_the_chat_window_holds_the_selection_and_the_lines_around_it():
    text, at = _large("def add(a, b):\n    return a + b\n")
    lines = text.split("\n")
    first, window, note = chat_window(text, (at, at + 2))
    assert first == at - WINDOW_LINES
    assert window == "\n".join(lines[first : at + 2 + WINDOW_LINES]) + "\n"
    assert f"only its lines {first + 1}-{at + 2 + WINDOW_LINES} were used" in note and "MB cap" in note
    # no selection: the start of the file
    first, window, _ = chat_window(text, None)
    assert first == 0 and window == "\n".join(lines[: WINDOW_LINES]) + "\n"
    # at the end: the window stops there
    first, window, _ = chat_window(text, (len(lines) - 1, len(lines)))
    assert text.endswith(window) and first == len(lines) - 1 - WINDOW_LINES


def test_long_lines_are_cut_at_line_breaks_and_a_huge_selection_is_refused():
    long_line = "x" * 50_000 + "\n"
    text = long_line * 100 + "target = 1\n" + long_line * 100
    assert large_document.is_large(text)
    first, window, _ = chat_window(text, (100, 101))
    assert "target = 1\n" in window and len(window) <= 2 * WINDOW_CHARS + len("target = 1\n")
    assert window.startswith("x") and window.endswith("\n")
    assert text.split("\n")[first] == "x" * 50_000
    with pytest.raises(Refused, match="select less"):
        chat_window(text, (0, 200))


@pytest.fixture(scope="module")
def scripted_backend(tiny_model):
    from model.loader import BackendConfig, load_backend

    b = load_backend(BackendConfig(model=str(scripted_gguf(tiny_model, SCRIPTED)), n_ctx=2048, n_threads=2))
    yield b
    b.close()


@pytest.mark.slow
def test_an_edit_in_a_large_document_is_made_on_a_window_and_lands_on_the_documents_lines(scripted_backend, tmp_path):
    path = tmp_path / "big.py"
    text, at = _large("def add(a, b):\n    return a + b\n")
    chat = ChatEngine(scripted_backend, workspace_root=tmp_path)

    prompt = chat.edit_prompt("swap the operands", path=path, text=text, start_line=at + 1, end_line=at + 2)
    assert len(prompt.text) < 4 * WINDOW_CHARS  # not the 4 MB document
    assert any("over the 4 MB cap" in w for w in prompt.context.warnings)

    proposal = chat.edit("swap the operands", path=path, text=text, start_line=at + 1, end_line=at + 2)
    assert proposal.new_text == SCRIPTED + "\n"
    assert proposal.replace_range() == (at + 1, 0, at + 2, 0)
    assert f"@@ -{at - 1},7 +{at - 1},7 @@" in proposal.diff  # the document's line numbers (1-based)
    assert "-    return a + b\n+    return b + a\n" in proposal.diff
    assert proposal.new_document(text) == text.replace("    return a + b\n", SCRIPTED + "\n", 1)
    assert any("over the 4 MB cap" in w for w in proposal.warnings)


@pytest.mark.slow
def test_a_chat_about_a_selection_in_a_large_document_sends_the_window(tiny_model, tmp_path):
    from assistant.chat_prompt import ChatConfig
    from model.loader import BackendConfig, load_backend

    backend = load_backend(BackendConfig(model=str(tiny_model.gguf), n_ctx=2048, n_threads=2))
    try:
        text, at = _large("def add(a, b):\n    return a + b\n")
        chat = ChatEngine(backend, workspace_root=tmp_path, config=ChatConfig(max_answer_tokens=4))
        answer = chat.ask("What does add do?", path=tmp_path / "big.py", text=text, selection=(at, at + 2))
    finally:
        backend.close()
    assert "def add(a, b):\n    return a + b" in answer.sent and len(answer.sent) < 4 * WINDOW_CHARS
    assert any(f"only its lines {at + 1 - WINDOW_LINES}-" in w for w in answer.warnings)
