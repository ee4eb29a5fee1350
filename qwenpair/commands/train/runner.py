"""What every training stage of ``qwenpair train`` shares: its options, their config, and the
one stage runner that calls a stage with them and reports the result.

A stage (``training.pretrain.run_pretrain``, ``sft``, ``dpo``, ``lora``) is called as
``train(config, out, resume=, stop_at=, device=, progress=, log=)``; ``run_stage`` is that
call, made once here. Under torchrun only rank 0 prints (``is_main``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable


def train_options(p: argparse.ArgumentParser, defaults) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument("--lr", type=float, default=defaults.lr, help=f"peak learning rate (default {defaults.lr})")
    g.add_argument("--min-lr-ratio", type=float, default=defaults.min_lr_ratio, help="cosine floor as a share of --lr")
    g.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps, help=f"default {defaults.warmup_steps}")
    g.add_argument("--max-steps", type=int, default=defaults.max_steps, help=f"optimizer steps (default {defaults.max_steps})")
    g.add_argument("--micro-batch", type=int, default=defaults.micro_batch, help="sequences per process per micro-step")
    g.add_argument("--grad-accum", type=int, default=defaults.grad_accum, help="micro-steps per optimizer step")
    g.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    g.add_argument("--grad-clip", type=float, default=defaults.grad_clip, help="max gradient norm (0: off)")
    g.add_argument("--precision", choices=("auto", "bf16", "fp32"), default=defaults.precision,
                   help="auto: bf16 on a GPU that has it, else fp32")
    g.add_argument("--parallel", choices=("ddp", "fsdp"), default=defaults.parallel,
                   help="under torchrun: replicate (ddp, default) or shard (fsdp) the model")
    g.add_argument("--seed", type=int, default=defaults.seed)
    g.add_argument("--save-every", type=int, default=defaults.save_every, help="checkpoint every N steps and at the end")
    g.add_argument("--keep", type=int, default=defaults.keep, help="checkpoints kept")
    r = p.add_argument_group("run")
    r.add_argument("--out", required=True, type=Path, help="run folder (checkpoints, metrics, run.json)")
    r.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    r.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop after this step (the schedule still runs to --max-steps; resume later)")
    r.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available")
    r.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    r.add_argument("--json", action="store_true", help="print the result as JSON")


def train_config(args: argparse.Namespace):
    from training.loop import TrainConfig

    return TrainConfig(lr=args.lr, min_lr_ratio=args.min_lr_ratio, warmup_steps=args.warmup_steps,
                       max_steps=args.max_steps, micro_batch=args.micro_batch, grad_accum=args.grad_accum,
                       weight_decay=args.weight_decay, grad_clip=args.grad_clip, precision=args.precision,
                       parallel=args.parallel, seed=args.seed, save_every=args.save_every, keep=args.keep)


def stage_defaults(stage: str):
    """Stage defaults without importing torch (training.loop imports it only inside functions)."""
    from training.loop import TrainConfig

    if stage == "sft":
        return TrainConfig(lr=5e-5, warmup_steps=100, weight_decay=0.0)
    if stage == "dpo":
        return TrainConfig(lr=1e-6, warmup_steps=10, max_steps=100, micro_batch=2, weight_decay=0.0, save_every=50)
    return TrainConfig()


def run_stage(args: argparse.Namespace, train: Callable, cfg) -> Any:
    """Run one training stage with the run options every stage has (``train_options``)."""
    return train(cfg, args.out, resume=args.resume, stop_at=args.stop_at, device=args.device,
                 progress=not args.quiet and not args.json, log=log_for(args))


def report_fit(args: argparse.Namespace, result) -> int:
    if not is_main():
        return 0
    out = {"checkpoint": str(result.last_checkpoint) if result.last_checkpoint else None, "steps": result.steps,
           "losses": result.losses, "final_loss": result.losses[-1] if result.losses else None,
           "tokens_per_s": round(result.tokens_per_s, 1)}
    if args.json:
        print_json(out)
    elif not args.quiet:
        print(f"{args.train_command}: step {out['steps']}, loss {out['final_loss']}, "
              f"{out['tokens_per_s']} tokens/s, checkpoint {out['checkpoint']}")
    return 0


def is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def log_for(args: argparse.Namespace):
    if args.quiet or not is_main():
        return lambda m: None
    return lambda m: print(f"qwenpair train {args.train_command}: {m}", file=sys.stderr)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))
