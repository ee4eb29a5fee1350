"""Keystroke-to-completion latency of the engine on a replayed typing trace (issues 4 and 15).

Takes a real file of a real repository, blanks a few lines, opens the document in the
engine with its defaults (latency target on, 2,048-token budget), asks for a completion at
once (the cold first completion), leaves the file open ``--open-wait`` seconds (the prompt
grows to the full budget in the background meanwhile: assistant/growth.py), then types the
lines back character by character, asking for a completion after every keystroke, with the
0.5B-shaped Q8_0 model on CPU (random weights: speed depends on shape, not weights).

The peer, in the same run on the same trace: llama-server's ``/infill`` with llama.vim's
request shape (bench/llama_server_peer.py; llama-server built by
bench/build_llama_server.sh). Both sides generate 16 tokens greedily.

Reports per side: keystroke latency p50/p95 and their ratio (until the answer the editor
gets: for a multi-line suggestion its first line, docs/lsp.md), prompt tokens re-evaluated
per keystroke, the steady prompt size, the cold first completion; ours also the growth
state, overhead against the model's own compute, cache and typed-ahead hit rates; then the
ratios ours/peer. ``--check-reuse`` compares KV chunk reuse with a fresh evaluation on this
model; ``--naive`` also replays our engine with the naive layout.

``--blocks N`` measures streaming instead (issue 17): N times the cursor after a new
``def mean_K(values):`` (multi-line), time to the first line of the suggestion vs. the whole
block, p50, with a model of the same shape that writes a known 3-line block (block_model).

    bash bench/build_llama_server.sh     # once: the peer
    .venv/bin/python bench/keystroke_latency.py [--root DIR --file REL] [--keys 60] [--check-reuse]
    .venv/bin/python bench/keystroke_latency.py --blocks 8 [--block-tokens 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import emit, median, percentile  # noqa: E402

#: Where bench/build_llama_server.sh puts llama-server.
DEFAULT_SERVER = Path.home() / ".cache" / "qwenpair" / "llama-server-0.3.36" / "build" / "bin" / "llama-server"


def make_retriever(root: Path):
    """The workspace index as the engine's retriever, when repo_index provides one."""
    try:
        from assistant.retrieval import workspace_retriever
    except ImportError:
        return None, None
    return workspace_retriever(root)


def pick_lines(text: str, count: int) -> list[int]:
    """``count`` consecutive lines with real code (not blank, not comments), past the imports."""
    lines = text.split("\n")
    for start in range(len(lines) // 3, len(lines) - count):
        block = lines[start : start + count]
        if all(len(l.strip()) >= 12 and not l.strip().startswith(("#", "//", '"')) for l in block):
            return list(range(start, start + count))
    raise SystemExit("no suitable lines to retype in the file")


def replay(backend, root: Path, path: Path, text: str, targets: list[int], keys: int, naive: bool, retriever,
           context_tokens: int, speculative: bool = False, latency_target: float = 1.5, open_wait_s: float = 10.0,
           trace: list | None = None) -> dict:
    """Open the file (engine defaults: latency target on), ask for a completion at once (the
    cold first completion), wait until ``open_wait_s`` after opening (the prompt grows
    meanwhile), then type the blanked lines back, one completion per keystroke. Each
    request's (text, line, col) is appended to ``trace`` for the peer."""
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.request import CompletionRequest
    from assistant.scheduler import Superseded

    config = EngineConfig(
        naive_layout=naive, max_tokens_single=16, max_tokens_multi=16, generation_time_cap_s=10.0,
        prompt_time_cap_s=120.0, latency_target_s=latency_target, context_tokens=context_tokens, speculative=speculative,
    )
    backend.reset_cache()
    engine = CompletionEngine(backend, config=config, workspace_root=root, retriever=retriever)
    engine.calibrate()  # as the server does while the model loads (lsp_server/background.py)
    lines = text.split("\n")
    typed_lines = {i: lines[i] for i in targets}
    for i in targets:
        indent = len(lines[i]) - len(lines[i].lstrip())
        lines[i] = lines[i][:indent]
    t_open = time.perf_counter()
    engine.document_opened(path, "\n".join(lines), targets[0])
    first_req = CompletionRequest(path, "\n".join(lines), targets[0], len(lines[targets[0]]))
    t0 = time.perf_counter()
    cold_result = engine.complete_sync(first_req)
    cold = time.perf_counter() - t0
    if trace is not None:
        trace.append((first_req.text, first_req.line, first_req.col))
    time.sleep(max(0.0, open_wait_s - (time.perf_counter() - t_open)))
    latencies, evaluated, overheads, prompt_sizes, generated = [], [], [], [], []
    kinds = {"miss": 0, "hit": 0, "typed": 0}
    n = 0
    for i in targets:
        indent = len(lines[i])
        for ch in typed_lines[i][indent:]:
            if n >= keys:
                break
            lines[i] += ch
            req = CompletionRequest(path, "\n".join(lines), i, len(lines[i]))
            if trace is not None:
                trace.append((req.text, req.line, req.col))
            t0 = time.perf_counter()
            try:  # what the editor is answered: a block's first line as soon as it is written
                result = engine.complete_streamed(req)[0].result()
            except Superseded:
                continue
            dt = time.perf_counter() - t0
            n += 1
            print(f"{'naive' if naive else 'ours'} key {n}: {dt * 1000:.0f} ms, {result.cache}, "
                  f"{result.prompt_tokens} prompt tokens, {result.evaluated_tokens} evaluated", file=sys.stderr, flush=True)
            latencies.append(dt)
            kinds[result.cache] += 1
            if result.cache == "miss":
                evaluated.append(result.evaluated_tokens)
                prompt_sizes.append(result.prompt_tokens)
                generated.append(len(backend.tokenize(result.text)) if result.text else 0)
                compute = result.timings["prompt_s"] + result.timings["generate_s"]
                if compute > 0:
                    overheads.append(dt / compute)
    growth = engine.status()["prompt"]
    engine.close()
    return {
        "layout": ("naive (/infill-like)" if naive else "cache-friendly (ours)") + (" + speculative" if speculative else ""),
        "keystrokes": n,
        "latency_p50_ms": median(latencies) * 1000,
        "latency_p95_ms": percentile(latencies, 95) * 1000,
        "p95_over_p50": percentile(latencies, 95) / median(latencies) if latencies else float("nan"),
        "reevaluated_tokens_median": median(evaluated),
        "steady_prompt_tokens_median": median(prompt_sizes),
        "generated_tokens_median": median(generated),
        "cold_first_completion_s": cold,
        "cold_prompt_tokens": cold_result.prompt_tokens,
        "overhead_vs_model_compute": median(overheads),
        "cache_hit_rate": kinds["hit"] / max(1, n),
        "typed_ahead_hit_rate": kinds["typed"] / max(1, n),
        "growth": growth,
    }


def check_reuse(backend, prompt: str) -> dict:
    """KV chunk reuse against a fresh evaluation on this model (issue 15): the prompt, then the
    same prompt with one line a third of the way in removed (a trimmed window, a dropped
    snippet): greedy tokens and logprobs with reuse vs. evaluated from scratch."""
    from model.backends.base import GenerationRequest

    lines = str(prompt).split("\n")
    cut = "\n".join(lines[: len(lines) // 3] + lines[len(lines) // 3 + 1 :])
    req = GenerationRequest(cut, max_tokens=16, stop_ids=frozenset())
    backend.reset_cache()
    backend.generate(GenerationRequest(str(prompt), max_tokens=1, stop_ids=frozenset()))
    reused = backend.generate(req)
    backend.reset_cache()
    backend.chunk_reuse = False
    try:
        fresh = backend.generate(req)
    finally:
        backend.chunk_reuse = True
    return {
        "prompt_tokens": reused.prompt_tokens,
        "reused_tokens": reused.reused_tokens,
        "evaluated_with_reuse": reused.evaluated_tokens,
        "evaluated_fresh": fresh.evaluated_tokens,
        "prompt_s_with_reuse": reused.prompt_s,
        "prompt_s_fresh": fresh.prompt_s,
        "same_greedy_tokens": reused.token_ids == fresh.token_ids,
        "max_abs_logprob_diff": max((abs(a - b) for a, b in zip(reused.logprobs, fresh.logprobs)), default=0.0),
    }


def replay_accepts(backend, root: Path, path: Path, text: str, targets: list[int], retriever, context_tokens: int,
                   speculative: bool, think_s: float) -> dict:
    """The user accepts every suggestion after looking at it for ``think_s``; the figure is
    the latency of the completion asked for right after accepting (llama.vim's case for
    speculative completion), with the cursor a third into each of the lines."""
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.request import CompletionRequest

    config = EngineConfig(max_tokens_single=16, max_tokens_multi=16, generation_time_cap_s=10.0,
                          prompt_time_cap_s=120.0, latency_target_s=120.0, context_tokens=context_tokens,
                          speculative=speculative)
    backend.reset_cache()
    engine = CompletionEngine(backend, config=config, workspace_root=root, retriever=retriever)
    lines = text.split("\n")
    for i in targets:  # keep a third of each line: the user stopped typing mid-line
        indent = len(lines[i]) - len(lines[i].lstrip())
        lines[i] = lines[i][: indent + len(lines[i].strip()) // 3]
    prefill = engine.document_opened(path, "\n".join(lines))
    if prefill is not None:
        prefill.result()
    after_accept, hits, empty = [], 0, 0
    for i in reversed(targets):  # bottom up, so that accepted lines do not shift the next target
        doc = "\n".join(lines)
        shown = engine.complete_sync(CompletionRequest(path, doc, i, len(lines[i])))
        if not shown.text:
            empty += 1
            continue
        time.sleep(think_s)  # reading the suggestion; speculation, when on, runs now
        item = shown.items[0]
        added = item.text.split("\n")
        offset = sum(map(len, lines[:i])) + i + len(lines[i])
        replaced = item.end_col - item.col if item.end_line == item.line else 0  # closers it writes itself
        doc = doc[:offset] + item.text + doc[offset + replaced :]
        line, col = i + len(added) - 1, (len(lines[i]) if len(added) == 1 else 0) + len(added[-1])
        t0 = time.perf_counter()
        nxt = engine.complete_sync(CompletionRequest(path, doc, line, col))
        after_accept.append(time.perf_counter() - t0)
        hits += nxt.cache != "miss"
        engine.scheduler.wait_idle(timeout=60)
    engine.close()
    return {
        "scenario": f"accept each suggestion after {think_s * 1000:.0f} ms" + (" + speculative" if speculative else ""),
        "accepts": len(after_accept),
        "empty_suggestions": empty,
        "after_accept_p50_ms": median(after_accept) * 1000,
        "after_accept_p95_ms": percentile(after_accept, 95) * 1000,
        "served_from_cache": hits / max(1, len(after_accept)),
    }


#: The block the --blocks model writes after ``def mean_K(values):``: 3 lines, 37 tokens, the
#: first line complete at the 6th. Its tokens are distinct (a bigram chain; see below).
BLOCK = ('\n    if not values:\n        raise ValueError("the mean of an empty sequence is undefined; pass one or'
         ' more numbers")\n            # callers catch this and report which column had no data')


def block_model(shape: str, quant: str) -> Path:
    """A model of ``shape`` at ``quant`` whose greedy completion after ``def mean_K(values):`` is
    BLOCK: random weights write no newlines, so a block's first line would never come. Built
    like the test suite's scripted GGUFs (tests/assistant/scripted_chat_model.py: the layers'
    outputs zeroed, an untied output matrix that chains the block's tokens); its compute per
    token is that of the shape, as for the random model."""
    sys.path.insert(0, str(ROOT / "tests" / "assistant"))
    from scripted_chat_model import scripted_gguf

    from model.make_test import cached_test_model
    from model.quantize import quantize
    from model.tokenizer import load_fast_tokenizer

    f16 = scripted_gguf(cached_test_model(shape), BLOCK, after=load_fast_tokenizer().encode("def mean(values):").ids[-1])
    out = f16.with_name(f"scripted-{quant.lower()}.gguf")
    if not out.is_file():
        quantize(f16, out, quant)
    return out


def replay_blocks(backend, root: Path, path: Path, text: str, retriever, context_tokens: int, count: int,
                  max_tokens: int) -> dict:
    """Streaming (issue 17): ``count`` times, a new ``def mean_K(values):`` at the end of the
    file with the cursor after it (a block opener: multi-line), as when the user has just
    typed it; time until the engine hands over the suggestion's first line vs. until the
    whole block is written, p50 of each. The first position is cold (the file was opened
    with the prompt pre-filled), the others reuse the KV cache of the one before."""
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.request import CompletionRequest

    config = EngineConfig(max_tokens_single=16, max_tokens_multi=max_tokens, generation_time_cap_s=60.0,
                          prompt_time_cap_s=120.0, latency_target_s=120.0, context_tokens=context_tokens,
                          candidates=1)
    backend.reset_cache()
    engine = CompletionEngine(backend, config=config, workspace_root=root, retriever=retriever)
    base = text.rstrip("\n") + "\n\n\n"
    prefill = engine.document_opened(path, base)
    if prefill is not None:
        prefill.result()
    to_first, to_block, streamed, block_lines = [], [], 0, []
    for k in range(count):
        line = f"def mean_{k}(values):"
        doc = base + line + "\n"
        t0 = time.perf_counter()
        first, final = engine.complete_streamed(CompletionRequest(path, doc, doc.count("\n") - 1, len(line)))
        head = first.result()
        t1 = time.perf_counter() - t0
        block = final.result()
        t2 = time.perf_counter() - t0
        is_streamed = head.stop_reason == "first_line"
        streamed += is_streamed
        to_first.append(t1)
        to_block.append(t2)
        block_lines.append(block.text.strip("\n").count("\n") + 1 if block.text else 0)
        print(f"block {k + 1}: first line {t1 * 1000:.0f} ms, whole block {t2 * 1000:.0f} ms "
              f"({block_lines[-1]} lines{', streamed' if is_streamed else ''}; {block.text[:40]!r})",
              file=sys.stderr, flush=True)
    engine.close()
    return {
        "scenario": f"multi-line after a new def at the end of the file, {count} times, up to {max_tokens} tokens",
        "first_line_p50_ms": median(to_first) * 1000,
        "whole_block_p50_ms": median(to_block) * 1000,
        "first_line_p95_ms": percentile(to_first, 95) * 1000,
        "whole_block_p95_ms": percentile(to_block, 95) * 1000,
        "streamed": streamed,
        "block_lines_median": median(block_lines),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=ROOT, help="repository (default: this one)")
    ap.add_argument("--file", default="assistant/engine.py", help="file to retype, relative to --root")
    ap.add_argument("--lines", type=int, default=3)
    ap.add_argument("--keys", type=int, default=60)
    ap.add_argument("--context-tokens", type=int, default=2048, help="the engine's budget (its default)")
    ap.add_argument("--latency-target", type=float, default=1.5, help="the engine's latency target (its default)")
    ap.add_argument("--open-wait", type=float, default=10.0, help="seconds the file is open before typing starts")
    ap.add_argument("--server", type=Path, default=DEFAULT_SERVER,
                    help="llama-server binary for the peer (bench/build_llama_server.sh builds it); absent: no peer")
    ap.add_argument("--naive", action="store_true", help="also replay our engine with the naive layout")
    ap.add_argument("--check-reuse", action="store_true",
                    help="also compare KV chunk reuse with a fresh evaluation on this model")
    ap.add_argument("--shape", default="0.5b")
    ap.add_argument("--quant", default="Q8_0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--speculative", action="store_true",
                    help="also measure speculative next completion: accept latency and its cost while typing")
    ap.add_argument("--think-ms", type=float, default=400.0, help="pause before accepting a suggestion")
    ap.add_argument("--blocks", type=int, default=0,
                    help="measure only streaming: first line vs whole block at this many block openers")
    ap.add_argument("--block-tokens", type=int, default=64, help="token cap of a block for --blocks")
    args = ap.parse_args()

    from model.backends.llama_cpp import LlamaCppBackend
    from model.make_test import cached_test_model

    root = args.root.resolve()
    path = root / args.file
    text = path.read_text()
    targets = pick_lines(text, args.lines)
    # --blocks: a model of the same shape that writes a known block (see block_model)
    model = block_model(args.shape, args.quant) if args.blocks else cached_test_model(args.shape).quantized(args.quant)
    backend = LlamaCppBackend(model, n_ctx=4096, n_threads=args.threads)
    retriever, closer = make_retriever(root)
    if args.blocks:
        blocks = replay_blocks(backend, root, path, text, retriever, args.context_tokens, args.blocks, args.block_tokens)
        if closer is not None:
            closer()
        emit([blocks], benchmark="keystroke_latency (streaming)",
             model=f"{args.shape} {args.quant}, {args.threads} threads", file=f"{root.name}/{args.file}",
             repo_context=retriever is not None,
             ratios={"whole_block_over_first_line_p50": blocks["whole_block_p50_ms"] / blocks["first_line_p50_ms"]})
        return
    trace: list = []
    common = dict(latency_target=args.latency_target, open_wait_s=args.open_wait)
    ours = replay(backend, root, path, text, targets, args.keys, False, retriever, args.context_tokens, trace=trace, **common)
    results, ratios = [ours], {}
    if args.check_reuse:
        from assistant.config import EngineConfig
        from assistant.engine import CompletionEngine
        from assistant.request import CompletionRequest

        # the full-budget prompt at the trace's last keystroke (a target nothing misses)
        probe = CompletionEngine(backend, config=EngineConfig(context_tokens=args.context_tokens, latency_target_s=1e9),
                                 workspace_root=root, retriever=retriever)
        prompt, _, _ = probe.build_prompt(CompletionRequest(path, *trace[-1]))
        probe.close()
        results.append({"check": "KV chunk reuse vs fresh evaluation", **check_reuse(backend, prompt)})
    if args.naive:
        naive = replay(backend, root, path, text, targets, args.keys, True, retriever, args.context_tokens, **common)
        results.append(naive)
        ratios["latency_p50_naive_over_ours"] = naive["latency_p50_ms"] / ours["latency_p50_ms"]
    if args.server is not None and args.server.is_file():
        from bench.llama_server_peer import extra_chunks, replay_peer

        snippets = retriever.retrieve(path, trace[0][0], trace[0][1], trace[0][2]) if retriever is not None else []
        peer = replay_peer(args.server, model, args.threads, trace, extra_chunks(list(snippets)[:8]), args.open_wait)
        results.append(peer)
        ratios.update({
            "ours_over_peer_p50": ours["latency_p50_ms"] / peer["latency_p50_ms"],
            "ours_over_peer_p95": ours["latency_p95_ms"] / peer["latency_p95_ms"],
            "ours_over_peer_cold_first": ours["cold_first_completion_s"] / peer["cold_first_completion_s"],
        })
    else:
        print(f"no peer: {args.server} is not built (bash bench/build_llama_server.sh)", file=sys.stderr)
    if args.speculative:
        spec = replay(backend, root, path, text, targets, args.keys, False, retriever, args.context_tokens, True, **common)
        accept_targets = pick_lines(text, 8)
        acc = [replay_accepts(backend, root, path, text, accept_targets, retriever, args.context_tokens, on,
                              args.think_ms / 1000) for on in (False, True)]
        results += [spec] + acc
        ratios.update({
            "typing_latency_p50_speculative_over_off": spec["latency_p50_ms"] / ours["latency_p50_ms"],
            "typing_latency_p95_speculative_over_off": spec["latency_p95_ms"] / ours["latency_p95_ms"],
            "after_accept_p50_off_over_speculative": acc[0]["after_accept_p50_ms"] / acc[1]["after_accept_p50_ms"],
        })
    if closer is not None:
        closer()
    emit(
        results,
        benchmark="keystroke_latency",
        model=f"{args.shape} {args.quant}, {args.threads} threads, 16 generated tokens",
        file=f"{root.name}/{args.file} lines {targets[0] + 1}-{targets[-1] + 1}",
        conditions=f"latency target {args.latency_target} s, budget {args.context_tokens} tokens, "
                   f"file open {args.open_wait} s before typing, {args.keys} keystrokes",
        repo_context=retriever is not None,
        ratios=ratios,
    )

if __name__ == "__main__":
    main()
