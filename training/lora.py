"""``qwenpair train lora``: adapt a Qwen2.5-Coder base model to one repository with LoRA.

setup -> fit -> validate -> save, as litgpt's LoRA script does:

- **setup**: samples by ``--task``: ``fim`` from ``training.repo_samples`` (the server's own
  prompts for masked spans of the repository, held out by file or by git recency), ``nes``
  from ``training.nes_samples`` (the server's next-edit prompts for commits of the git
  history, the newest commits held out), or ``both`` in one adapter (then the files changed
  since the next-edit cut are the FIM held-out files: no lookahead); the base model from a local
  Hugging Face folder or, online, from the hub; peft LoRA on every linear layer by default.
  ``--qlora`` loads the base in 4 bits (bitsandbytes NF4) on a CUDA GPU; without one (or
  without bitsandbytes) it says so and trains plain LoRA.
- **fit**: AdamW on the adapter only, warmup + cosine (``training.loop.lr_at``), loss on the
  middle and ``<|endoftext|>`` only, in a seeded data order that ``--resume`` continues exactly.
- **validate**: the held-out loss every ``eval_every`` steps (and before the first step), on
  a fixed subset of at most ``eval_samples`` held-out samples; early stopping after
  ``patience`` evaluations without improvement.
- **save**: ``OUT/checkpoints/step-N/`` (adapter, optimizer, data position; written
  atomically, for ``--resume``) and ``OUT/adapter/``, the adapter with the best held-out
  loss, with ``qwenpair.json`` recording the base model, the prompt-format version, the
  hyperparameters, the split and the loss history. ``training.export_lora`` turns it into a
  GGUF for llama.cpp.

Run: ``qwenpair train lora --repo ~/src/myproject --base ~/models/Qwen2.5-Coder-1.5B --out run``.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import registry
from model.adapter_meta import BaseModel
from model.tokens import ENDOFTEXT_ID
from training.checkpoint import META, OPTIMIZER, check_compatible, prepare_out, read_checkpoint
from training.errors import TrainingError
from training.loop import lr_at, pad_batch, positions_to_indices
from training.provenance import config_dict
from training.lora_checkpoint import ADAPTER_DIR, append_metrics, save_adapter, save_checkpoint, trim_metrics
from training.lora_config import TASKS, LoraConfig, LoraSettings
from training.nes_samples import build_nes_samples
from training.repo_samples import RepoSample, build_repo_samples
from training.runs import load_tokenizer, quiet_transformers, write_run

STAGE = "lora"


@dataclass
class LoraResult:
    steps: int
    adapter: Path | None  # OUT/adapter (the best held-out loss)
    history: list[dict[str, Any]]  # {"step", "heldout_loss"} per evaluation
    train_losses: list[float]
    stopped_early: bool
    qlora: bool  # whether 4-bit was really used
    tokens_per_s: float
    n_train: int
    n_heldout: int


class RepoBatches:
    """Samples padded per micro-batch; labels only on the middle and EOS."""

    def __init__(self, samples: list[RepoSample]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, indices: list[int]):
        rows = [self.samples[i] for i in indices]
        return pad_batch([s.ids for s in rows], [[t >= s.n_prompt for t in range(len(s.ids))] for s in rows],
                         ENDOFTEXT_ID)


@dataclass
class LoraData:
    """The samples of a run, whatever its task: both kinds carry ``ids`` and ``n_prompt``."""

    train: list
    heldout: list
    split: dict[str, Any]  # recorded in run.json and the exported meta.json
    stats: dict[str, Any]


def lora_samples(cfg: LoraConfig, log: Callable[[str], None]) -> LoraData:
    """FIM samples (``training.repo_samples``), next-edit samples from history
    (``training.nes_samples``) or both. With both, the FIM side holds out every file changed
    since the next-edit split's cut, so neither trains on text written after it."""
    if cfg.task not in TASKS:
        raise TrainingError(f"--task must be one of {', '.join(TASKS)}, not {cfg.task!r}")
    fmt = base_format(cfg.base)
    data = LoraData([], [], {"task": cfg.task}, {})
    hold_out = None
    if cfg.task in ("nes", "both"):
        nes = build_nes_samples(Path(cfg.repo), cfg.nes, fmt=fmt, log=log)
        data.train += nes.train
        data.heldout += nes.heldout
        data.split.update(heldout_commits=nes.heldout_commits, cutoff_time=nes.cutoff, train_head=nes.train_head,
                          heldout_files=nes.changed_since)  # what eval repo completes: text after the cut
        data.stats["nes"] = dict(nes.stats)
        hold_out = nes.changed_since
    if cfg.task in ("fim", "both"):
        fim = build_repo_samples(Path(cfg.repo), cfg.samples, log=log, fmt=fmt, hold_out=hold_out)
        data.train += fim.train
        data.heldout += fim.heldout
        data.split.update(train_files=fim.train_files, heldout_files=fim.heldout_files)
        if cfg.task == "fim":
            data.stats.update(fim.stats)
        else:
            data.stats["fim"] = dict(fim.stats)
    return data


def resolve_base(base: str) -> tuple[str, str]:
    """(what to pass to from_pretrained, the base's name for meta.json)."""
    path = Path(base).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TrainingError(f"--base {path} is not a Hugging Face checkpoint folder (no config.json)")
        full = path.resolve()
        return str(full), f"{full.parent.name}/{full.name}"  # "models/Qwen2.5-Coder-1.5B"
    if base in registry.REGISTRY:
        return registry.get(base).hf_repo, base
    if re.fullmatch(r"[\w-]+/[\w.-]+", base) and not path.exists():
        return base, base.rsplit("/", 1)[-1].lower()  # a hub id: namespace/name
    raise TrainingError(
        f"--base {base} is neither a checkpoint folder nor a known model; give a folder with config.json "
        f"and safetensors, or a name such as {registry.DEFAULT_COMPLETION_MODEL}"
    )


def base_format(base: str) -> registry.PromptFormat:
    """The prompt format of the base's family (a folder's config.json model_type, or the registry
    entry): the server builds the adapter's prompts in it, so the training samples are too."""
    config = Path(base).expanduser() / "config.json"
    if config.is_file():
        return registry.format_for_architecture(str(json.loads(config.read_text()).get("model_type", "")))
    return registry.get(base).prompt_format if base in registry.REGISTRY else registry.DEFAULT_FORMAT


def load_base(base: str, *, qlora: bool, device: str, log: Callable[[str], None]):
    """(model, base identity, whether 4-bit was used). QLoRA falls back to LoRA, saying why."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    source, name = resolve_base(base)
    quiet_transformers()
    use_4bit = False
    if qlora:
        if not device.startswith("cuda"):
            log("QLoRA needs a CUDA GPU (4-bit weights through bitsandbytes) and there is none here: "
                "training plain LoRA on the full-precision base instead")
        else:
            try:
                import bitsandbytes  # noqa: F401
                use_4bit = True
            except ImportError:
                log("QLoRA needs the bitsandbytes package (pip install bitsandbytes), which is not installed: "
                    "training plain LoRA instead")
    try:
        config = AutoConfig.from_pretrained(source)
        kwargs: dict[str, Any] = {"attn_implementation": "sdpa"}
        if use_4bit:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                bnb_4bit_use_double_quant=True)
            kwargs["device_map"] = {"": device}
        else:
            kwargs["dtype"] = torch.float32
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise TrainingError(
            f"cannot load the base model {base} ({reason}). Without network, download it first "
            "(e.g. huggingface-cli download Qwen/Qwen2.5-Coder-1.5B --local-dir DIR) and pass --base DIR"
        ) from exc
    if use_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return model, BaseModel.from_hf_config(name, config.to_dict()), use_4bit


def add_adapter(model, settings: LoraSettings):
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    targets: Any = list(settings.target_modules)
    if targets == ["all-linear"]:
        targets = "all-linear"  # every linear layer but the output head
    peft_cfg = PeftLoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                              target_modules=targets, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, peft_cfg)


def target_loss(model, x, y):
    """Summed cross-entropy over the target positions of ``y`` (labels -100 are skipped).

    The output head runs on target positions only: a repo sample is mostly prompt, and the
    151,936-wide head over every prompt position would dominate the step (``bench/lora_speed.py``
    measures the difference against the plain full-logits loss)."""
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(input_ids=x, use_cache=False).last_hidden_state
    mask = y != -100
    logits = causal_lm.lm_head(hidden[mask])
    return F.cross_entropy(logits.float(), y[mask], reduction="sum")


def optimizer_step(model, optimizer, params: list, micro: list, grad_clip: float) -> tuple[float, int]:
    """One optimizer step over the micro-batches ``[(x, y), ...]``: the mean loss over all
    their target tokens, clipping, AdamW. Returns (summed loss, target tokens)."""
    import torch

    n_targets = sum(int((y != -100).sum()) for _, y in micro)
    if n_targets == 0:
        raise TrainingError("a batch has no target tokens: every sample's middle was cut; raise --max-tokens")
    loss_sum = 0.0
    for x, y in micro:
        loss = target_loss(model, x, y)
        (loss / n_targets).backward()
        loss_sum += float(loss.detach())
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum, n_targets


def heldout_loss(model, samples: list[RepoSample], device: str, batch: int = 8) -> float:
    """Mean cross-entropy per target token over every held-out sample."""
    import torch

    data = RepoBatches(samples)
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            x, y = data.get(list(range(start, min(len(samples), start + batch))))
            total += float(target_loss(model, x.to(device), y.to(device)))
            count += int((y != -100).sum())
    model.train(was_training)
    return total / max(1, count)


def run_lora(cfg: LoraConfig, out: Path, *, resume: bool = False, stop_at: int | None = None,
             device: str | None = None, progress: bool = True,
             log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> LoraResult:
    import torch

    out = Path(out)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError("--device cuda, but torch sees no GPU")
    if cfg.eval_every < 1 or cfg.patience < 1 or cfg.eval_samples < 1:
        raise TrainingError("--eval-every, --patience and --eval-samples must be at least 1")
    resolve_base(cfg.base)  # a bad --base fails before the repository is read
    tok = load_tokenizer()
    resolved = cfg.resolved()
    data = lora_samples(cfg, log)
    last = prepare_out(out, resume)
    torch.manual_seed(cfg.train.seed)  # the adapter's initial A matrices: the same run gives the same adapter
    model, base, used_4bit = load_base(cfg.base, qlora=cfg.lora.qlora, device=device, log=log)
    state: dict[str, Any] = {"step": 0, "samples_seen": 0, "tokens_seen": 0, "history": [], "best": None, "bad_evals": 0}
    optim_state = None
    if last is not None:
        ckpt = read_checkpoint(last)
        check_compatible(ckpt.meta, str(last), tokenizer_fp=tok.fingerprint, stage=STAGE, config=resolved)
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(last), is_trainable=True)
        state = dict(ckpt.state)
        optim_state = torch.load(last / OPTIMIZER, map_location="cpu", weights_only=False)
        log(f"resuming from {last} (step {ckpt.step})")
    else:
        model = add_adapter(model, cfg.lora)
    meta = write_run(out, STAGE, tok, resolved, base=config_dict(base), qlora_used=used_4bit,
                     split=data.split, samples=data.stats)
    trim_metrics(out, int(state["step"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"lora: {trainable:,} trainable parameters on {base.describe()}")
    heldout = data.heldout
    if len(heldout) > cfg.eval_samples:
        heldout = random.Random(cfg.train.seed).sample(heldout, cfg.eval_samples)
    return _fit(model, data.train, heldout, cfg, out, device, meta, state, optim_state, used_4bit,
                stop_at=stop_at, progress=progress, log=log)


def _fit(model, train: list[RepoSample], heldout: list[RepoSample], cfg: LoraConfig, out: Path, device: str,
         meta: dict[str, Any], state: dict[str, Any], optim_state, used_4bit: bool, *, stop_at: int | None,
         progress: bool, log: Callable[[str], None]) -> LoraResult:
    import torch

    tc = cfg.train
    torch.manual_seed(tc.seed)
    model.to(device)
    model.config.use_cache = False
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=tc.lr, betas=(tc.beta1, tc.beta2), weight_decay=tc.weight_decay)
    if optim_state is not None:
        optimizer.load_state_dict(optim_state)
    batches = RepoBatches(train)
    bf16 = tc.precision == "bf16" or (tc.precision == "auto" and device.startswith("cuda") and torch.cuda.is_bf16_supported())
    autocast = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16)
    history: list[dict[str, Any]] = list(state.get("history") or [])
    if not history:
        history.append({"step": 0, "heldout_loss": heldout_loss(model, heldout, device)})
        state["best"] = history[0]["heldout_loss"]
        log(f"held-out loss before training: {history[0]['heldout_loss']:.4f}")
    end = min(tc.max_steps, stop_at) if stop_at is not None else tc.max_steps
    order_cache: dict = {}
    losses: list[float] = []
    bar = _bar(int(state["step"]), end, progress)
    stopped_early = False
    t0, tokens_run = time.perf_counter(), 0
    model.train()
    for step in range(int(state["step"]), end):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, tc)
        base_pos = int(state["samples_seen"])
        micro = []
        for m in range(tc.grad_accum):
            first = base_pos + m * tc.micro_batch
            x, y = batches.get(positions_to_indices(range(first, first + tc.micro_batch), len(train), tc.seed, order_cache))
            micro.append((x.to(device), y.to(device)))
        with autocast:
            loss_sum, targets = optimizer_step(model, optimizer, params, micro, tc.grad_clip)
        tokens_run += sum(int(x.numel()) for x, _ in micro)
        losses.append(loss_sum / max(1, targets))
        state.update(step=step + 1, samples_seen=base_pos + tc.micro_batch * tc.grad_accum,
                     tokens_seen=int(state["tokens_seen"]) + sum(int(x.numel()) for x, _ in micro))
        row: dict[str, Any] = {"step": step + 1, "loss": losses[-1], "lr": lr_at(step, tc)}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == end:
            loss_h = heldout_loss(model, heldout, device)
            history.append({"step": step + 1, "heldout_loss": loss_h})
            row["heldout_loss"] = loss_h
            if loss_h < state["best"]:
                state["best"], state["bad_evals"] = loss_h, 0
                save_adapter(model, out / ADAPTER_DIR, {**meta, "step": step + 1, "heldout_loss": loss_h,
                                                         "history": history})
            else:
                state["bad_evals"] = int(state["bad_evals"]) + 1
            stopped_early = int(state["bad_evals"]) >= cfg.patience
        state["history"] = history
        append_metrics(out, row)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", heldout=f"{history[-1]['heldout_loss']:.4f}")
        if (step + 1) % tc.save_every == 0 or step + 1 == end or stopped_early:
            path = save_checkpoint(out, step + 1, model, optimizer, meta, state, tc.keep)
            log(f"saved {path}")
        if stopped_early:
            log(f"early stop at step {step + 1}: no better held-out loss in {cfg.patience} evaluations")
            break
    if bar is not None:
        bar.close()
    adapter = out / ADAPTER_DIR
    return LoraResult(steps=int(state["step"]), adapter=adapter if (adapter / META).is_file() else None,
                      history=history, train_losses=losses, stopped_early=stopped_early, qlora=used_4bit,
                      tokens_per_s=tokens_run / max(1e-9, time.perf_counter() - t0), n_train=len(train),
                      n_heldout=len(heldout))


def _bar(start: int, end: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=end, initial=start, desc="lora", unit="step", dynamic_ncols=True)
