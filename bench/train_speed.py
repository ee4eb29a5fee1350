"""Training throughput of ``training.loop.fit``: tokens/s (and model-FLOPs utilisation on a GPU).

Prints one JSON object: the figure (tokens/s of the full training step of our loop: forward,
masked cross-entropy, backward, clipping, AdamW, metrics), its unit, the machine, and the
comparison run in the same process: a bare PyTorch loop (forward, loss, backward, AdamW on
the same model, batches and precision, nothing else). ``ratio`` = ours / bare, so 1.0 means
the loop adds no overhead, whatever the noise of the machine.

    python bench/train_speed.py                          # tiny shape on CPU
    python bench/train_speed.py --device cuda --shape 0.5b --seq-len 2048 --micro-batch 4

Batches are random token rows by default (speed depends on shape, not on data); ``--data``
uses a shard folder from ``qwenpair train data`` instead.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Dense bf16 peak of the GPUs this project is lent (TFLOP/s; H100/H200 SXM).
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


class RandomBatches:
    def __init__(self, n: int, seq_len: int, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        self.rows = torch.randint(0, 151_643, (n, seq_len), generator=g)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, indices):
        rows = self.rows[indices]
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def machine(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def flops_per_token(model, seq_len: int) -> float:
    """6 x (matmul parameters, LM head included, input embedding lookup not) + attention."""
    cfg = model.config
    emb = model.get_input_embeddings().weight.numel()
    n = sum(p.numel() for p in model.parameters()) - emb + cfg.vocab_size * cfg.hidden_size * (1 if cfg.tie_word_embeddings else 0)
    return 6 * n + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq_len


def build_model(shape: str, seq_len: int, seed: int):
    import torch
    from transformers import Qwen2ForCausalLM

    from training.model_config import architecture, build_config

    config = build_config(architecture(shape), seq_len=seq_len, rope_theta=10_000.0)
    config._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)


def run_ours(args, batches) -> float:
    from training.loop import Dist, TrainConfig, fit, read_metrics

    model = build_model(args.shape, args.seq_len, 0)
    cfg = TrainConfig(lr=1e-4, warmup_steps=1, max_steps=args.warmup + args.steps, micro_batch=args.micro_batch,
                      grad_accum=args.grad_accum, precision=args.precision, save_every=10**9)
    with tempfile.TemporaryDirectory() as out:
        fit(model, batches, cfg, out=Path(out), dist=Dist(device=args.device), save=lambda *a: None,
            progress=False, log=lambda m: None)
        rows = read_metrics(Path(out))
    elapsed = [r["tokens_seen"] / r["tokens_per_s"] for r in rows]
    w = args.warmup - 1
    return (rows[-1]["tokens_seen"] - rows[w]["tokens_seen"]) / (elapsed[-1] - elapsed[w])


def run_bare(args, batches) -> float:
    import torch
    import torch.nn.functional as F

    model = build_model(args.shape, args.seq_len, 0).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    bf16 = args.precision == "bf16" or (args.precision == "auto" and args.device.startswith("cuda"))
    per_step = args.micro_batch * args.grad_accum
    tokens, start = 0, None
    for step in range(args.warmup + args.steps):
        if step == args.warmup:
            _sync(args.device)
            start, tokens = time.perf_counter(), 0
        for m in range(args.grad_accum):
            first = (step * per_step + m * args.micro_batch) % len(batches)
            x, y = batches.get(list(range(first, first + args.micro_batch)))
            x, y = x.to(args.device), y.to(args.device)
            with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                logits = model(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten()) / args.grad_accum
            loss.backward()
            tokens += x.numel()
        opt.step()
        opt.zero_grad(set_to_none=True)
    _sync(args.device)
    return tokens / (time.perf_counter() - start)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--shape", default="tiny", help="tiny, 0.5b, 1.5b ... (default tiny)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    p.add_argument("--steps", type=int, default=5, help="timed steps (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--data", type=Path, default=None, help="a shard folder instead of random rows")
    args = p.parse_args()
    if args.warmup < 1:
        p.error("--warmup must be at least 1")

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no GPU")
    from training.runs import quiet_transformers

    quiet_transformers()
    if args.data:
        from training.data.shards import ShardSet
        from training.pretrain import ShardBatches

        batches = ShardBatches(ShardSet(args.data))
        args.seq_len = batches.shards.seq_len
    else:
        batches = RandomBatches(max(64, (args.warmup + args.steps) * args.micro_batch * args.grad_accum), args.seq_len)
    ours = run_ours(args, batches)
    bare = run_bare(args, batches)
    result = {
        "figure": round(ours, 1),
        "unit": "tokens/s",
        "what": f"training step of training.loop.fit, shape {args.shape}, seq {args.seq_len}, micro-batch "
                f"{args.micro_batch} x accum {args.grad_accum}, precision {args.precision}",
        "machine": machine(args.device),
        "baseline": {"what": "bare PyTorch loop (forward, loss, backward, AdamW), same model and batches",
                     "figure": round(bare, 1), "unit": "tokens/s"},
        "ratio": round(ours / bare, 3),
    }
    if args.device == "cuda":
        model = build_model(args.shape, args.seq_len, 0)
        name = torch.cuda.get_device_name(0)
        peak = next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
        achieved = ours * flops_per_token(model, args.seq_len) / 1e12
        result["model_tflops"] = round(achieved, 1)
        if peak:
            result["mfu"] = round(achieved / peak, 4)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
