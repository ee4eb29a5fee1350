"""A backend that counts tokens but cannot generate: prompts can be built with no model.

``qwenpair complete --show-prompt`` sizes its prompt with the real Qwen tokenizer (every
Qwen2.5-Coder size shares it) without loading any weights.
"""

from __future__ import annotations

import threading

from model.backends.base import GenerationRequest, GenerationResult, OnText
from model.errors import ModelError
from model.text_tokens import prompt_ids


class TokenizerOnlyBackend:
    def __init__(self, n_ctx: int = 4096) -> None:
        from model.tokenizer import load_fast_tokenizer

        self._tok = load_fast_tokenizer()
        self.name = "tokenizer only (no model loaded)"
        self.n_ctx = n_ctx

    def tokenize(self, text: str) -> list[int]:
        return prompt_ids(self._tok, text)  # markers by ID, text as text (model.text_tokens)

    def detokenize(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None) -> int:
        return 0

    def generate(self, request: GenerationRequest, *, on_text: OnText | None = None,
                 cancel: threading.Event | None = None) -> GenerationResult:
        raise ModelError("no model is loaded (this backend only counts tokens)")

    def close(self) -> None:
        pass
