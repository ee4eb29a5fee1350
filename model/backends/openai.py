"""The OpenAI-compatible backend: ``/v1/completions`` on llama-server, vLLM and the like.

How a team outgrows one machine: one GPU server, many editors. Uses only the standard
library (urllib) with streaming (server-sent events); each chunk goes through the shared loop
(``model.backends.base.stream_tokens``), so cancellation and the time cap take effect between
chunks and stop texts are held back from ``on_text`` as with the in-process backends. Token counts for budgets come from the local Qwen tokenizer, which
is exact for every Qwen2.5-Coder size.

Servers parse control tokens in a string prompt. So a prompt whose text spells one (a file
quoting ``<|im_end|>``) is sent as token IDs, which llama-server and vLLM take; a server that
only takes strings gets a clear refusal, never the string (docs/security.md, "control
tokens"). Ordinary prompts are sent as strings, as before.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from model.backends.base import GenerationRequest, GenerationResult, OnText, StopReason, Token, Tokens, stream_tokens
from model.errors import ModelError
from model.prompt import spells_control_tokens
from model.text_tokens import prompt_ids
from model.tokens import LEGACY_FIM_TOKENS, STOP_TOKEN_TEXTS


class OpenAIBackend:
    def __init__(
        self,
        base_url: str,
        *,
        model: str = "qwen2.5-coder",
        api_key: str | None = None,
        n_ctx: int = 32_768,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.name = f"{self.base_url} ({model})"
        self.n_ctx = n_ctx
        self._tokenizer = None

    def _tok(self):
        if self._tokenizer is None:
            from model.tokenizer import load_fast_tokenizer

            self._tokenizer = load_fast_tokenizer()
        return self._tokenizer

    def tokenize(self, text: str) -> list[int]:
        return prompt_ids(self._tok(), text)  # markers by ID, text as text (model.text_tokens)

    def detokenize(self, ids: list[int]) -> str:
        return self._tok().decode(ids, skip_special_tokens=False)

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None) -> int:
        return 0  # the server keeps its own cache (llama-server: --cache-reuse)

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        as_ids = spells_control_tokens(request.prompt)
        body = {
            "model": self.model,
            "prompt": self.tokenize(request.prompt) if as_ids else str(request.prompt),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
            "stream": True,
            "logprobs": 1,
            # servers stop at the model's EOS themselves; the FIM/repo tokens are ours to name
            "stop": list(dict.fromkeys(request.stop_texts + STOP_TOKEN_TEXTS))[:16],
        }
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(
            f"{self.base_url}/completions", data=json.dumps(body).encode(), headers=headers
        )
        result = GenerationResult(text="")
        t0 = time.perf_counter()
        # the server evaluates the prompt and generates in one call: the caps add up
        deadline = t0 + request.time_limit_s + (request.prompt_time_limit_s or 0) if request.time_limit_s is not None else None
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                # control-token text a server printed ends the text as the token would (cut_at_leaked_token)
                stream_tokens(self._chunks(resp, result, t0), request, result, deadline=deadline,
                              on_text=on_text, cancel=cancel, end_texts=STOP_TOKEN_TEXTS + LEGACY_FIM_TOKENS)
        except urllib.error.HTTPError as exc:
            if as_ids:  # llama-cpp-python's server answers 500 to a body it cannot validate
                raise ModelError(
                    f"{self.base_url} refused a prompt given as token IDs (HTTP {exc.code}). This prompt's text "
                    "spells control tokens (e.g. <|im_end|> in a file), which a string prompt would turn into real "
                    "ones, so it is not sent as a string. Use a server that takes token-ID prompts (llama-server, "
                    "vLLM) or the in-process backend."
                ) from exc
            raise ModelError(f"{self.base_url} answered HTTP {exc.code}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(
                f"cannot reach the completion server {self.base_url} ({exc}); is it running?"
            ) from exc
        result.gen_s = time.perf_counter() - t0 - result.prompt_s
        result.prompt_tokens = len(self.tokenize(request.prompt))
        return result

    @staticmethod
    def _chunks(resp, result: GenerationResult, t0: float) -> Tokens:
        """The server-sent events of ``resp`` as tokens: each chunk's text and logprobs.
        Sets ``result.prompt_s`` at the first chunk; returns "eos" when the server stopped."""
        reason: StopReason = "length"
        first = True
        for raw in resp:
            line = raw.decode("utf-8", errors="replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            choice = json.loads(data)["choices"][0]
            if first:
                result.prompt_s = time.perf_counter() - t0
                first = False
            lps = (choice.get("logprobs") or {}).get("token_logprobs") or []
            piece = (choice.get("text") or "").encode("utf-8", "surrogatepass")  # a lone surrogate: U+FFFD
            yield Token(None, piece, tuple(float(x) for x in lps if x is not None))
            if choice.get("finish_reason") == "stop":
                reason = "eos"
            elif choice.get("finish_reason") == "length":
                reason = "length"
        return reason

    def close(self) -> None:
        pass
