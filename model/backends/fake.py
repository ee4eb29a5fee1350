"""A scripted backend for unit tests of engine logic (never for end-to-end tests).

Tokens are characters (so counts are predictable), the "KV cache" is the previous prompt
(so reuse accounting can be tested), and the output comes from a function of the prompt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from model.backends.base import GenerationRequest, GenerationResult, OnText, cut_stop_text


class FakeBackend:
    def __init__(
        self,
        reply: Callable[[str], str] | str = "",
        *,
        n_ctx: int = 4096,
        seconds_per_token: float = 0.0,
    ) -> None:
        self._reply = reply if callable(reply) else (lambda _prompt, r=reply: r)
        self.name = "fake"
        self.n_ctx = n_ctx
        self.seconds_per_token = seconds_per_token
        self.cached = ""
        self.calls: list[GenerationRequest] = []

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def detokenize(self, ids: list[int]) -> str:
        return "".join(chr(i) for i in ids)

    def _reuse(self, prompt: str) -> int:
        n = 0
        for a, b in zip(self.cached, prompt):
            if a != b:
                break
            n += 1
        self.cached = prompt
        return n

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None) -> int:
        return len(prompt) - self._reuse(prompt)

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        self.calls.append(request)
        result = GenerationResult(text="", prompt_tokens=len(request.prompt))
        result.reused_tokens = self._reuse(request.prompt)
        out = self._reply(request.prompt)
        start = time.perf_counter()
        text = ""
        result.stop_reason = "eos"
        for i, ch in enumerate(out):
            if i >= request.max_tokens:
                result.stop_reason = "length"
                break
            if cancel is not None and cancel.is_set():
                result.stop_reason = "cancelled"
                break
            if request.time_limit_s is not None and time.perf_counter() - start > request.time_limit_s:
                result.stop_reason = "time"
                break
            if self.seconds_per_token:
                time.sleep(self.seconds_per_token)
            text += ch
            result.token_ids.append(ord(ch))
            result.logprobs.append(-0.1)
            if request.stop_texts:
                text, stopped = cut_stop_text(text, request.stop_texts)
                if stopped:
                    result.stop_reason = "stop_text"
                    break
            if on_text is not None:
                on_text(ch)
        result.text = text
        result.gen_s = time.perf_counter() - start
        return result

    def close(self) -> None:
        pass
