"""How a conversation becomes prompt text for the loaded instruct model.

A GGUF usually carries its chat template (``tokenizer.chat_template``, Jinja); a fine-tuned
model's own template is then the format it was trained on, so it wins. Without one, or when
it cannot be rendered, the format is ChatML with Qwen's default system prompt
(``model.prompt.chatml``), which is what the Qwen2.5 template renders for a conversation
without tools. The template comes from a file, so it is rendered in Jinja's immutable
sandbox (as transformers and llama-cpp-python do); it is text formatting, never code we run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from model.backends.base import Backend
from model.prompt import ChatMessage, chatml


class ChatFormat:
    """``render(messages)`` -> the prompt, ending where the assistant's answer starts."""

    def __init__(self, template: str | None = None) -> None:
        self.source: Literal["gguf", "chatml"] = "chatml"
        self.warning = ""
        self._template = None
        if template:
            try:
                self._template = _compile(template)
                self.source = "gguf"
            except Exception as exc:  # jinja2 missing or a template it cannot compile
                self.warning = f"the model's chat template cannot be used ({exc}); using ChatML"

    @classmethod
    def for_backend(cls, backend: Backend, *, use_template: bool = True) -> ChatFormat:
        """The format of a loaded model: its GGUF's template if it has one, else ChatML."""
        inner = getattr(backend, "inner", backend)  # a shared (locked) wrapper around the model
        info = getattr(backend, "info", None) or getattr(inner, "info", None)
        template = getattr(info, "chat_template", None) if use_template else None
        return cls(template)

    def render(self, messages: Sequence[ChatMessage]) -> str:
        if self._template is not None:
            try:
                return self._template.render(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    add_generation_prompt=True,
                    tools=None,
                    bos_token="",
                    eos_token="",
                )
            except Exception as exc:  # a template that fails on these messages
                self.warning = f"the model's chat template failed ({exc}); using ChatML"
                self._template, self.source = None, "chatml"
        return chatml(messages)


def _compile(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
