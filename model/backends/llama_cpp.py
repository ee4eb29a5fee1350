"""The default backend: llama.cpp in-process through llama-cpp-python.

One warm context per model. Each call reuses the KV cache for the longest common token
prefix with what is already evaluated (docs/design.md §4: a keystroke must re-evaluate a handful
of tokens, not the prompt); after that prefix, unchanged runs of the cached text are moved
into place instead of re-evaluated (``model.kv_reuse``, llama-server's ``--cache-reuse``). LlamaRAMCache is deliberately not used: it snapshots the whole
state per call and was measured ~3x slower. Decoding is our own short loop over
``Llama.eval`` (run by the shared ``model.backends.base.stream_tokens``, which stops on the
model's stop set, cuts at stop strings, honours the wall-clock cap and cancellation between
decode steps), reporting per-token logprobs without paying for ``logits_all`` (a full
vocabulary row per prompt token).

LoRA adapters (GGUF) are applied to the running context and can be swapped or removed
between generations without reloading the model (``set_adapter``): the language server's
hot-swap. An adapter with a ``meta.json`` beside it is checked first against this model
(``model.adapter_meta``): one trained for another base is refused, naming both.

Prompts are tokenized piece by piece (``model.prompt.encode_prompt``): text with
``special=False``, so repository text cannot inject control tokens, and the prompt
builder's markers by ID. Those IDs, and the stop set, are read from this GGUF's vocabulary
by their strings (``special``), never assumed: another family may number them differently.
"""

from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from model.backends.base import (
    Cancelled,
    GenerationRequest,
    GenerationResult,
    OnText,
    Token,
    Tokens,
    fit_prompt,
    stop_ids_for,
    stream_tokens,
)
from model.adapter_meta import BaseModel, check_adapter
from model.errors import BadModelFile, ModelError
from model.file_identity import FileIdentity
from model import kv_reuse
from model.gguf_check import inspect_gguf
from model.prompt import encode_prompt
from model.registry import format_for_architecture
from model.tokens import BPE_VOCAB_SIZE, CONTROL_TOKENS, SpecialTokens


def default_threads() -> int:
    """Physical-ish core count: llama.cpp slows down past the number of real cores."""
    return max(1, min(8, os.cpu_count() or 1))


class LlamaCppBackend:
    """A GGUF model loaded in this process."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        n_batch: int = 512,
        lora_path: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.path = Path(path).expanduser()
        self.info = inspect_gguf(self.path)
        self._identity = FileIdentity.of(self.path)  # checked before each evaluation (model/file_identity.py)
        if lora_path is not None:
            _check_adapter_file(Path(lora_path))
        from llama_cpp import Llama

        _quiet_aborts()
        threads = n_threads or default_threads()
        try:
            self._llm = Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,  # explicit: llama-cpp-python's default is 512
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=n_gpu_layers,
                n_batch=n_batch,
                logits_all=False,
                verbose=verbose,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BadModelFile(f"llama.cpp could not load {self.path}: {exc}") from exc
        self.name = str(self.path)
        self.n_ctx = self._llm.n_ctx()
        self.n_threads = threads
        self.lora_path: Path | None = None
        self.lora_scale = 1.0
        self._adapter = None  # the llama_adapter_lora pointer in use
        self._n_vocab = self._llm.n_vocab()
        self._tokenized: dict[tuple, list[int]] = {}  # the last prompts' tokens (tokenize)
        self._tokenized_lock = threading.Lock()
        self.special = self._read_special()
        self.prompt_format = format_for_architecture(self.info.architecture)  # the family's layout
        self.warnings: list[str] = []  # said once each: e.g. repo-level FIM fell back to file-level
        self._lock = threading.Lock()
        self._logits = None  # logits after the last evaluated token, if still valid
        # Move unchanged runs of cached text into place (model/kv_reuse.py), where this model's
        # cache can shift positions (not for recurrent or M-RoPE models).
        self.chunk_reuse = kv_reuse.can_shift(self._llm)
        if lora_path is not None:
            try:
                self.set_adapter(lora_path)
            except BaseException:
                self.close()
                raise

    # -- adapters -----------------------------------------------------------------------
    def base_model(self) -> BaseModel:
        """This model's identity, as adapters' meta.json files record their base."""
        return BaseModel.from_gguf_metadata(self._llm.metadata, self._n_vocab, str(self.path))

    def set_adapter(self, lora_path: str | Path | None, scale: float = 1.0) -> None:
        """Apply the LoRA adapter GGUF ``lora_path`` (None: remove it), replacing the current
        one, without reloading the model. The KV cache is dropped: it was computed with the
        old weights. On any error the previous adapter stays in place."""
        import ctypes

        import llama_cpp

        if lora_path is None:
            new = None
        else:
            path = Path(lora_path).expanduser()
            _check_adapter_file(path)
            check_adapter(path, self.base_model())
            new = llama_cpp.llama_adapter_lora_init(self._llm._model.model, os.fsencode(path))
            if not new:
                raise BadModelFile(
                    f"llama.cpp could not load the LoRA adapter {path} onto {self.path.name}: it does not "
                    "fit this model (tensor names or shapes); export it from a run on this base model"
                )
        with self._lock:
            ctx = self._llm._ctx.ctx
            if new is None:
                rc = llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
            else:
                adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(new)
                scales = (ctypes.c_float * 1)(scale)
                rc = llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales)
            if rc != 0:
                if new is not None:
                    llama_cpp.llama_adapter_lora_free(new)
                raise ModelError(f"llama.cpp refused to apply the adapter {lora_path} (code {rc})")
            old, self._adapter = self._adapter, new
            if old is not None:
                llama_cpp.llama_adapter_lora_free(old)
            self.lora_path = Path(lora_path).expanduser() if lora_path is not None else None
            self.lora_scale = scale
            self._llm.reset()
            self._logits = None

    @property
    def adapter(self) -> str | None:
        """The adapter in use (a path), or None: what status reports show."""
        return str(self.lora_path) if self.lora_path is not None else None

    # -- tokens -------------------------------------------------------------------------
    def _read_special(self) -> SpecialTokens:
        """Each control-token string's ID in this GGUF's vocabulary. The string alone (our
        constant, never repository text) is tokenized with ``special=True`` and kept when it
        is one token whose text is the string; strings not found that way (a token typed
        NORMAL, which the tokenizer would split) are looked for in the token texts."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self._llm._model.model)

        def text_of(token_id: int) -> bytes:
            return llama_cpp.llama_vocab_get_text(vocab, token_id) or b""

        def by_tokenizer(text: str) -> int | None:
            ids = self._llm.tokenize(text.encode(), add_bos=False, special=True)
            return ids[0] if len(ids) == 1 and text_of(ids[0]) == text.encode() else None

        found = SpecialTokens.read(by_tokenizer, self.path.name)
        lacking = set(found.missing(CONTROL_TOKENS))
        if not lacking:
            return found
        wanted = {t.encode(): t for t in lacking}
        ids = dict(found.ids)
        for token_id in range(self._n_vocab):
            text = wanted.get(text_of(token_id))
            if text is not None and text not in ids:
                ids[text] = token_id
        return SpecialTokens(ids, self.path.name)

    def tokenize(self, text: str) -> list[int]:
        # Text is never parsed for special tokens (docs/security.md, "control tokens"): only
        # a Prompt's own markers become control tokens, spliced in by this model's IDs.
        # The last few prompts are remembered: a keystroke's prompt is tokenized to see what
        # is cached, then to generate, and a growth step's at every step (keyed by its
        # pieces: the same text with other markers is another prompt).
        key = (type(text), getattr(text, "pieces", None) or str(text))
        with self._tokenized_lock:
            ids = self._tokenized.get(key)
        if ids is None:
            ids = encode_prompt(fit_prompt(text, self.special, self.warnings), self._text_ids, self.special)
            if len(text) <= _REMEMBERED_CHARS:  # prompts only, never a whole large text
                with self._tokenized_lock:
                    if len(self._tokenized) >= 4:
                        self._tokenized.pop(next(iter(self._tokenized)))
                    self._tokenized[key] = ids
        return list(ids)

    def _text_ids(self, text: str) -> list[int]:
        ids = self._tokenize_text(text)
        if not ids or max(ids) < BPE_VOCAB_SIZE:
            return ids
        # special=False still matches llama.cpp's user-defined tokens (<tool_call>, </tool_call>
        # in Qwen GGUFs). Cut each control-token spelling where the BPE pre-tokenizer always
        # splits anyway (a letter then punctuation: "<tool_call|>"), so each part is tokenized
        # alone with the IDs it gets in the whole text (the Hugging Face text IDs).
        cuts = sorted({at + k for token in CONTROL_TOKENS for at in _find_all(text, token) for k in _split_points(token)})
        out: list[int] = []
        for a, b in zip([0, *cuts], [*cuts, len(text)]):
            part = self._tokenize_text(text[a:b])
            if part and max(part) >= BPE_VOCAB_SIZE:  # a token we cannot split safely: by characters
                part = [i for ch in text[a:b] for i in self._tokenize_text(ch)]
            out.extend(part)
        return out

    def _tokenize_text(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []

    def detokenize(self, ids: list[int]) -> str:
        return self._llm.detokenize(ids).decode("utf-8", errors="replace")

    # -- evaluation ---------------------------------------------------------------------
    def _cached_prefix(self, tokens: list[int]) -> int:
        import numpy as np

        llm = self._llm
        n = min(llm.n_tokens, len(tokens))
        if n == 0:
            return 0
        differ = np.flatnonzero(llm.input_ids[:n] != np.asarray(tokens[:n], dtype=llm.input_ids.dtype))
        return int(differ[0]) if differ.size else n

    def _evaluate(self, tokens: list[int], cancel, deadline: float | None, chunk: int | None = None) -> int:
        """Bring the KV cache to ``tokens``; returns how many tokens were reused. The cached
        prefix is kept; after it, unchanged runs of the old text are moved into place
        (``model.kv_reuse``) when ``chunk_reuse`` is on. ``chunk`` evaluates in steps of that
        many tokens (background growth: cancel is checked between steps, and a cancelled
        evaluation leaves the cache holding exactly the steps done)."""
        self._identity.check()  # a model file changed in place would fault in llama.cpp (SIGBUS)
        llm = self._llm
        keep = self._cached_prefix(tokens)
        if keep == len(tokens) == llm.n_tokens and self._logits is not None:
            return keep  # exact repeat: the logits for the next token are still here
        if keep == len(tokens):
            keep -= 1  # replay the last token to get its logits
        self._logits = None
        if self.chunk_reuse and llm.n_tokens - keep >= kv_reuse.MIN_CHUNK:
            plan = kv_reuse.plan(llm.input_ids[: llm.n_tokens].tolist(), tokens)
            if plan.chunks:
                with self._abortable(cancel):
                    try:
                        reused = kv_reuse.apply(llm, tokens, plan, cancel=cancel, deadline=deadline)
                    except RuntimeError:
                        if cancel is not None and cancel.is_set():
                            raise Cancelled from None  # aborted: apply cut the cache back to its kept prefix
                        raise
                self._logits = self._last_logits()
                return reused
        llm.n_tokens = keep  # Llama.eval drops the KV cells past n_tokens first
        todo = tokens[keep:]
        step = min(llm.n_batch, chunk or llm.n_batch)
        with self._abortable(cancel):
            for start in range(0, len(todo), step):
                if cancel is not None and cancel.is_set():
                    raise Cancelled
                if deadline is not None and time.perf_counter() > deadline:
                    raise TimeoutError
                try:
                    llm.eval(todo[start : start + step])
                except RuntimeError:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled from None  # aborted mid-batch: llama.cpp dropped that batch's cells
                    raise
        self._logits = self._last_logits()
        return keep

    @contextmanager
    def _abortable(self, cancel: threading.Event | None):
        """While evaluating a prompt, let ``cancel`` stop llama.cpp inside a batch (its abort
        callback is asked between graph nodes): a request that preempts a pre-fill or a growth
        step waits milliseconds, not a batch. llama.cpp then removes the aborted batch's cells,
        and ``Llama.eval`` has not counted them, so the cache holds exactly the batches done."""
        if cancel is None:
            yield
            return
        import llama_cpp

        hook = llama_cpp.ggml_abort_callback(lambda _data: cancel.is_set())
        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, hook, None)
        try:
            yield
        finally:
            llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, llama_cpp.ggml_abort_callback(), None)

    def cached_tokens(self, prompt: str) -> tuple[int, int]:
        """(tokens of ``prompt`` whose KV entries are cached as its prefix, its tokens): what
        a request for it would not have to evaluate, before chunk reuse."""
        tokens = self.tokenize(prompt)
        with self._lock:
            return self._cached_prefix(tokens), len(tokens)

    def _last_logits(self):
        import numpy as np

        ptr = self._llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def prefill(self, prompt: str, *, cancel: threading.Event | None = None, chunk: int | None = None,
                upto: int | None = None) -> int:
        """Evaluate ``prompt`` (its first ``upto`` tokens) into the KV cache (``chunk`` tokens
        at a time, cancel checked between them); the tokens evaluated, 0 when cancelled (the
        steps done stay cached). Background growth calls it one step at a time, so that the
        lock is free between steps (an adapter swap, a request, waits one step at most)."""
        tokens = self.tokenize(prompt)
        if upto is not None:
            tokens = tokens[: max(1, upto)]
        self._check_fits(tokens, 1)
        with self._lock:
            try:
                reused = self._evaluate(tokens, cancel, None, chunk)
            except Cancelled:
                return 0
        return len(tokens) - reused

    def _check_fits(self, tokens: list[int], min_new: int) -> None:
        if len(tokens) + min_new > self.n_ctx:
            raise ModelError(
                f"the prompt has {len(tokens):,} tokens but the context window of {self.path.name} "
                f"is {self.n_ctx:,}; trim the prompt (the context budget) or raise n_ctx"
            )

    # -- generation ---------------------------------------------------------------------
    def generate(
        self,
        request: GenerationRequest,
        *,
        on_text: OnText | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        import numpy as np

        tokens = self.tokenize(request.prompt)
        self._check_fits(tokens, 1)
        max_new = min(request.max_tokens, self.n_ctx - len(tokens))
        result = GenerationResult(text="", prompt_tokens=len(tokens))
        rng = np.random.default_rng(request.seed) if request.temperature > 0 else None
        stop_ids = stop_ids_for(request, self.special)
        with self._lock:
            t0 = time.perf_counter()
            deadline = t0 + request.prompt_time_limit_s if request.prompt_time_limit_s is not None else None
            try:
                result.reused_tokens = self._evaluate(tokens, cancel, deadline)
            except Cancelled:
                result.stop_reason = "cancelled"
                return result
            except TimeoutError:
                result.stop_reason = "time"
                return result
            finally:
                result.prompt_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            gen_deadline = t1 + request.time_limit_s if request.time_limit_s is not None else None
            stream_tokens(self._tokens(max_new, request.temperature, rng), request, result,
                          stop_ids=stop_ids, deadline=gen_deadline, on_text=on_text, cancel=cancel)
            result.gen_s = time.perf_counter() - t1
        return result

    def _tokens(self, max_new: int, temperature: float, rng) -> Tokens:
        """Pick each next token from the logits; evaluate it when the loop asks for the next one,
        so a token the loop stops at (a stop ID, a stop text) is never evaluated."""
        import numpy as np

        for _ in range(max_new):
            logits = self._logits
            token = self._pick(logits, temperature, rng)
            top = float(logits.max())
            logprob = float(logits[token]) - (top + math.log(float(np.exp(logits - top).sum())))
            yield Token(token, self._llm.detokenize([token]), (logprob,))
            # not reached when the loop stops at this token (stop ID, stop text, cancel, deadline)
            self._logits = None
            self._llm.eval([token])
            self._logits = self._last_logits()
        return "length"

    def _pick(self, logits, temperature: float, rng) -> int:
        """The next token: greedy, or sampled when ``rng`` is given (temperature > 0)."""
        import numpy as np

        return int(np.argmax(logits)) if rng is None else _sample(logits, temperature, rng)

    def reset_cache(self) -> None:
        """Forget the KV cache (the next call evaluates its whole prompt): for benchmarks."""
        with self._lock:
            self._llm.reset()
            self._logits = None

    @property
    def raw(self):
        """The underlying ``llama_cpp.Llama`` (benchmarks compare against direct calls)."""
        return self._llm

    def close(self) -> None:
        with self._lock:
            llm, self._llm = getattr(self, "_llm", None), None
            adapter, self._adapter = getattr(self, "_adapter", None), None
            if llm is not None:
                if adapter is not None:  # detach and free it before the model goes
                    import llama_cpp

                    llama_cpp.llama_set_adapters_lora(llm._ctx.ctx, None, 0, None)
                    llama_cpp.llama_adapter_lora_free(adapter)
                llm.close()


#: The longest text whose tokens ``tokenize`` remembers (a full-budget prompt is ~8,000 characters).
_REMEMBERED_CHARS = 65_536
_log_filter = None  # the installed log callback (kept alive: llama.cpp holds a pointer to it)


def _quiet_aborts() -> None:
    """Drop llama.cpp's warning for an aborted batch ("removing memory module entries"): an
    abort is how a request stops background work (``LlamaCppBackend._abortable``), many times
    a minute while the user types, and llama-cpp-python's filter lets the warning through (its
    table predates llama.cpp's current log levels). Every other message goes on as before."""
    global _log_filter
    if _log_filter is not None:
        return
    import ctypes

    import llama_cpp
    from llama_cpp import _logger

    forward = _logger.llama_log_callback

    @llama_cpp.llama_log_callback
    def _filter(level, text, user_data):
        if b"removing memory module entries" not in text:
            forward(level, text, user_data)

    _log_filter = _filter
    llama_cpp.llama_log_set(_filter, ctypes.c_void_p(0))


def _find_all(text: str, token: str):
    at = text.find(token)
    while at != -1:
        yield at
        at = text.find(token, at + 1)


def _split_points(token: str) -> list[int]:
    """Offsets inside ``token`` where Qwen's pre-tokenizer ends a letter run at punctuation:
    a boundary between pre-tokens whatever surrounds the token."""
    return [k for k in range(1, len(token)) if token[k - 1].isalpha() and not (token[k].isalnum() or token[k].isspace())][-1:]


def _check_adapter_file(path: Path) -> None:
    if not path.is_file():
        raise BadModelFile(f"LoRA adapter {path} does not exist; give the adapter .gguf that 'qwenpair train lora-export' wrote")


def _sample(logits, temperature: float, rng) -> int:
    import numpy as np

    scaled = logits / temperature
    scaled -= scaled.max()
    probs = np.exp(scaled)
    probs /= probs.sum()
    return int(rng.choice(len(probs), p=probs))
