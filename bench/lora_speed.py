"""LoRA training throughput: tokens/s of ``qwenpair train lora``'s optimizer step, and peak memory.

Prints one JSON object: the figure (tokens/s of ``training.lora.optimizer_step`` on real
repository samples: forward, the loss on the masked span only with the output head run on
target positions only, backward through the adapter, clipping, AdamW), its unit, the
machine, and the comparison run in the same process: a bare LoRA loop (the same peft model,
samples and AdamW, with the usual full-logits cross-entropy and nothing else), one step of
each in turn so that a busy machine slows both alike. ``ratio`` = ours / bare. Peak memory
(the process's peak RSS on CPU, ``max_memory_allocated`` on a GPU) covers both loops; GPU
utilisation comes from NVML when available.

Samples are ``training.repo_samples`` of a real repository (default: this project's own
source), at ``--context-tokens``; weights are random (speed depends on shape, not values).

    python bench/lora_speed.py                                    # tiny shape on CPU
    python bench/lora_speed.py --shape 0.5b --context-tokens 256 --micro-batch 1 --steps 3
    python bench/lora_speed.py --device cuda --shape 1.5b --context-tokens 2048 --micro-batch 8
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine  # noqa: E402
from bench.train_speed import build_model  # noqa: E402


def lora_model(args):
    from training.lora import add_adapter
    from training.lora_config import LoraSettings

    model = add_adapter(build_model(args.shape, args.context_tokens + 256, 0), LoraSettings(r=args.rank, alpha=2.0 * args.rank, dropout=0.0))
    return model.to(args.device)


def batches(args):
    from training.lora import RepoBatches
    from training.lora_config import SampleConfig
    from training.repo_samples import build_repo_samples

    cfg = SampleConfig(context_tokens=args.context_tokens, max_tokens=args.context_tokens + 256, per_file=2)
    samples = build_repo_samples(Path(args.repo), cfg).train
    data = RepoBatches(samples)
    n = args.micro_batch
    return [data.get([(s * n + i) % len(samples) for i in range(n)]) for s in range(args.warmup + args.steps)]


def compare(args, rows) -> dict[str, dict]:
    """Both loops on their own copy of the same model, one step of each in turn, so that a
    busy machine slows both alike (docs/design.md#benchmarks-report-ratios)."""
    import torch

    runs = {}
    for name, step in (("bare", bare), ("ours", ours)):
        model = lora_model(args)
        params = [p for p in model.parameters() if p.requires_grad]
        runs[name] = {"step": step, "model": model, "params": params, "opt": torch.optim.AdamW(params, lr=1e-4),
                      "s": 0.0, "tokens": 0, "targets": 0}
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    bf16 = args.device.startswith("cuda") and torch.cuda.is_bf16_supported()
    for i, (x, y) in enumerate(rows):
        x, y = x.to(args.device), y.to(args.device)
        for run in runs.values():
            _sync(args.device)
            t0 = time.perf_counter()
            with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                run["step"](run["model"], run["opt"], run["params"], x, y)
            _sync(args.device)
            if i >= args.warmup:
                run["s"] += time.perf_counter() - t0
                run["tokens"] += x.numel()
                run["targets"] += int((y != -100).sum())
    out = {name: {"tokens_per_s": round(r["tokens"] / r["s"], 1), "target_tokens_per_s": round(r["targets"] / r["s"], 1),
                  "seconds": round(r["s"], 2)} for name, r in runs.items()}
    if args.device.startswith("cuda"):
        out["peak_memory_gb_both_models"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        out["gpu_utilisation_pct"] = _utilisation()
    return out


def ours(model, opt, params, x, y) -> None:
    from training.lora import optimizer_step

    optimizer_step(model, opt, params, [(x, y)], 1.0)


def bare(model, opt, params, x, y) -> None:
    import torch.nn.functional as F

    logits = model(input_ids=x, use_cache=False).logits
    F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-100).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _utilisation() -> float | None:
    try:
        import torch

        return float(torch.cuda.utilization())
    except Exception:  # NVML (pynvml) missing
        return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="tiny", help="tiny, 0.5b, 1.5b ... (default tiny)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]), help="samples from this repository")
    p.add_argument("--context-tokens", type=int, default=512, help="prompt budget per sample (default 512)")
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args()

    import torch

    rows = batches(args)
    runs = compare(args, rows)
    ours_run, bare_run = runs["ours"], runs["bare"]
    tokens = sum(int(x.numel()) for x, _ in rows[args.warmup:])
    targets = sum(int((y != -100).sum()) for _, y in rows[args.warmup:])
    result = {
        "figure": ours_run["tokens_per_s"],
        "unit": "tokens/s (LoRA optimizer step, all linear layers, r=%d)" % args.rank,
        "machine": {**machine(), "device": torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu",
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "shape": args.shape,
        "context_tokens": args.context_tokens,
        "micro_batch": args.micro_batch,
        "steps_timed": args.steps,
        "target_share": round(targets / max(1, tokens), 3),
        "ours": ours_run,
        "bare_full_logits_loop": bare_run,
        "ratio": round(ours_run["tokens_per_s"] / bare_run["tokens_per_s"], 2),
    }
    if args.device == "cpu":
        result["peak_rss_gb_both_models"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    else:
        result["peak_memory_gb_both_models"] = runs["peak_memory_gb_both_models"]
        result["gpu_utilisation_pct"] = runs["gpu_utilisation_pct"]
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
