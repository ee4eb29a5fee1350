"""Prompt-lookup (n-gram) speculative decoding for the llama.cpp backend.

A next edit rewrites a window that it mostly copies (docs/next-edit.md, "Prompt-lookup
decoding"). Each step takes the greedy token, then looks the last few generated tokens up in
the prompt (newest occurrence first, longest n-gram first) and drafts the tokens that followed
them there. The token and its draft are evaluated in one llama.cpp batch with a logits row per
position; the draft is kept up to its first token that the model's own argmax disagrees with.
The output is the greedy output of plain decoding; only the number of model calls changes.

Why not llama-cpp-python's ``LlamaPromptLookupDecoding`` (``Llama(draft_model=...)``)? It
works only through ``Llama.generate``, and ``draft_model`` switches the ``Llama`` to
``logits_all``: a float row of the whole vocabulary per context position (151,936 x n_ctx x 4
bytes: 2.5 GB at n_ctx 4,096) and a full row computed for every prompt token. Our backend
creates its ``Llama`` with ``logits_all=False`` and decodes with its own loop (stop tokens,
time caps, cancellation), so this module asks for logits rows only for the drafted positions,
through the same low-level batch the backend's ``Llama`` owns. It shares the backend's KV
cache and its prompt evaluation (the cached prefix kept, unchanged runs after it moved into
place: model/kv_reuse.py), so a next-edit request reuses what a completion left.

Only for greedy requests (``temperature == 0``); it is not a backend and adds no model.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass

from model.backends.base import (
    Cancelled,
    GenerationRequest,
    GenerationResult,
    OnText,
    Token,
    Tokens,
    stop_ids_for,
    stream_tokens,
)


@dataclass
class LookupStats:
    """What the drafts did in one generation."""

    steps: int = 0  # model calls while generating (batches)
    drafted: int = 0  # draft tokens proposed
    accepted: int = 0  # draft tokens the model agreed with

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


def find_draft(source, recent: list[int], *, max_ngram: int = 3, max_draft: int = 10) -> list[int]:
    """Tokens that followed the newest occurrence in ``source`` (a numpy int array) of the
    longest tail of ``recent`` (``max_ngram`` tokens down to one), at most ``max_draft``."""
    import numpy as np

    n_src = len(source)
    for n in range(min(max_ngram, len(recent)), 0, -1):
        if n_src <= n:
            continue
        tail = np.asarray(recent[-n:], dtype=source.dtype)
        windows = np.lib.stride_tricks.sliding_window_view(source[:-1], n)  # a match must have a successor
        hits = np.flatnonzero((windows == tail).all(axis=1))
        if hits.size:
            start = int(hits[-1]) + n
            return source[start : start + max_draft].tolist()
    return []


def generate_with_lookup(
    backend,
    request: GenerationRequest,
    *,
    max_ngram: int = 3,
    max_draft: int = 10,
    on_text: OnText | None = None,
    cancel: threading.Event | None = None,
) -> tuple[GenerationResult, LookupStats]:
    """Greedy generation of ``request`` on ``backend`` (a ``LlamaCppBackend``), drafting from
    the prompt's own tokens. The tokens go through the backends' one streaming loop
    (``model.backends.base.stream_tokens``), so stop IDs, stop texts, the time cap,
    cancellation and ``on_text`` behave exactly as in ``backend.generate``."""
    import numpy as np

    if request.temperature > 0:
        raise ValueError("prompt-lookup decoding is greedy only; use backend.generate for sampling")
    tokens = backend.tokenize(request.prompt)
    backend._check_fits(tokens, 1)
    llm = backend.raw
    n_vocab = llm.n_vocab()
    max_new = min(request.max_tokens, backend.n_ctx - len(tokens))
    max_draft = max(0, min(max_draft, llm.n_batch - 1))
    result = GenerationResult(text="", prompt_tokens=len(tokens))
    stats = LookupStats()
    # The backend's lock: one generation at a time on its context (model/backends/llama_cpp.py).
    lock = getattr(backend, "_lock", None) or contextlib.nullcontext()
    with lock:
        # The backend keeps the logits of its own last step for an exact repeat; ours differ.
        backend._logits = None
        t0 = time.perf_counter()
        deadline = t0 + request.prompt_time_limit_s if request.prompt_time_limit_s is not None else None
        try:
            # the backend's own evaluation: the cached prefix and, after it, unchanged runs of
            # the cached tokens moved into place (model/kv_reuse.py), as for any prompt
            result.reused_tokens = backend._evaluate(tokens, cancel, deadline)
            logits, backend._logits = backend._logits, None
        except Cancelled:
            result.stop_reason = "cancelled"
            return result, stats
        except TimeoutError:
            result.stop_reason = "time"
            return result, stats
        finally:
            result.prompt_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        gen_deadline = t1 + request.time_limit_s if request.time_limit_s is not None else None
        source = np.asarray(tokens, dtype=np.int64)
        stream = _drafted_tokens(llm, source, logits, len(tokens), max_new, n_vocab,
                                 max_ngram=max_ngram, max_draft=max_draft, stats=stats)
        stream_tokens(stream, request, result, stop_ids=stop_ids_for(request, backend.special),
                      deadline=gen_deadline, on_text=on_text, cancel=cancel)
        result.gen_s = time.perf_counter() - t1
    return result, stats


def _logprob(row, token: int) -> float:
    import numpy as np

    top = float(row.max())
    return float(row[token]) - (top + math.log(float(np.exp(row - top).sum())))


def _drafted_tokens(llm, source, logits, n_past: int, max_new: int, n_vocab: int, *,
                    max_ngram: int, max_draft: int, stats: LookupStats) -> Tokens:
    """The greedy tokens, each drafted run verified in one batch. ``llm.n_tokens`` always
    counts the tokens the loop has taken, so wherever the loop stops, the KV cache holds the
    prompt and exactly the answer (a rejected or untaken draft is cut at the next decode)."""
    import numpy as np

    produced: list[int] = []
    want = max_draft  # draft length: halved to what was kept after a miss, doubled after a full hit,
    # so a model that does not copy pays for short drafts only
    while len(produced) < max_new:
        token = int(np.argmax(logits))
        yield Token(token, llm.detokenize([token]), (_logprob(logits, token),))
        produced.append(token)  # not reached when the loop stops at this token
        if len(produced) == max_new:
            break
        draft = find_draft(source, produced, max_ngram=max_ngram, max_draft=min(want, max_new - len(produced)))
        rows = _decode(llm, [token, *draft], n_past, n_vocab)
        stats.steps += 1
        stats.drafted += len(draft)
        n_past += 1
        llm.n_tokens = n_past
        kept = 0
        for j, guess in enumerate(draft):
            if int(np.argmax(rows[j])) != guess:
                break
            yield Token(guess, llm.detokenize([guess]), (_logprob(rows[j], guess),))
            produced.append(guess)
            kept += 1
            stats.accepted += 1
            n_past += 1
            llm.n_tokens = n_past
        logits = rows[kept].copy()
        if draft:
            want = min(max_draft, want * 2) if kept == len(draft) else max(1, kept + 1)
    return "length"


def _decode(llm, batch: list[int], n_past: int, n_vocab: int):
    """Evaluate ``batch`` at ``n_past`` with a logits row per position (rows x n_vocab)."""
    import numpy as np

    llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
    llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
    llm._ctx.decode(llm._batch)
    llm.input_ids[n_past : n_past + len(batch)] = batch
    llm.n_tokens = n_past + len(batch)
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(len(batch) * n_vocab,)).reshape(len(batch), n_vocab)
