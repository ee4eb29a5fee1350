"""A scripted backend for unit tests of engine logic (never for end-to-end tests).

Tokens are characters (so counts are predictable; a token's ID is its code point), the "KV
cache" is the previous prompt (so reuse accounting can be tested), and the output comes from a
function of the prompt. It runs through the shared loop (``model.backends.base.stream_tokens``)
like every backend: stop texts, cancellation, the deadline and ``on_text`` behave as in the
real ones. A reply given as a list of ``bytes`` is a token stream of those pieces (a character
split across tokens), for tests of that loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from model.backends.base import GenerationRequest, GenerationResult, OnText, Token, Tokens, stream_tokens

Reply = str | list[bytes]


class FakeBackend:
    def __init__(
        self,
        reply: Callable[[str], Reply] | Reply = "",
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
        start = time.perf_counter()
        deadline = start + request.time_limit_s if request.time_limit_s is not None else None
        stream_tokens(self._tokens(self._reply(request.prompt), request.max_tokens), request, result,
                      stop_ids=request.stop_ids, deadline=deadline, on_text=on_text, cancel=cancel)
        result.gen_s = time.perf_counter() - start
        return result

    def _tokens(self, reply: Reply, max_tokens: int) -> Tokens:
        pieces = [Token(ord(ch), ch.encode("utf-8"), (-0.1,)) for ch in reply] if isinstance(reply, str) else [
            Token(i, piece, (-0.1,)) for i, piece in enumerate(reply)
        ]
        for i, token in enumerate(pieces):
            if i >= max_tokens:
                return "length"
            if self.seconds_per_token:
                time.sleep(self.seconds_per_token)  # the decode step: before the loop's checks
            yield token
        return "eos"

    def close(self) -> None:
        pass
