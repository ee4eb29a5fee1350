"""ChatEngine on the real llama.cpp backend with the project's tiny Qwen2 model.

The tiny model has random weights, so these tests check structure, never content: the GGUF's
own chat template is used and renders exactly Qwen's ChatML, streamed pieces add up to the
answer, a follow-up reuses the KV cache of the conversation so far, and a cancel from another
thread stops generation between tokens.
"""

from __future__ import annotations

import threading

import pytest

from assistant.chat import ChatEngine
from assistant.chat_errors import UnusableAnswer
from assistant.chat_prompt import ChatConfig
from model.prompt import ChatMessage, chatml

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(tiny_model):
    from model.loader import BackendConfig, load_backend

    b = load_backend(BackendConfig(model=str(tiny_model.gguf), n_ctx=2048, n_threads=2))
    yield b
    b.close()


def test_the_gguf_chat_template_is_used_and_is_qwen_chatml(backend):
    chat = ChatEngine(backend)
    assert chat.format.source == "gguf"
    messages = [ChatMessage("user", "hi"), ChatMessage("assistant", "hello"), ChatMessage("user", "def f():\n    pass")]
    assert chat.format.render(messages) == chatml(messages)


def test_answer_streams_and_a_follow_up_reuses_the_cache(backend, tmp_path):
    path = tmp_path / "calc.py"
    code = "def add(a, b):\n    return a + b\n"
    chat = ChatEngine(backend, workspace_root=tmp_path, config=ChatConfig(max_answer_tokens=16))
    pieces: list[str] = []
    first = chat.ask("What does add do?", path=path, text=code, on_text=pieces.append)
    assert "".join(pieces) == first.text
    assert first.stop_reason in ("eos", "length") and first.prompt_tokens > 20
    history = [ChatMessage("user", first.sent), ChatMessage("assistant", first.text)]
    second = chat.ask("Show an example.", history=history, path=path, text=code)
    assert second.sent == "Show an example."  # the file is in the conversation already
    # the first prompt came from the KV cache (all but its last token, "assistant\n", which BPE
    # merges with this answer's leading newlines): only the answer and the new turn are evaluated
    assert second.evaluated_tokens <= second.prompt_tokens - first.prompt_tokens + 1


def test_cancel_from_another_thread_stops_between_tokens(backend):
    chat = ChatEngine(backend, config=ChatConfig(max_answer_tokens=1500))
    cancel = threading.Event()
    pieces: list[str] = []

    def on_text(delta: str) -> None:
        pieces.append(delta)
        if len(pieces) == 3:
            threading.Timer(0.0, cancel.set).start()

    answer = chat.ask("Write a long essay.", on_text=on_text, cancel=cancel)
    assert answer.stop_reason == "cancelled"
    assert answer.generated_tokens < 1500 and answer.text == "".join(pieces)


def test_edit_with_a_random_model_is_refused_not_applied(backend, tmp_path):
    path = tmp_path / "calc.py"
    text = "def add(a, b):\n    return a + b\n"
    path.write_text(text)
    chat = ChatEngine(backend, workspace_root=tmp_path)
    with pytest.raises(UnusableAnswer) as info:  # random text never closes a code block
        chat.edit("add type hints", path=path, text=text, start_line=0, end_line=2)
    assert "ask again" in str(info.value)  # the message says what to do
    assert path.read_text() == text
