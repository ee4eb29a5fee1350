"""Model speed through our llama.cpp backend vs direct llama-cpp-python calls (issue 2 figures).

For the 0.5B-shaped random-weight model (speed depends on shape, not weights) at Q8_0 and
Q4_K_M with 2 threads: prompt-eval tokens/s (cold 1,500-token prompt), generation tokens/s,
and the cost of appending 8 tokens to a warm 1,500-token context. Each operation is timed
through ``LlamaCppBackend`` and through the raw ``Llama`` object in the same process, on the
same weights; ``overhead`` is ours / direct (target <= 1.05).

    .venv/bin/python bench/model_speed.py [--shape 0.5b] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Timer, emit, median  # noqa: E402

PROMPT_TOKENS = 1500
GEN_TOKENS = 32
APPEND = 8


def source_tokens(backend, n: int) -> list[int]:
    """n tokens of real Python source (the standard library), through the real tokenizer."""
    import inspect
    import json as json_module

    text = inspect.getsource(json_module.decoder) + inspect.getsource(json_module.encoder)
    ids = backend.tokenize(text)
    while len(ids) < n + 64:
        ids = ids + ids
    return ids[: n + 64]


def measure(gguf: Path, threads: int, repeats: int) -> dict:
    from model.backends.base import GenerationRequest
    from model.backends.llama_cpp import LlamaCppBackend

    be = LlamaCppBackend(gguf, n_ctx=2048, n_threads=threads)
    llm = be.raw
    ids = source_tokens(be, PROMPT_TOKENS)
    prompt_ids, extra = ids[:PROMPT_TOKENS], ids[PROMPT_TOKENS : PROMPT_TOKENS + APPEND]
    prompt = be.detokenize(prompt_ids)
    prompt_ids = be.tokenize(prompt)[:PROMPT_TOKENS]  # round-trip so both paths see the same ids
    prompt = be.detokenize(prompt_ids)
    appended = be.detokenize(prompt_ids + extra)
    n_prompt = len(be.tokenize(prompt))
    n_appended = len(be.tokenize(appended)) - n_prompt

    ours_pe, direct_pe, ours_app, direct_app, ours_gen, direct_gen = [], [], [], [], [], []
    for _ in range(repeats):
        # cold prompt evaluation
        be.reset_cache()
        with Timer() as t:
            be.prefill(prompt)
        ours_pe.append(n_prompt / t.s)
        llm.reset()
        toks = be.tokenize(prompt)
        with Timer() as t:
            llm.eval(toks)
        direct_pe.append(len(toks) / t.s)

        # append 8 tokens to the warm 1,500-token context
        be.reset_cache()
        be.prefill(prompt)
        with Timer() as t:
            be.prefill(appended)
        ours_app.append(t.s * 1000)
        llm.reset()
        llm.eval(toks)
        more = be.tokenize(appended)[len(toks) :]
        with Timer() as t:
            llm.eval(more)
        direct_app.append(t.s * 1000)

        # generation: GEN_TOKENS greedy tokens after a warm prompt, EOS ignored on both sides
        be.reset_cache()
        be.prefill(prompt)
        req = GenerationRequest(prompt, max_tokens=GEN_TOKENS, stop_ids=frozenset())
        result = be.generate(req)
        ours_gen.append(len(result.token_ids) / result.gen_s)
        llm.reset()
        llm.eval(toks)
        import numpy as np

        with Timer() as t:
            for _ in range(GEN_TOKENS):
                logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
                token = int(np.argmax(logits))
                llm.detokenize([token])
                llm.eval([token])
        direct_gen.append(GEN_TOKENS / t.s)
    be.close()
    return {
        "prompt_eval_tokens_per_s": {"ours": median(ours_pe), "direct": median(direct_pe),
                                     "overhead": median(direct_pe) / median(ours_pe), "prompt_tokens": n_prompt},
        "generation_tokens_per_s": {"ours": median(ours_gen), "direct": median(direct_gen),
                                    "overhead": median(direct_gen) / median(ours_gen), "tokens": GEN_TOKENS},
        "append_8_tokens_ms": {"ours": median(ours_app), "direct": median(direct_app),
                               "overhead": median(ours_app) / median(direct_app), "appended_tokens": n_appended},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="0.5b", choices=["tiny", "0.5b", "1.5b"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quants", default="Q8_0,Q4_K_M")
    args = ap.parse_args()

    from model.make_test import cached_test_model

    built = cached_test_model(args.shape)
    results = []
    for quant in args.quants.split(","):
        gguf = built.quantized(quant)
        row = {"quant": quant, "shape": args.shape, "threads": args.threads, "file": str(gguf)}
        row.update(measure(gguf, args.threads, args.repeats))
        results.append(row)
    emit(results, benchmark="model_speed", unit_note="tokens/s, ms; overhead = ours/direct time ratio (<= 1.05 target)")


if __name__ == "__main__":
    main()
