"""A real GGUF whose greedy chat answer is known: for end-to-end tests of a successful edit.

The project's tiny model has random weights, so its answers never hold an edit. This builds,
from that model, one whose every transformer block adds nothing (the last hidden state is the
last token's embedding) and whose untied output matrix maps each token of one fixed answer to
the next: a bigram chain from the prompt's last token through the answer to ``<|im_end|>``.
It runs in the real llama.cpp like any other model; only its weights are chosen. The answer's
tokens must be distinct (a bigram has one successor), so it is bare code, not a fenced block.
Built in a few seconds and cached under ``test_models_dir()/scripted/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from model.tokens import ENDOFTEXT_ID, IM_END_ID


#: Bumped when the construction below changes, so that cached models are rebuilt.
VERSION = 1


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
    if after is None:
        chain = [tok.encode("<|im_start|>assistant\n").ids[-1], *tok.encode(answer).ids, IM_END_ID]
    else:
        chain = [after, *tok.encode(answer).ids, ENDOFTEXT_ID]
    assert len(set(chain)) == len(chain), f"{answer!r}: a bigram chain needs distinct tokens"
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
