"""Next-edit figures: tokens/s with and without prompt-lookup decoding (same run), next-edit
latency p50/p95 for a 21-line window, and the KV share a next edit reuses after a completion.

    .venv/bin/python -m bench.next_edit [--shape 0.5b] [--quant Q8_0] [--threads 2] [--runs 5]

The model has the exact shape of Qwen2.5-Coder-0.5B at Q8_0 (speed depends on shape, not on
weights), built like the test suite's scripted GGUFs (tests/assistant/scripted_chat_model.py:
the layers' outputs zeroed, an untied output matrix chaining an answer's tokens), so that its
greedy answer to the next-edit prompt is a known updated window: random weights never copy a
window, and prompt lookup only pays off for a model that copies. Its compute per token is the
shape's. A bigram chain needs distinct tokens, so the window's 21 lines are made of distinct
words, operators and line endings (WINDOW, 138 tokens); the edit leaves 20 of them unchanged.

Prints JSON (bench/common.py). The prompt-lookup decoder is model/prompt_lookup.py; the
engine is assistant/next_edit.py; docs/next-edit.md describes both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.common import emit, median, percentile

ROOT = Path(__file__).resolve().parents[1]

#: The updated window the model writes: 21 lines whose tokens are all distinct (see above).
WINDOW = (
    "alpha = beta + gamma)\ndelta += epsilon - zeta):\ntheta -= kappa * lambda),\nsigma *= omega / rho);\n"
    "tau |= phi % chi]\npsi &= north @ south],\neast ^= west & red};\ngreen %= blue | cyan},\n"
    "amber //= olive ^ coral:\nivory /= maple << cedar,\nbirch **= aspen >> river;\nlake >>= ocean // canyon))\n"
    "meadow <<= summit and valley)))\nharbor := island or desert])\nforest == prairie if tundra];\n"
    "engine != socket for buffer}\npacket <= stream with parser{\nlexer >= token from record(\n"
    "ledger < cursor while window[\nborder > tiger try panda\"\nzebra is koala return otter'\n"
)
PATH = "ops.py"
#: Two other files the user had open: the next-edit prompt's context files (Sweep's layout puts
#: them first), and in the shared-context scenario the completion's repository context too.
CONTEXT = {
    "units.py": "\n".join(f"UNIT_{k} = {k * 7} * SCALE  # unit {k}" for k in range(12)),
    "names.py": "\n".join(f"def name_{k}(value):\n    return str(value) + '_{k}'" for k in range(8)),
}
CURSOR_LINE = 10  # the middle line: the window is the whole 21-line file


def scripted_model(shape: str, quant: str) -> Path:
    """A ``shape`` model at ``quant`` whose greedy answer after the Sweep prompt is WINDOW."""
    sys.path.insert(0, str(ROOT / "tests" / "assistant"))
    from scripted_chat_model import scripted_gguf

    from model.make_test import cached_test_model
    from model.quantize import quantize
    from model.tokenizer import load_fast_tokenizer

    after = load_fast_tokenizer().encode(f"updated/{PATH}\n").ids[-1]
    f16 = scripted_gguf(cached_test_model(shape), WINDOW, after=after)
    out = f16.with_name(f"scripted-{quant.lower()}.gguf")
    if not out.is_file():
        quantize(f16, out, quant)
    return out


def documents() -> tuple[str, str]:
    """(text at session start, text now): the user edited line 6; line 16 still differs from
    what the model will write, so the suggestion is a jump there."""
    lines = WINDOW.split("\n")
    original, current = list(lines), list(lines)
    original[5] = "psi &= north @ southern],"
    current[15] = "engine != socket for buf}"
    original[15] = current[15]
    return "\n".join(original), "\n".join(current)


def decode_speed(backend, prompt, runs: int) -> dict:
    """Tokens/s of plain greedy decoding and of prompt lookup on one prompt, alternating."""
    from model.backends.base import GenerationRequest
    from model.prompt_lookup import generate_with_lookup

    request = GenerationRequest(prompt, max_tokens=512)
    plain_tps, lookup_tps, same, acceptance, steps = [], [], True, [], []
    for _ in range(runs):
        backend.reset_cache()
        plain = backend.generate(request)
        backend.reset_cache()
        fast, stats = generate_with_lookup(backend, request)
        same &= fast.token_ids == plain.token_ids
        plain_tps.append(len(plain.token_ids) / plain.gen_s)
        lookup_tps.append(len(fast.token_ids) / fast.gen_s)
        acceptance.append(stats.acceptance)
        steps.append(stats.steps)
    return {
        "scenario": f"decode the updated 21-line window ({len(plain.token_ids)} tokens), {runs} runs each",
        "answer_is_the_window": plain.text == WINDOW,
        "same_tokens_as_plain": same,
        "plain_tokens_per_s_median": median(plain_tps),
        "lookup_tokens_per_s_median": median(lookup_tps),
        "lookup_draft_acceptance_median": median(acceptance),
        "lookup_model_calls_median": median(steps),
        "generated_tokens": len(plain.token_ids),
    }


def latency(engine, path: Path, current: str, runs: int, *, cold: bool) -> dict:
    """Next-edit latency through the engine (prompt, generation, parse, diff)."""
    times, kinds, reused = [], set(), []
    for _ in range(runs):
        if cold:
            engine.backend.reset_cache()
        got = engine.suggest(path, current, CURSOR_LINE, 0)
        times.append(got.latency_s)
        kinds.add(got.kind if got.kind != "none" else got.reason)
        reused.append(got.reused_tokens / max(1, got.prompt_tokens))
    lookup = "prompt lookup" if engine.config.prompt_lookup else "plain decoding"
    return {
        "scenario": f"next edit, 21-line window, {lookup}, {'cold KV cache' if cold else 'prompt cached'}, {runs} runs",
        "latency_p50_ms": percentile(times, 50) * 1000,
        "latency_p95_ms": percentile(times, 95) * 1000,
        "suggestions": sorted(kinds),
        "prompt_tokens": got.prompt_tokens,
        "kv_reused_share_median": median(reused),
    }


def fim_then_next_edit(engine, path: Path, current: str, *, shared_context: bool) -> dict:
    """The share of the next-edit prompt a completion's KV cache serves, right after it. The
    completion's repository context is none, or (``shared_context``) the very files the
    next-edit prompt starts with: the completion's prompt then differs from the next edit's
    only by its first three tokens (``<|repo_name|>bench``) and what follows the context."""
    from model.backends.base import GenerationRequest
    from model.prompt import RepoFile, repo_fim

    lines = current.split("\n")
    prefix = "\n".join(lines[: CURSOR_LINE + 1])
    suffix = "\n" + "\n".join(lines[CURSOR_LINE + 1 :])
    files = [RepoFile(name, text) for name, text in CONTEXT.items()] if shared_context else []
    backend = engine.backend
    backend.reset_cache()
    fim = backend.generate(GenerationRequest(repo_fim("bench", files, PATH, prefix, suffix), max_tokens=16))
    got = engine.suggest(path, current, CURSOR_LINE, 0)
    context = "the next edit's context files" if shared_context else "no repository context"
    return {
        "scenario": f"a FIM completion at the cursor ({context}), then the next-edit request",
        "fim_prompt_tokens": fim.prompt_tokens,
        "next_edit_prompt_tokens": got.prompt_tokens,
        "next_edit_reused_tokens": got.reused_tokens,
        "kv_reused_share": got.reused_tokens / max(1, got.prompt_tokens),
    }


def llama_cpp_python_draft(model: Path, backend, prompt, threads: int, n_ctx: int) -> dict:
    """The same window through llama-cpp-python's own hook (Llama(draft_model=...)), which
    forces logits_all: its memory is n_ctx x vocabulary floats (model/prompt_lookup.py).
    Ours runs right before it, cold, timed the same way (prompt included)."""
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from model.backends.base import GenerationRequest
    from model.prompt_lookup import generate_with_lookup

    backend.reset_cache()
    t0 = time.perf_counter()
    ours, _ = generate_with_lookup(backend, GenerationRequest(prompt, max_tokens=512))
    ours_tps = len(ours.token_ids) / (time.perf_counter() - t0)
    prompt_ids = backend.tokenize(prompt)

    llm = Llama(model_path=str(model), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False,
                draft_model=LlamaPromptLookupDecoding(max_ngram_size=3, num_pred_tokens=10))
    try:
        t0 = time.perf_counter()
        out = llm.create_completion(prompt_ids, max_tokens=512, temperature=0.0, top_k=1)
        wall = time.perf_counter() - t0
        n = out["usage"]["completion_tokens"]
        return {
            "scenario": f"llama-cpp-python Llama(draft_model=LlamaPromptLookupDecoding), n_ctx {n_ctx}",
            "answer_is_the_window": out["choices"][0]["text"] == WINDOW,
            "tokens_per_s_including_prompt": n / wall,
            "ours_tokens_per_s_including_prompt": ours_tps,
            "scores_buffer_mb": n_ctx * llm.n_vocab() * 4 / 1e6,
        }
    finally:
        llm.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="0.5b")
    ap.add_argument("--quant", default="Q8_0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-llama-draft", action="store_true", help="skip llama-cpp-python's draft_model comparison")
    ap.add_argument("--time-cap", type=float, default=120.0,
                    help="the engine's time caps, seconds: high, so that latency measures whole windows (default 120)")
    ap.add_argument("--latency-only", action="store_true", help="only the engine's latency (no tokens/s, FIM, hook)")
    ap.add_argument("--kv-only", action="store_true", help="only the KV cache reused after a completion")
    args = ap.parse_args()

    from assistant.edit_history import EditHistory
    from assistant.next_edit import NextEditConfig, NextEditEngine
    from assistant.retrieval import PromptPolicy
    from model.backends.llama_cpp import LlamaCppBackend

    model = scripted_model(args.shape, args.quant)
    backend = LlamaCppBackend(model, n_ctx=4096, n_threads=args.threads)
    original, current = documents()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / PATH
        engines = {}
        for lookup in (True, False):
            history = EditHistory(PromptPolicy(root))
            for name, text in CONTEXT.items():  # viewed before: the next edit's context files
                history.open(root / name, text)
            history.open(path, original)
            config = NextEditConfig(prompt_lookup=lookup, generation_time_cap_s=args.time_cap,
                                    prompt_time_cap_s=args.time_cap)
            engines[lookup] = NextEditEngine(backend, history, config, root=root)
        first = engines[True].suggest(path, current, CURSOR_LINE, 0)
        prompt = engines[True].prompt(path, current, CURSOR_LINE, 0).prompt
        steps = [
            lambda: decode_speed(backend, prompt, args.runs),
            lambda: latency(engines[True], path, current, args.runs, cold=True),
            lambda: latency(engines[False], path, current, args.runs, cold=True),
            lambda: latency(engines[True], path, current, args.runs, cold=False),
            lambda: fim_then_next_edit(engines[True], path, current, shared_context=False),
            lambda: fim_then_next_edit(engines[True], path, current, shared_context=True),
        ]
        if args.latency_only:
            steps = steps[1:4]
        elif args.kv_only:
            steps = steps[4:]
        elif not args.no_llama_draft:
            steps.append(lambda: llama_cpp_python_draft(model, backend, prompt, args.threads, 1024))
        results = []
        for step in steps:
            results.append(step())
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # partial figures survive a kill
        speed = results[0] if not (args.latency_only or args.kv_only) else None
        cold = None if args.kv_only else results[0 if args.latency_only else 1 : 3 if args.latency_only else 3]
    backend.close()
    emit(
        results,
        benchmark="next_edit",
        model=f"{args.shape}-shaped {args.quant} (scripted to write the window), {args.threads} threads",
        suggestion={"kind": first.kind, "target_line": first.target.start + 1 if first.target else None,
                    "reason": first.reason},
        ratios={**({"lookup_over_plain_tokens_per_s": speed["lookup_tokens_per_s_median"]
                    / speed["plain_tokens_per_s_median"]} if speed else {}),
                **({"cold_latency_p50_plain_over_lookup": cold[1]["latency_p50_ms"] / cold[0]["latency_p50_ms"]}
                   if cold else {})},
        target={"lookup_over_plain_tokens_per_s": ">= 2"},
    )


if __name__ == "__main__":
    main()
