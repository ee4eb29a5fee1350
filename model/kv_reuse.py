"""KV chunk reuse: bring llama.cpp's KV cache from the tokens it holds to a new prompt by
keeping, and shifting, the entries of unchanged text after a change point; only the changed
tokens are evaluated.

The prefix the two share is kept as it is. After it, the new prompt is matched, from where
the prefix ends, against later runs of the old tokens of at least ``min_chunk`` equal tokens
(found through an index of the old tokens' ``min_chunk``-grams): old text that is gone (the
far end of the file window trimmed, a snippet dropped) is skipped, the cells of each run that
follows are moved left into place (``llama_memory_seq_add``: llama.cpp re-rotates their
keys), and what follows the last run is evaluated. This is llama-server's ``--cache-reuse``.
Text inserted before a run cannot keep the run: llama.cpp (this version) accepts a batch only
at the positions after the last cached one of its sequence, so new tokens can only be
appended; everything after an insertion is evaluated.

It is an approximation, as in llama-server: a moved chunk keeps the values it was computed
with, when the text before it was the old text. The difference is measured, not assumed:
tests/model/test_kv_reuse.py compares the greedy output and logprobs against a fresh
evaluation on the tiny model, and bench/keystroke_latency.py --check-reuse on the 0.5B shape.

What this module does not do: tokenizing, deciding when reuse is worth it (the backend does:
``LlamaCppBackend._evaluate``), generating.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from model.backends.base import Cancelled

#: Fewest equal tokens a moved chunk must have (shorter runs are re-evaluated: a chunk
#: costs a cache update, and very short matches are mostly coincidences).
MIN_CHUNK = 16


@dataclass
class Chunk:
    old: int  # first position in the cache
    new: int  # first position in the new prompt
    length: int


@dataclass
class Plan:
    keep: int  # tokens of the common prefix, kept in place
    chunks: list[Chunk] = field(default_factory=list)  # moved after the prefix, in order

    @property
    def reused(self) -> int:
        return self.keep + sum(c.length for c in self.chunks)


def can_shift(llm) -> bool:
    """Whether ``llm``'s KV cache can move cells to other positions (RoPE models can)."""
    import llama_cpp

    return bool(llama_cpp.llama_memory_can_shift(llm._ctx.memory))


def plan(cached: list[int], prompt: list[int], min_chunk: int = MIN_CHUNK) -> Plan:
    """How to reuse ``cached`` (the cache's tokens by position) for ``prompt``. The last
    prompt token is never reused: its logits are needed."""
    n = min(len(cached), len(prompt))
    keep = 0
    while keep < n and cached[keep] == prompt[keep]:
        keep += 1
    keep = min(keep, len(prompt) - 1)
    out = Plan(keep)
    end = len(prompt) - 1  # the last token is evaluated, never moved
    if min_chunk <= 0 or end - keep < min_chunk or len(cached) - keep < min_chunk:
        return out
    index: dict[tuple[int, ...], list[int]] = {}
    for i in range(keep, len(cached) - min_chunk + 1):
        index.setdefault(tuple(cached[i : i + min_chunk]), []).append(i)
    head_c, head_p = keep, keep
    while head_p + min_chunk <= end:
        starts = [i for i in index.get(tuple(prompt[head_p : head_p + min_chunk]), ()) if i >= head_c]
        if not starts:
            break  # new text here: it and everything after it are evaluated
        best, best_len = starts[0], 0
        for i in starts[:8]:  # the longest of the first few candidates
            k = min_chunk
            while i + k < len(cached) and head_p + k < end and cached[i + k] == prompt[head_p + k]:
                k += 1
            if k > best_len:
                best, best_len = i, k
        out.chunks.append(Chunk(best, head_p, best_len))
        head_c, head_p = best + best_len, head_p + best_len
    return out


def apply(llm, prompt: list[int], p: Plan, *, cancel: threading.Event | None = None,
          deadline: float | None = None) -> int:
    """Bring ``llm``'s cache (sequence 0) to ``prompt`` following ``p``; returns the number of
    tokens reused. The logits after the last prompt token are then llama.cpp's last output.
    On ``Cancelled`` or ``TimeoutError`` the cache is cut back to the kept prefix, so that
    ``llm.input_ids[:llm.n_tokens]`` describes it exactly."""
    import llama_cpp

    mem = llm._ctx.memory
    # 1. drop every cell not kept: the removed text and everything the chunks do not cover
    covered = sorted((c.old, c.old + c.length) for c in p.chunks)
    at = p.keep
    for lo, hi in covered:
        if lo > at:
            llama_cpp.llama_memory_seq_rm(mem, 0, at, lo)
        at = hi
    llama_cpp.llama_memory_seq_rm(mem, 0, at, -1)
    # 2. move the chunks left, from the first: no moved cell lands on one still to move
    for c in p.chunks:
        if c.new != c.old:
            llama_cpp.llama_memory_seq_add(mem, 0, c.old, c.old + c.length, c.new - c.old)
    # 3. decode what follows the last chunk (the chunks are contiguous from the prefix on)
    todo = list(range(p.reused, len(prompt)))
    llm.input_ids[p.keep : len(prompt)] = prompt[p.keep :]  # before decoding: a cut below needs it
    llm.n_tokens = p.keep
    try:
        decode_positions(llm, prompt, todo, cancel=cancel, deadline=deadline)
    except BaseException:
        llama_cpp.llama_memory_seq_rm(mem, 0, p.keep, -1)  # only the untouched prefix is sure
        llm.n_tokens = p.keep
        raise
    llm.n_tokens = len(prompt)
    return p.reused


def decode_positions(llm, prompt: list[int], positions: list[int], *, cancel: threading.Event | None = None,
                     deadline: float | None = None) -> None:
    """Decode ``prompt[i]`` at position ``i`` for each ``i`` in ``positions`` (consecutive, from
    the cache's next position), in batches of ``llm.n_batch``, with logits for the last only."""
    batch = llm._batch.batch
    step = llm.n_batch
    for start in range(0, len(positions), step):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeoutError
        part = positions[start : start + step]
        batch.n_tokens = len(part)
        last = start + len(part) == len(positions)
        for j, pos in enumerate(part):
            batch.token[j] = prompt[pos]
            batch.pos[j] = pos
            batch.n_seq_id[j] = 1
            batch.seq_id[j][0] = 0
            batch.logits[j] = last and j == len(part) - 1
        llm._ctx.decode(llm._batch)
