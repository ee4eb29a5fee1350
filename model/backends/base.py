"""The backend interface: what the engine, chat and evaluation need from a model runtime.

A backend turns a prompt string into generated text, greedily by default, with stop
tokens, a token limit, a wall-clock cap and cancellation between decode steps. It streams
tokens through a callback and reports per-token logprobs (candidate ranking uses them) and
how many prompt tokens it really evaluated (the KV-reuse figure the engine optimises).

Control-token IDs are the loaded model's (``model.tokens.SpecialTokens``, read from its
vocabulary by each backend): ``fit_prompt`` maps a prompt onto them, refusing completion
when the FIM tokens are missing and falling back from repository-level to file-level FIM,
with a warning, when only the repo tokens are; ``stop_ids_for`` gives the model's stop set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import logging

from model.prompt import file_level, pieces_of
from model.tokens import FIM_TEXTS, REPO_TEXTS, STOP_TOKEN_IDS, SpecialTokens

log = logging.getLogger("qwenpair.model")

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


def stop_ids_for(request: GenerationRequest, special: SpecialTokens) -> frozenset[int]:
    """The IDs that end ``request``: the loaded model's stop tokens when the request asks for
    the default set (Qwen2.5's IDs, which mean other tokens in another vocabulary)."""
    return special.stop_ids if request.stop_ids == STOP_TOKEN_IDS else request.stop_ids


def fit_prompt(prompt: str, special: SpecialTokens, warnings: list[str]) -> str:
    """``prompt`` as the loaded model can take it.

    A FIM prompt for a model without the FIM tokens is refused (``MissingSpecialTokens``,
    naming them). A repository-level prompt for a model without ``<|repo_name|>`` or
    ``<|file_sep|>`` becomes file-level, and the first time a warning saying so is logged and
    appended to ``warnings``. Anything else is returned as it is."""
    markers = {t for t, i in pieces_of(prompt) if i is not None}
    if markers & set(FIM_TEXTS):
        special.require_fim()
    lacking = special.missing(t for t in REPO_TEXTS if t in markers)
    if not lacking:
        return prompt
    note = (
        f"{special.source} lacks {', '.join(lacking)}: completions use file-level FIM without "
        "repository context; use a model whose vocabulary has the repo tokens for cross-file context"
    )
    if note not in warnings:
        warnings.append(note)
        log.warning("%s", note)
    return file_level(prompt)
