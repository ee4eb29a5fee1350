"""Tokenizing untrusted text with a ``tokenizers.Tokenizer`` so that it never yields a
control token (docs/security.md, "control tokens").

A Hugging Face tokenizer matches its added tokens (``<|im_end|>``, ``<|fim_prefix|>`` ...)
anywhere in the input, special or not; ``encode_special_tokens`` only stops the ones flagged
special, which leaves the FIM and repo tokens. So text is encoded as usual, and only when the
result holds an added-token ID (any ID past the BPE vocabulary) is it encoded again with a
copy of the tokenizer that has no added tokens. Ordinary text thus costs nothing extra and
gets exactly the IDs it always had: with no added token in it, the added-token pass splits
nothing. The copy is built once per tokenizer, on first need.

Prompts (``model.prompt.Prompt``) go through ``encode_prompt``: markers become their IDs.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from model.prompt import encode_prompt, pieces_of
from model.tokens import BPE_VOCAB_SIZE

_lock = threading.Lock()
_plain: dict[int, tuple[Any, Any]] = {}  # id(tokenizer) -> (tokenizer, its copy without added tokens)


def without_added_tokens(tokenizer):
    """A copy of ``tokenizer`` (``tokenizers.Tokenizer``) that knows no added tokens: their
    spelling in text is encoded by the BPE like any other characters."""
    with _lock:
        got = _plain.get(id(tokenizer))
        if got is None or got[0] is not tokenizer:
            from tokenizers import Tokenizer

            spec = json.loads(tokenizer.to_str())
            spec["added_tokens"] = []
            got = (tokenizer, Tokenizer.from_str(json.dumps(spec)))
            _plain[id(tokenizer)] = got
        return got[1]


def encode_text(tokenizer, value: str):
    """The ``tokenizers.Encoding`` of ``value`` as text (IDs and offsets, nothing added)."""
    enc = tokenizer.encode(value, add_special_tokens=False)
    if enc.ids and max(enc.ids) >= BPE_VOCAB_SIZE:
        enc = without_added_tokens(tokenizer).encode(value, add_special_tokens=False)
    return enc


def text_ids(tokenizer, value: str) -> list[int]:
    """Token IDs of ``value`` as text."""
    return encode_text(tokenizer, value).ids if value else []


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Token IDs of a prompt: its markers' IDs spliced between its text pieces' IDs (a plain
    ``str`` is all text)."""
    return encode_prompt(prompt, lambda value: text_ids(tokenizer, value))


def prompt_ids_and_offsets(tokenizer, prompt: str) -> tuple[list[int], list[tuple[int, int]]]:
    """``prompt_ids`` with each token's character span in ``prompt`` (training's loss masks)."""
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    at = 0
    for value, token_id in pieces_of(prompt):
        if token_id is None:
            enc = encode_text(tokenizer, value)
            ids.extend(enc.ids)
            offsets.extend((at + a, at + b) for a, b in enc.offsets)
        else:
            ids.append(token_id)
            offsets.append((at, at + len(value)))
        at += len(value)
    return ids, offsets
