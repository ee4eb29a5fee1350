"""The training loop every stage but DPO shares: one process or many (torchrun), AdamW,
cosine schedule with warmup, gradient accumulation and clipping, bf16 autocast, atomic
checkpoints and exact resume.

Distribution is PyTorch's own: under ``torchrun`` (or ``accelerate launch``, which sets the
same variables) the model is wrapped in DistributedDataParallel, or sharded with FSDP2
(``fully_shard``, ``--parallel fsdp``) for models that do not fit one GPU; NCCL on GPUs,
gloo on CPUs. Checkpoints go through ``torch.distributed.checkpoint.state_dict`` (full,
CPU-offloaded state), so they are plain Hugging Face folders whatever the wrapping, and a
run may resume on a different number of processes.

Data order is a pure function of the seed and the sample position: sample ``p`` of the
stream is row ``perm(epoch)[p mod N]`` with ``perm`` a seeded permutation per epoch. The
checkpoint stores how many samples were consumed, so ``--resume`` continues with exactly
the batches an uninterrupted run would have seen, and (on the same hardware) the same
losses and weights.

The loss is the mean cross-entropy over every target token of the optimizer step, all
micro-batches and processes together (labels -100 and padding are ignored), so gradient
accumulation and data parallelism give the same gradient as one big batch.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

from training.errors import TrainingError

PRECISIONS = ("auto", "bf16", "fp32")
PARALLEL = ("ddp", "fsdp")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by pretraining and SFT (nanoGPT's names)."""

    lr: float = 3e-4  # peak learning rate
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100  # linear warmup from 0
    max_steps: int = 1_000  # optimizer steps in the whole run (the schedule's length)
    micro_batch: int = 4  # sequences per process per forward/backward
    grad_accum: int = 1  # micro-batches per optimizer step
    weight_decay: float = 0.1  # AdamW, on matrices only (not norms, biases)
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm (0: no clipping)
    precision: str = "auto"  # auto (bf16 on a GPU that has it, else fp32) | bf16 | fp32
    parallel: str = "ddp"  # ddp | fsdp (under torchrun with several processes)
    seed: int = 0  # model init and data order
    save_every: int = 100  # checkpoint every N steps (and at the end)
    keep: int = 2  # checkpoints kept (older ones are deleted)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise TrainingError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.parallel not in PARALLEL:
            raise TrainingError(f"parallel must be one of {', '.join(PARALLEL)}")
        if self.max_steps < 1 or self.micro_batch < 1 or self.grad_accum < 1:
            raise TrainingError("max_steps, micro_batch and grad_accum must be at least 1")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``lr``, then cosine down to ``lr * min_lr_ratio`` at ``max_steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, cfg.max_steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1.0 + math.cos(math.pi * progress))


class Batches(Protocol):
    """A training set: ``len`` samples per epoch, and (inputs, labels) for given indices."""

    def __len__(self) -> int: ...

    def get(self, indices: list[int]) -> tuple[Any, Any]:
        """Int64 tensors (inputs, labels) of shape (n, T); labels -100 are not trained on."""
        ...


def pad_batch(ids: list[list[int]], trained: list[list[bool]], pad_id: int):
    """Next-token (inputs, labels) for token rows, right-padded with ``pad_id``: position t
    predicts ``ids[t + 1]``, and is trained on only where ``trained[t + 1]`` (else -100)."""
    import torch

    width = max(len(row) for row in ids) - 1
    x = torch.full((len(ids), width), pad_id, dtype=torch.long)
    y = torch.full((len(ids), width), -100, dtype=torch.long)
    for r, (row, keep) in enumerate(zip(ids, trained)):
        n = len(row) - 1
        x[r, :n] = torch.tensor(row[:-1])
        y[r, :n] = torch.tensor([t if k else -100 for t, k in zip(row[1:], keep[1:])])
    return x, y


@dataclass
class Dist:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str | None = None) -> Dist:
        import torch

        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
        if use_cuda and not torch.cuda.is_available():
            raise TrainingError("--device cuda, but torch sees no GPU")
        dev = f"cuda:{local}" if use_cuda else "cpu"
        if use_cuda:
            torch.cuda.set_device(local)
        if world > 1:
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        return cls(rank, world, local, dev)

    def close(self) -> None:
        """Leave the process group (torch warns at exit otherwise)."""
        if self.world > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def sum(self, value):
        if self.world > 1:
            import torch.distributed as dist

            dist.all_reduce(value)
        return value


@dataclass
class FitResult:
    steps: int
    losses: list[float] = field(default_factory=list)  # per step of this process's run
    last_checkpoint: Path | None = None
    tokens_per_s: float = 0.0


def sample_order(n: int, seed: int, epoch: int) -> np.ndarray:
    import numpy as np

    return np.random.default_rng([seed, epoch]).permutation(n)


def positions_to_indices(positions: range, n: int, seed: int, cache: dict[int, np.ndarray]) -> list[int]:
    out = []
    for p in positions:
        epoch, i = divmod(p, n)
        if epoch not in cache:
            cache.clear()
            cache[epoch] = sample_order(n, seed, epoch)
        out.append(int(cache[epoch][i]))
    return out


def fit(model, batches: Batches, cfg: TrainConfig, *, out: Path, dist: Dist, save: Callable[..., Path],
        resume_state: dict[str, Any] | None = None, optimizer_state: dict | None = None,
        stop_at: int | None = None, progress: bool = True,
        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> FitResult:
    """Train ``model`` from ``resume_state`` (or step 0) to ``cfg.max_steps`` (or ``stop_at``).

    ``save(step, model_state, optimizer_state, state)`` writes a checkpoint (rank 0).
    """
    import torch
    import torch.nn.functional as F
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_optimizer_state_dict

    torch.manual_seed(cfg.seed)
    bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and dist.device.startswith("cuda")
                                       and torch.cuda.is_bf16_supported())
    model.to(dist.device)
    model.config.use_cache = False
    wrapped = _wrap(model, cfg, dist, bf16)
    optimizer = _optimizer(model, cfg, dist)
    sd_options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    if optimizer_state is not None:
        set_optimizer_state_dict(wrapped, optimizer, optimizer_state, options=StateDictOptions(full_state_dict=True))
    state = dict(resume_state or {"step": 0, "samples_seen": 0, "tokens_seen": 0})
    start = int(state["step"])
    end = min(cfg.max_steps, stop_at) if stop_at is not None else cfg.max_steps
    n = len(batches)
    if n == 0:
        raise TrainingError("the training set is empty")
    order_cache: dict = {}
    per_step = dist.world * cfg.micro_batch * cfg.grad_accum
    autocast = torch.autocast(device_type=dist.device.split(":")[0], dtype=torch.bfloat16,
                              enabled=bf16 and cfg.parallel != "fsdp")
    result = FitResult(steps=start)
    metrics = _Metrics(Path(out) / "metrics.jsonl", start) if dist.main else None
    bar = _bar(start, end, progress and dist.main)
    t0, tokens_run = time.perf_counter(), 0
    model.train()
    for step in range(start, end):
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        base = int(state["samples_seen"])
        micro = []
        for m in range(cfg.grad_accum):
            first = base + (m * dist.world + dist.rank) * cfg.micro_batch
            idx = positions_to_indices(range(first, first + cfg.micro_batch), n, cfg.seed, order_cache)
            x, y = batches.get(idx)
            micro.append((x.to(dist.device), y.to(dist.device)))
        targets = dist.sum(torch.tensor(float(sum(int((y != -100).sum()) for _, y in micro)), device=dist.device))
        if float(targets) == 0:
            raise TrainingError(f"step {step}: the batch has no target tokens (every label is masked)")
        loss_sum = torch.zeros((), device=dist.device)
        for m, (x, y) in enumerate(micro):
            with _sync(wrapped, cfg, dist, last=m == cfg.grad_accum - 1), autocast:
                logits = wrapped(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-100, reduction="sum")
            # DDP/FSDP average gradients over processes; scale so the step sees sum / all targets.
            (loss * dist.world / targets).backward()
            loss_sum += loss.detach()
        step_loss = float(dist.sum(loss_sum) / targets)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step_tokens = sum(int(x.numel()) for x, _ in micro) * dist.world
        tokens_run += step_tokens
        state = {"step": step + 1, "samples_seen": base + per_step, "tokens_seen": int(state["tokens_seen"]) + step_tokens,
                 "epoch": (base + per_step) // n}
        result.losses.append(step_loss)
        result.steps = step + 1
        elapsed = time.perf_counter() - t0
        if metrics is not None:
            metrics.write({"step": step + 1, "loss": step_loss, "lr": lr, "grad_norm": float(grad_norm),
                           "tokens_seen": state["tokens_seen"], "tokens_per_s": round(tokens_run / elapsed, 1)})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{lr:.2e}")
        if (step + 1) % cfg.save_every == 0 or step + 1 == end:
            model_sd, optim_sd = get_state_dict(wrapped, optimizer, options=sd_options)
            if dist.main:
                result.last_checkpoint = save(step + 1, model_sd, optim_sd, state)
            dist.barrier()
    if bar is not None:
        bar.close()
    result.tokens_per_s = tokens_run / max(1e-9, time.perf_counter() - t0)
    return result


def _wrap(model, cfg: TrainConfig, dist: Dist, bf16: bool):
    if dist.world == 1:
        return model
    import torch

    if cfg.parallel == "fsdp":
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else MixedPrecisionPolicy()
        for layer in model.model.layers:
            fully_shard(layer, mp_policy=mp)
        fully_shard(model, mp_policy=mp)
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[dist.local_rank] if dist.device.startswith("cuda") else None)


class _sync:
    """Skip the gradient all-reduce on all but the last micro-batch of a step."""

    def __init__(self, wrapped, cfg: TrainConfig, dist: Dist, last: bool):
        self.wrapped, self.cfg, self.dist, self.last = wrapped, cfg, dist, last
        self._ctx = None

    def __enter__(self):
        if self.dist.world > 1 and self.cfg.parallel == "fsdp":
            self.wrapped.set_requires_gradient_sync(self.last)
        elif self.dist.world > 1 and not self.last:
            self._ctx = self.wrapped.no_sync()
            self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
        return False


def _optimizer(model, cfg: TrainConfig, dist: Dist):
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = dist.device.startswith("cuda") and cfg.parallel != "fsdp"
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=fused or None)


def _bar(start: int, end: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=end, initial=start, desc="train", unit="step", dynamic_ncols=True)


class _Metrics:
    """metrics.jsonl, truncated to the resumed step so a resumed run reads as one."""

    def __init__(self, path: Path, start: int):
        self.path = path
        kept = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line)["step"] <= start:
                        kept.append(line)
                except (ValueError, KeyError):
                    continue
        from training.atomic import write_text

        write_text(path, "".join(k + "\n" for k in kept))
        self._fh = open(path, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()


def read_metrics(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / "metrics.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
