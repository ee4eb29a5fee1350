"""How a conversation becomes prompt text for the loaded instruct model.

A GGUF usually carries its chat template (``tokenizer.chat_template``, Jinja); a fine-tuned
model's own template is then the format it was trained on, so it wins. Without one, or when
it cannot be rendered, the format is ChatML with Qwen's default system prompt
(``model.prompt.chatml``), which is what the Qwen2.5 template renders for a conversation
without tools. The template comes from a file, so it is rendered in Jinja's immutable
sandbox (as transformers and llama-cpp-python do); it is text formatting, never code we run.

Either way the result is a ``model.prompt.Prompt``: the template's own text may spell control
tokens (they are its markers), but every message's content is text, so a question or a file
quoting ``<|im_end|>`` cannot close its turn (docs/security.md, "control tokens"). For a
template, each content is rendered as a unique placeholder and put back as a text piece; a
template that does not show every content verbatim (it trims or rewrites it) is not used.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Literal

from model.backends.base import Backend
from model.prompt import ChatMessage, Prompt, as_text, chatml, trusted_markup


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

    def render(self, messages: Sequence[ChatMessage]) -> Prompt:
        if self._template is not None:
            try:
                return self._render_template(messages)
            except Exception as exc:  # a template that fails on these messages
                self.warning = f"the model's chat template failed ({exc}); using ChatML"
                self._template, self.source = None, "chatml"
        return chatml(messages)

    def _render_template(self, messages: Sequence[ChatMessage]) -> Prompt:
        nonce = secrets.token_hex(8)
        holders = {f"\x00qp-{nonce}-{i}\x00": m.content for i, m in enumerate(messages)}
        rendered = self._template.render(
            messages=[{"role": m.role, "content": h} for m, h in zip(messages, holders)],
            add_generation_prompt=True,
            tools=None,
            bos_token="",
            eos_token="",
        )
        parts = re.split("(" + "|".join(map(re.escape, holders)) + ")", rendered) if holders else [rendered]
        seen = set(parts[1::2])
        if len(seen) != len(holders) or "\x00" in "".join(parts[0::2]):
            raise ValueError("it does not show every message as it is")
        out = Prompt()
        for i, part in enumerate(parts):
            out += as_text(holders[part]) if i % 2 else trusted_markup(part)
        return out


def _compile(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)
