"""ChatEngine logic with the scripted backend: budgets, history, refusals, streaming, cancel.

The fake backend counts one token per character and replays a fixed answer, so budgets and
cancellation points are exact. What the real model and tokenizer do is covered by
``test_chat_real.py`` and the golden prompts.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from assistant.chat import ChatEngine
from assistant.chat_errors import Interrupted, Refused, UnusableAnswer
from assistant.chat_prompt import ChatConfig
from assistant.retrieval import PromptPolicy
from model.backends.fake import FakeBackend
from model.prompt import ChatMessage

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("private/\n")
    (tmp_path / "calc.py").write_text(CODE)
    (tmp_path / ".env").write_text("API_KEY=sk-secret\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "gen.py").write_text("x = 1\n")
    return tmp_path


def engine(repo: Path, reply: str = "ok", **config) -> ChatEngine:
    return ChatEngine(FakeBackend(reply, n_ctx=8192), workspace_root=repo, path_policy=PromptPolicy(repo),
                      config=ChatConfig(**config))


def test_history_is_trimmed_oldest_first_and_restarts_on_a_question(repo):
    history = []
    for i in range(6):
        history += [ChatMessage("user", f"question {i} " + "x" * 80), ChatMessage("assistant", f"answer {i} " + "y" * 80)]
    prompt = engine(repo, history_tokens=400).ask_prompt("and now?", history=history)
    kept = prompt.messages[:-1]
    assert kept[0].role == "user" and kept[-1].content.startswith("answer 5")
    assert "question 0" not in prompt.text and "answer 5" in prompt.text
    assert len(kept) < len(history)
    assert any("earlier turn(s) left out" in w for w in prompt.context.warnings)


def test_a_follow_up_on_the_same_code_does_not_send_it_again(repo):
    chat = engine(repo)
    path = repo / "calc.py"
    first = chat.ask("what does add do?", path=path, text=CODE, selection=(0, 2))
    assert first.sent.startswith("`calc.py` lines 3-6, after the selection:") and first.sent.endswith("what does add do?")
    history = [ChatMessage("user", first.sent), ChatMessage("assistant", first.text)]
    again = chat.ask_prompt("and sub?", history=history, path=path, text=CODE, selection=(0, 2))
    assert again.messages[-1].content == "and sub?"
    assert again.text.count("def sub(a, b)") == 1 and again.context.pieces[0].kind == "context"
    changed = CODE.replace("a - b", "b - a")
    moved = chat.ask_prompt("and sub?", history=history, path=path, text=changed, selection=(0, 2))
    assert moved.messages[-1].content.endswith("and sub?") and "b - a" in moved.messages[-1].content


def test_answer_streams_and_cancel_keeps_the_partial_answer(repo):
    chat = engine(repo, reply="a long answer that will be interrupted")
    pieces: list[str] = []
    answer = chat.ask("explain", path=repo / "calc.py", text=CODE, selection=(0, 2), on_text=pieces.append)
    assert "".join(pieces) == answer.text == "a long answer that will be interrupted"
    assert answer.stop_reason == "eos" and answer.complete
    cancel = threading.Event()
    streamed: list[str] = []

    def on_text(delta: str) -> None:
        streamed.append(delta)
        if len(streamed) == 6:
            cancel.set()  # as Ctrl-C or $/cancelRequest would, mid-answer

    answer = chat.ask("explain", on_text=on_text, cancel=cancel)
    assert answer.stop_reason == "cancelled" and not answer.complete
    assert answer.text == "".join(streamed) == "a long"


def test_answer_cut_by_the_token_limit_says_so(repo):
    answer = engine(repo, reply="z" * 100, max_answer_tokens=10).ask("go on")
    assert answer.stop_reason == "length" and len(answer.text) == 10
    assert any("cut off" in w for w in answer.warnings)


@pytest.mark.parametrize("name, reason", [(".env", "secret file"), ("private/gen.py", "ignored by .gitignore")])
def test_secret_and_ignored_files_never_reach_the_model(repo, name, reason):
    chat = engine(repo)
    path = repo / name
    with pytest.raises(Refused, match=reason):
        chat.ask("what is in it?", path=path, text=path.read_text())
    with pytest.raises(Refused, match=reason):
        chat.edit("rename", path=path, text=path.read_text(), start_line=0, end_line=1)
    assert chat.backend.calls == []


def test_bad_selections_are_refused_with_what_to_do(repo):
    chat = engine(repo, max_selection_tokens=30)
    path = repo / "calc.py"
    with pytest.raises(Refused, match="question is empty"):
        chat.ask("  ", path=path, text=CODE)
    with pytest.raises(Refused, match="instruction is empty"):
        chat.edit("", path=path, text=CODE, start_line=0, end_line=2)
    with pytest.raises(Refused, match="selection is empty"):
        chat.edit("x", path=path, text=CODE, start_line=1, end_line=1)
    with pytest.raises(Refused, match="selection is empty"):
        chat.ask("x", path=path, text=CODE, selection=(1, 1))
    with pytest.raises(Refused, match="outside calc.py, which has 6 lines"):
        chat.edit("x", path=path, text=CODE, start_line=4, end_line=9)
    with pytest.raises(Refused, match="select less"):
        chat.edit("x", path=path, text=CODE, start_line=0, end_line=6)
    with pytest.raises(Refused, match="select less"):
        chat.ask("x", path=path, text=CODE, selection=(0, 6))
    with pytest.raises(Refused, match="is empty: there is nothing to edit"):
        chat.edit("x", path=path, text="", start_line=0, end_line=1)
    assert chat.backend.calls == []


def test_a_context_window_too_small_for_an_answer_is_refused(repo):
    chat = ChatEngine(FakeBackend("", n_ctx=1000), config=ChatConfig(max_answer_tokens=1000))
    with pytest.raises(Refused, match="larger n_ctx"):
        chat.ask("hello")
    small = ChatEngine(FakeBackend("", n_ctx=1400), config=ChatConfig(max_answer_tokens=1024))
    long_text = "x = 1\n" * 100  # 600 tokens here: more than fits beside a 1024-token answer
    with pytest.raises(Refused, match="1,400-token context; select less"):
        small.ask("why?", path=repo / "calc.py", text=long_text, selection=(0, 100))


def test_edit_returns_a_proposal_for_the_version_it_was_made_for(repo):
    chat = engine(repo, reply="```python\ndef sub(a: int, b: int) -> int:\n    return a - b\n```")
    proposal = chat.edit("add type hints", path=repo / "calc.py", text=CODE, start_line=4, end_line=6,
                         version=7, diagnostics=["calc.py:5: missing annotations"])
    assert proposal.version == 7 and proposal.form == "fenced"
    assert proposal.new_document() == CODE.replace("def sub(a, b)", "def sub(a: int, b: int) -> int")
    sent = chat.backend.calls[0]
    assert "Instruction: add type hints" in sent.prompt and "- calc.py:5: missing annotations" in sent.prompt
    assert sent.max_tokens >= 2 * len("def sub(a, b):\n    return a - b\n")
    assert (repo / "calc.py").read_text() == CODE  # proposing writes nothing


def test_edit_cancelled_or_unusable_changes_nothing(repo):
    chat = engine(repo, reply="I would rather not change anything in this function today.")
    with pytest.raises(UnusableAnswer, match="prose"):
        chat.edit("x", path=repo / "calc.py", text=CODE, start_line=0, end_line=2)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Interrupted):
        chat.edit("x", path=repo / "calc.py", text=CODE, start_line=0, end_line=2, cancel=cancel)
    assert (repo / "calc.py").read_text() == CODE

