"""A real GGUF whose greedy chat answer is known: for end-to-end tests of a successful edit.

The project's tiny model has random weights, so its answers never hold an edit. This builds,
from that model, one whose every transformer block adds nothing (the last hidden state is the
last token's embedding) and whose untied output matrix maps each token of one fixed answer to
the next: a bigram chain from the prompt's last token through the answer to ``<|im_end|>``.
It runs in the real llama.cpp like any other model; only its weights are chosen. A bigram has
one successor, so the chain's tokens must be distinct: an answer whose usual tokenization
repeats a token (a next-edit window: newlines, indentation, names used twice) is spelled with
other tokens that decode to the same bytes (``distinct_tokens``: ``"):\n"`` at one line's
end, ``")"`` + ``":\n"`` at the next...). Byte-level BPE decodes any sequence of token ids to
the concatenation of their bytes, so llama.cpp writes exactly the answer.
Built in a few seconds and cached under ``test_models_dir()/scripted/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from model.tokens import BPE_VOCAB_SIZE, ENDOFTEXT_ID, IM_END_ID


#: Bumped when the construction below changes, so that cached models are rebuilt.
VERSION = 1


class NoDistinctTokens(ValueError):
    """No sequence of distinct regular tokens spells the answer."""


@lru_cache(maxsize=1)
def _token_bytes() -> dict[bytes, int]:
    """Each regular (BPE) token's bytes -> its id."""
    from model.tokenizer import load_fast_tokenizer

    # GPT-2 byte-level BPE writes byte b as one printable character (bytes_to_unicode).
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            chars[chr(256 + extra)] = b
            extra += 1
    out: dict[bytes, int] = {}
    for text, token_id in load_fast_tokenizer().get_vocab().items():
        if token_id < BPE_VOCAB_SIZE:
            out[bytes(chars[c] for c in text)] = token_id
    return out


def distinct_tokens(answer: str, *, forbidden: Iterable[int] = ()) -> list[int]:
    """Token ids, each used once and none in ``forbidden``, whose bytes are ``answer``'s.

    The tokenizer's own encoding when its ids are already distinct (what earlier versions
    built, so their cached models stay valid). Otherwise the fewest tokens that spell the
    answer with no id twice, found exactly (``_spell``: a small integer program). Raises
    ``NoDistinctTokens`` when there is none, naming the first line that makes it impossible.
    """
    from model.tokenizer import load_fast_tokenizer

    banned = set(forbidden)
    ids = load_fast_tokenizer().encode(answer).ids
    if len(set(ids)) == len(ids) and not banned & set(ids):
        return ids
    found = _spell(answer.encode(), banned)
    if found is not None:
        return found
    lines = answer.splitlines(keepends=True)
    lo, hi = 0, len(lines)  # the first lo lines can be spelled, the first hi cannot
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _spell("".join(lines[:mid]).encode(), banned) is None:
            hi = mid
        else:
            lo = mid
    raise NoDistinctTokens(
        f"no sequence of distinct tokens spells {answer!r}: a bigram chain says each token once, and "
        f"line {hi} ({lines[hi - 1]!r}) cannot be added to the lines above it. Qwen's tokens never join a "
        "letter or digit to a newline, so every line ending in one needs its own newline token "
        "('\\n', '\\n\\n', ...): end lines with different punctuation, or repeat less text")


def _spell(data: bytes, banned: set[int]) -> list[int] | None:
    """The fewest distinct token ids, none in ``banned``, whose bytes are ``data``; None if none.

    A path through the byte offsets 0..n whose steps are tokens (a flow of one unit from 0 to
    n), with each token id used at most once: an integer program, solved exactly by HiGHS
    (scipy.optimize.milp), in well under a second for a 21-line window.
    """
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    vocab = _token_bytes()
    longest = max(map(len, vocab))
    n = len(data)
    steps = [(i, j, vocab[data[i:j]]) for i in range(n) for j in range(i + 1, min(n, i + longest) + 1)
             if data[i:j] in vocab and vocab[data[i:j]] not in banned]
    if not steps:
        return None
    # Flow: at every offset, what arrives minus what leaves is -1 at 0, +1 at n, else 0.
    flow = coo_matrix(([v for _ in steps for v in (-1, 1)],
                       ([node for i, j, _ in steps for node in (i, j)], [k for k in range(len(steps)) for _ in (0, 1)])),
                      shape=(n + 1, len(steps)))
    need = np.zeros(n + 1)
    need[0], need[n] = -1, 1
    rows = {token_id: row for row, token_id in enumerate(sorted({t for _, _, t in steps}))}
    once = coo_matrix((np.ones(len(steps)), ([rows[t] for _, _, t in steps], range(len(steps)))),
                      shape=(len(rows), len(steps)))
    result = milp(np.ones(len(steps)), integrality=np.ones(len(steps)), bounds=Bounds(0, 1),
                  constraints=[LinearConstraint(flow, need, need), LinearConstraint(once, 0, 1)])
    if result.x is None:
        return None
    return [t for _, _, t in sorted(steps[k] for k in np.flatnonzero(result.x > 0.5))]


def scripted_gguf(tiny_model, answer: str, *, after: int | None = None) -> Path:
    """The GGUF answering ``answer``; built once, then cached beside the tiny model.

    ``after``: the token id the answer follows (default: the chat template's assistant
    turn); given, the answer ends with ``<|endoftext|>``, as a completion does.
    """
    from model.paths import test_models_dir

    extra = "" if after is None else f":{after}"
    key = hashlib.sha1(f"{VERSION}:{tiny_model.root.name}:{answer}{extra}".encode()).hexdigest()[:12]
    out = test_models_dir() / "scripted" / key
    gguf = out / "scripted.gguf"
    if gguf.exists():
        return gguf
    import torch
    from transformers import Qwen2ForCausalLM

    from model.gguf_export import export_gguf
    from model.tokenizer import load_fast_tokenizer

    tok = load_fast_tokenizer()
    first = tok.encode("<|im_start|>assistant\n").ids[-1] if after is None else after
    last = IM_END_ID if after is None else ENDOFTEXT_ID
    chain = [first, *distinct_tokens(answer, forbidden={first, last}), last]
    model = Qwen2ForCausalLM.from_pretrained(tiny_model.hf_dir, dtype=torch.float32)
    model.config.tie_word_embeddings = False
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        emb = model.model.embed_tokens.weight
        head = torch.zeros_like(emb)
        for token in chain[:-1]:
            emb[token] = torch.randn(emb.shape[1], generator=gen)
        for prev, nxt in zip(chain, chain[1:]):
            head[nxt] += emb[prev] / emb[prev].norm() * 10
        model.lm_head = torch.nn.Linear(emb.shape[1], emb.shape[0], bias=False)
        model.lm_head.weight = torch.nn.Parameter(head)
    model.save_pretrained(out / "hf")
    return export_gguf(out / "hf", gguf, name="qwenpair-test-scripted", tokenizer_dir=tiny_model.hf_dir)
