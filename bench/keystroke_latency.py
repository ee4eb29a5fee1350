"""Keystroke-to-completion latency of the engine on a replayed typing trace (issue 4 figures).

Takes a real file of a real repository, blanks a few lines, opens the document in the
engine (which pre-fills the stable part of the prompt in the background), then types the
lines back character by character, asking for a completion after every keystroke, with
the 0.5B-shaped Q8_0 model on CPU (random weights: speed depends on shape, not weights).
The same trace is replayed with the naive layout (current line inside the prefix,
snippets re-ranked on every keystroke: what llama-server's /infill does) in the same run.

Reports per layout: keystroke latency p50/p95 (until the answer the editor gets: for a
multi-line suggestion its first line, docs/lsp.md), prompt tokens re-evaluated per keystroke,
time to the first completion after opening the file, overhead against the model's own
compute for the same tokens (engine wall time / (prompt eval + generation time)), and
cache and typed-ahead hit rates; then the naive/ours ratios.

``--blocks N`` measures streaming instead (issue 17): N times the cursor after a new
``def mean_K(values):`` (multi-line), time to the first line of the suggestion vs. the whole
block, p50, with a model of the same shape that writes a known 3-line block (block_model).

    .venv/bin/python bench/keystroke_latency.py [--root DIR --file REL] [--keys 60]
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
           context_tokens: int, speculative: bool = False) -> dict:
    from assistant.config import EngineConfig
    from assistant.engine import CompletionEngine
    from assistant.request import CompletionRequest
    from assistant.scheduler import Superseded

    config = EngineConfig(
        naive_layout=naive, max_tokens_single=16, max_tokens_multi=16, generation_time_cap_s=10.0,
        prompt_time_cap_s=120.0, latency_target_s=120.0, context_tokens=context_tokens, speculative=speculative,
    )
    backend.reset_cache()
    engine = CompletionEngine(backend, config=config, workspace_root=root, retriever=retriever)
    lines = text.split("\n")
    typed_lines = {i: lines[i] for i in targets}
    for i in targets:
        indent = len(lines[i]) - len(lines[i].lstrip())
        lines[i] = lines[i][:indent]
    t_open = time.perf_counter()
    prefill = engine.document_opened(path, "\n".join(lines))
    if prefill is not None:
        prefill.result()
    first = None
    latencies, evaluated, overheads = [], [], []
    kinds = {"miss": 0, "hit": 0, "typed": 0}
    n = 0
    for i in targets:
        indent = len(lines[i])
        for ch in typed_lines[i][indent:]:
            if n >= keys:
                break
            if first is not None:
                lines[i] += ch
            req = CompletionRequest(path, "\n".join(lines), i, len(lines[i]))
            t0 = time.perf_counter()
            try:  # what the editor is answered: a block's first line as soon as it is written
                result = engine.complete_streamed(req)[0].result()
            except Superseded:
                continue
            dt = time.perf_counter() - t0
            if first is None:
                first = time.perf_counter() - t_open
                lines[i] += ch
                continue
            n += 1
            print(f"{'naive' if naive else 'ours'} key {n}: {dt * 1000:.0f} ms, {result.cache}, "
                  f"{result.evaluated_tokens} tokens evaluated", file=sys.stderr, flush=True)
            latencies.append(dt)
            kinds[result.cache] += 1
            if result.cache == "miss":
                evaluated.append(result.evaluated_tokens)
                compute = result.timings["prompt_s"] + result.timings["generate_s"]
                if compute > 0:
                    overheads.append(dt / compute)
    engine.close()
    return {
        "layout": ("naive (/infill-like)" if naive else "cache-friendly (ours)") + (" + speculative" if speculative else ""),
        "keystrokes": n,
        "latency_p50_ms": median(latencies) * 1000,
        "latency_p95_ms": percentile(latencies, 95) * 1000,
        "reevaluated_tokens_median": median(evaluated),
        "first_completion_after_open_s": first,
        "overhead_vs_model_compute": median(overheads),
        "cache_hit_rate": kinds["hit"] / max(1, n),
        "typed_ahead_hit_rate": kinds["typed"] / max(1, n),
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
    ap.add_argument("--keys", type=int, default=30)
    ap.add_argument("--context-tokens", type=int, default=1536)
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
    ours = replay(backend, root, path, text, targets, args.keys, False, retriever, args.context_tokens)
    naive = replay(backend, root, path, text, targets, args.keys, True, retriever, args.context_tokens)
    results, ratios = [ours, naive], {}
    if args.speculative:
        spec = replay(backend, root, path, text, targets, args.keys, False, retriever, args.context_tokens, True)
        accept_targets = pick_lines(text, 8)
        acc = [replay_accepts(backend, root, path, text, accept_targets, retriever, args.context_tokens, on,
                              args.think_ms / 1000) for on in (False, True)]
        results += [spec] + acc
        ratios = {
            "typing_latency_p50_speculative_over_off": spec["latency_p50_ms"] / ours["latency_p50_ms"],
            "typing_latency_p95_speculative_over_off": spec["latency_p95_ms"] / ours["latency_p95_ms"],
            "after_accept_p50_off_over_speculative": acc[0]["after_accept_p50_ms"] / acc[1]["after_accept_p50_ms"],
        }
    if closer is not None:
        closer()
    emit(
        results,
        benchmark="keystroke_latency",
        model=f"{args.shape} {args.quant}, {args.threads} threads, 16 generated tokens",
        file=f"{root.name}/{args.file} lines {targets[0] + 1}-{targets[-1] + 1}",
        repo_context=retriever is not None,
        ratios={
            "latency_p50_naive_over_ours": naive["latency_p50_ms"] / ours["latency_p50_ms"],
            "reevaluated_tokens_naive_over_ours": naive["reevaluated_tokens_median"] / max(1, ours["reevaluated_tokens_median"]),
            **ratios,
        },
    )


if __name__ == "__main__":
    main()
