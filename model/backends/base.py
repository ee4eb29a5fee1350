"""The backend interface: what the engine, chat and evaluation need from a model runtime.

A backend turns a prompt string into generated text, greedily by default, with stop
tokens, a token limit, a wall-clock cap and cancellation between decode steps. It streams
tokens through a callback and reports per-token logprobs (candidate ranking uses them) and
how many prompt tokens it really evaluated (the KV-reuse figure the engine optimises).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from model.tokens import STOP_TOKEN_IDS

StopReason = Literal["eos", "stop_text", "length", "time", "cancelled"]


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. Times are seconds of wall clock."""

    prompt: str  # a model.prompt.Prompt; a plain str is all text (no control tokens)
    max_tokens: int = 64
    stop_ids: frozenset[int] = STOP_TOKEN_IDS  # any of these ends generation
    stop_texts: tuple[str, ...] = ()  # the output is cut before the first of these
    time_limit_s: float | None = None  # cap on generation (after the prompt is evaluated)
    prompt_time_limit_s: float | None = None  # cap on prompt evaluation; over it -> "time"
    temperature: float = 0.0  # 0 = greedy (completion); chat may sample
    seed: int = 0


@dataclass
class GenerationResult:
    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)  # one per generated token
    stop_reason: StopReason = "eos"
    prompt_tokens: int = 0  # tokens in the prompt
    reused_tokens: int = 0  # prompt tokens served from the KV cache
    prompt_s: float = 0.0  # time spent evaluating the prompt
    gen_s: float = 0.0  # time spent generating

    @property
    def evaluated_tokens(self) -> int:
        """Prompt tokens the model actually computed this call."""
        return self.prompt_tokens - self.reused_tokens

    @property
    def mean_logprob(self) -> float:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else float("-inf")


#: Called with each new piece of decoded text while generating.
OnText = Callable[[str], None]


@runtime_checkable
class Backend(Protocol):
    """A loaded model. Not thread-safe: the engine runs one generation at a time per model."""

    name: str  # human-readable: the file or endpoint
    n_ctx: int  # the context window the prompt plus output must fit in

    def tokenize(self, text: str) -> list[int]:
        """Token IDs of ``text`` (no BOS). Only a ``model.prompt.Prompt``'s own markers become
        control tokens; all other text, and a plain ``str`` entirely, is tokenized as text,
        so ``<|im_end|>`` written in a file is a few ordinary tokens (docs/security.md)."""
        ...

    def detokenize(self, ids: list[int]) -> str: ...

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult: ...

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None) -> int:
        """Evaluate ``prompt`` into the KV cache without generating (background warm-up).
        Returns the number of tokens evaluated (0 when it was already cached)."""
        ...

    def close(self) -> None: ...


class Cancelled(Exception):
    """Raised inside a backend when the cancel event is set; never escapes ``generate``."""


def cut_stop_text(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; returns (text, whether one was found)."""
    cut = -1
    for stop in stops:
        at = text.find(stop)
        if at != -1 and (cut == -1 or at < cut):
            cut = at
    return (text, False) if cut == -1 else (text[:cut], True)
