"""The backend interface: what the engine, chat and evaluation need from a model runtime.

A backend turns a prompt string into generated text, greedily by default, with stop
tokens, a token limit, a wall-clock cap and cancellation between decode steps. It streams
tokens through a callback and reports per-token logprobs (candidate ranking uses them) and
how many prompt tokens it really evaluated (the KV-reuse figure the engine optimises).

Every backend streams through one loop, ``stream_tokens``: it decodes the tokens' bytes
incrementally (a character split across tokens is released whole), ends on the model's stop
IDs and cuts at stop texts (holding back as many characters as a stop text could still claim),
checks cancellation and the deadline between tokens, and hands ``on_text`` each safe piece.
A backend is an adapter that yields ``Token`` s into it; the loop is not a sampler and knows
no model.

Control-token IDs are the loaded model's (``model.tokens.SpecialTokens``, read from its
vocabulary by each backend): ``fit_prompt`` maps a prompt onto them, refusing completion
when the FIM tokens are missing and falling back from repository-level to file-level FIM,
with a warning, when only the repo tokens are; ``stop_ids_for`` gives the model's stop set.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, runtime_checkable

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


class Token(NamedTuple):
    """One generated token, as a backend hands it to ``stream_tokens``."""

    id: int | None  # None where the backend sees text, not IDs (a server's chunk)
    piece: bytes  # its bytes: UTF-8, possibly a part of one character
    logprobs: tuple[float, ...] = ()  # one per token; a server's chunk may carry several


#: A backend's token stream. Its return value, when it runs out, is why: "length" (the token
#: limit, also when it returns None) or "eos" (the model or server ended it).
Tokens = Generator[Token, None, StopReason | None]


class _Text:
    """The decoded text of a token stream: cut at the first stop text, released to ``on_text``
    only where no stop text can still begin (the hold-back window)."""

    def __init__(self, stops: list[tuple[str, StopReason]], on_text: OnText | None) -> None:
        # errors="replace": invalid bytes become U+FFFD; an incomplete character waits in the
        # decoder for its next bytes instead (never a U+FFFD that later turns into a letter)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = stops
        self._hold = max((len(s) for s, _ in stops), default=1) - 1
        self._on_text = on_text
        self._emitted = 0
        self.text = ""

    def feed(self, piece: bytes) -> StopReason | None:
        """Add a token's bytes; returns the reason when a stop text now appears (cut off)."""
        before = len(self.text)
        self.text += self._decoder.decode(piece)
        cut, reason = -1, None
        for stop, why in self._stops:
            # no stop text was in the text before: a new one ends in the new characters
            at = self.text.find(stop, max(0, before - len(stop) + 1) if stop else 0)
            if at != -1 and (cut == -1 or at < cut):
                cut, reason = at, why
        if reason is not None:
            self.text = self.text[:cut]
            return reason
        self._release(len(self.text) - self._hold)
        return None

    def finish(self) -> None:
        """Release the rest. Bytes of a character the stream ended inside are dropped: the
        text is what the model finished writing, never a U+FFFD for a cut-off character."""
        self._release(len(self.text))

    def _release(self, upto: int) -> None:
        if self._on_text is not None and upto > self._emitted:
            self._on_text(self.text[self._emitted : upto])
            self._emitted = upto


def stream_tokens(
    tokens: Tokens,
    request: GenerationRequest,
    result: GenerationResult,
    *,
    stop_ids: frozenset[int] = frozenset(),
    deadline: float | None = None,
    on_text: OnText | None = None,
    cancel: threading.Event | None = None,
    end_texts: tuple[str, ...] = (),
) -> None:
    """Run ``tokens`` into ``result``: its text, token_ids, logprobs and stop_reason.

    Before a token is taken, ``cancel`` and ``deadline`` (``time.perf_counter()`` seconds) are
    checked: set or past, it is dropped and the reason is "cancelled" or "time". A token in
    ``stop_ids`` ends with "eos" and is not kept. The text is cut before the first of
    ``request.stop_texts`` ("stop_text") or of ``end_texts`` ("eos": control-token text a
    server printed). ``on_text`` gets the text in order, and all of it joined is the result's
    text. ``tokens`` is closed when the loop ends (a server's stream is released at once)."""
    stops = [(s, "stop_text") for s in request.stop_texts] + [(s, "eos") for s in end_texts]
    text = _Text(stops, on_text)
    reason: StopReason = "length"
    try:
        while True:
            try:
                token = next(tokens)
            except StopIteration as end:
                reason = end.value or "length"
                break
            # checked after the token is computed, before it is kept: for a local model the
            # work between two checks is one decode step
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            if deadline is not None and time.perf_counter() > deadline:
                reason = "time"
                break
            if token.id is not None:
                if token.id in stop_ids:
                    reason = "eos"
                    break
                result.token_ids.append(token.id)
            result.logprobs.extend(token.logprobs)
            stopped = text.feed(token.piece)
            if stopped is not None:
                reason = stopped
                break
    finally:
        tokens.close()
    text.finish()
    result.text = text.text
    result.stop_reason = reason


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
