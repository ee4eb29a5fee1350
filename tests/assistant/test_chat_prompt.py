"""Golden chat and edit prompts: the exact text the instruct model sees.

Built with the real Qwen2.5 tokenizer (no weights needed) and the real workspace index of
``tests/data/sample_repo``, so the repository snippets are what the retriever really picks.
On a mismatch the test prints a diff; after a deliberate format change, rewrite the files with
``QWENPAIR_UPDATE_GOLDEN=1`` (the tests then skip, saying what they wrote; see tests/golden.py)
and review the diff in git.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chat import ChatEngine
from assistant.chat_prompt import ChatConfig
from assistant.retrieval import PromptPolicy, workspace_retriever
from model.prompt import ChatMessage
from tests.golden import check_text

GOLDEN = Path(__file__).parent / "golden_chat"
ROOT = Path(__file__).resolve().parents[1] / "data" / "sample_repo"
SHAPES = ROOT / "geometry" / "shapes.py"
REPORT = ROOT / "geometry" / "report.py"


@pytest.fixture(scope="module")
def engine():
    from model.backends.tokenizer_only import TokenizerOnlyBackend

    retriever, close = workspace_retriever(ROOT)
    yield ChatEngine(TokenizerOnlyBackend(4096), workspace_root=ROOT, retriever=retriever,
                     path_policy=PromptPolicy(ROOT), config=ChatConfig())
    close()


def check_golden(name: str, text: str) -> None:
    check_text(GOLDEN / name, text, what="the chat prompt now")


def test_ask_about_a_selection_with_diagnostics_and_history(engine):
    prompt = engine.ask_prompt(
        "Why does this print the wrong total?",
        history=[ChatMessage("user", "What does report.py do?"),
                 ChatMessage("assistant", "It prints the total area of two shapes.")],
        path=REPORT, text=REPORT.read_text(), selection=(5, 7),
        diagnostics=["report.py:6:16: missing type annotation for argument 'shapes'"],
    )
    check_golden("ask_selection.txt", prompt.text)
    kinds = [p.kind for p in prompt.context.pieces]
    assert "snippet" in kinds and "selection" in kinds and "diagnostics" in kinds
    assert prompt.text.count("<|im_start|>user\n") == 2  # the earlier turn, then this one


def test_edit_a_method(engine):
    text = SHAPES.read_text()
    prompt = engine.edit_prompt("Add a docstring.", path=SHAPES, text=text, start_line=22, end_line=24)
    check_golden("edit_method.txt", prompt.text)
    assert prompt.max_tokens >= 2 * engine._count("".join(text.splitlines(True)[22:24]))


def test_question_without_a_file(engine):
    prompt = engine.ask_prompt("How do I reverse a list in Python?")
    check_golden("ask_plain.txt", prompt.text)
