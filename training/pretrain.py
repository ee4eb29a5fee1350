"""``qwenpair train pretrain``: next-token + FIM pretraining of a Qwen2 model on shards.

Stage 1 (``--stage file``) trains a fresh model of any released shape (or the tiny test
shape, or a custom JSON config) on file-level shards (``qwenpair train data --level file``),
RoPE base 10,000. Stage 2 (``--stage repo``) continues from a stage-1 checkpoint
(``--init-from``) on repo-level shards with longer sequences, RoPE base raised to 1,000,000
and optional YaRN (``--yarn-factor``). The FIM objective is in the data: FIM samples are
ordinary next-token targets over the PSM/SPM text, as in the report.

Several processes: ``torchrun --nproc_per_node=N -m qwenpair train pretrain ...`` (or
``accelerate launch -m qwenpair ...``); add ``--parallel fsdp`` to shard large shapes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.checkpoint import check_compatible, prepare_out, read_checkpoint
from training.data.pack import PAD_ID
from training.data.shards import ShardSet
from training.errors import TrainingError
from training.loop import Dist, FitResult, TrainConfig, fit
from training.model_config import STAGE_ROPE_THETA, architecture, build_config, rope_of, set_rope
from training.provenance import check_prompt_format, check_tokenizer, config_dict
from training.runs import check_base, checkpoint_writer, load_model, load_tokenizer, quiet_transformers, write_run

STAGES = ("file", "repo")


@dataclass(frozen=True)
class PretrainConfig:
    data: str  # shard folder from 'qwenpair train data'
    stage: str = "file"  # file (stage 1) | repo (stage 2: longer sequences, RoPE 1M)
    shape: str = "tiny"  # architecture of a fresh model: tiny, 0.5b ... 32b, or a .json config
    init_from: str | None = None  # start from this checkpoint / HF folder instead of a fresh model
    rope_theta: float | None = None  # RoPE base; default 10k for stage file, 1M for stage repo
    yarn_factor: float | None = None  # YaRN context extension factor (None: off)
    yarn_original: int | None = None  # YaRN's original context (default: seq_len / factor)
    train: TrainConfig = field(default_factory=TrainConfig)

    def resolved(self) -> dict[str, Any]:
        data = config_dict(self)
        data["data"] = str(Path(self.data).resolve())
        data["init_from"] = str(Path(self.init_from).resolve()) if self.init_from else None
        data["rope_theta"] = self.theta
        return data

    @property
    def theta(self) -> float:
        return float(self.rope_theta if self.rope_theta is not None else STAGE_ROPE_THETA[self.stage])


class ShardBatches:
    """Rows of a shard set as (inputs, labels): labels are the next tokens, padding masked."""

    def __init__(self, shards: ShardSet):
        self.shards = shards

    def __len__(self) -> int:
        return len(self.shards)

    def get(self, indices: list[int]):
        import torch

        rows = torch.from_numpy(self.shards.rows(indices))
        x, y = rows[:, :-1].contiguous(), rows[:, 1:].clone()
        y[y == PAD_ID] = -100
        return x, y


def run_pretrain(cfg: PretrainConfig, out: Path, *, resume: bool = False, stop_at: int | None = None,
                 device: str | None = None, progress: bool = True,
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> FitResult:
    import torch

    if cfg.stage not in STAGES:
        raise TrainingError(f"--stage must be one of {', '.join(STAGES)}")
    dist = Dist.setup(device)
    quiet_transformers()
    out = Path(out)
    tok = load_tokenizer()
    shards = ShardSet(Path(cfg.data))
    where = f"the shards in {cfg.data}"
    check_prompt_format(shards.manifest.prompt_format_version, where)
    check_tokenizer(tok.fingerprint, shards.manifest.tokenizer.get("fingerprint"), where)
    if cfg.stage == "repo" and not any(k.startswith("repo_") for s in shards.manifest.shards for k in s.samples):
        log(f"warning: {cfg.data} has no repo-level samples; stage 2 expects 'train data --level repo'")
    resolved = cfg.resolved()
    seq_len = shards.seq_len
    last = prepare_out(out, resume) if dist.main else None
    dist.barrier()
    if not dist.main:
        from training.checkpoint import latest_checkpoint

        last = latest_checkpoint(out) if resume else None

    state = optim_state = None
    base_meta = None
    if last is not None:
        ckpt = read_checkpoint(last)
        check_compatible(ckpt.meta, str(last), tokenizer_fp=tok.fingerprint, stage="pretrain", config=resolved)
        model = load_model(last)
        state = ckpt.state
        optim_state = torch.load(last / "optimizer.pt", map_location="cpu", weights_only=False)
        log(f"resuming from {last} (step {ckpt.step})")
    elif cfg.init_from:
        base_meta = check_base(Path(cfg.init_from), tok)
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(cfg.init_from)
        set_rope(config, seq_len=seq_len, rope_theta=cfg.theta, yarn_factor=cfg.yarn_factor,
                 yarn_original=cfg.yarn_original)
        model = load_model(Path(cfg.init_from), config=config)  # rotary tables built from the new RoPE
    else:
        from transformers import Qwen2ForCausalLM

        config = build_config(architecture(cfg.shape), seq_len=seq_len, rope_theta=cfg.theta,
                              yarn_factor=cfg.yarn_factor, yarn_original=cfg.yarn_original)
        config._attn_implementation = "sdpa"
        torch.manual_seed(cfg.train.seed)
        model = Qwen2ForCausalLM(config)
    if model.config.vocab_size < tok.hf.vocab_size:
        raise TrainingError(f"the model has {model.config.vocab_size} embedding rows, fewer than the tokenizer's {tok.hf.vocab_size}")

    extra = {"data": {"dir": resolved["data"], "config_fingerprint": shards.manifest.config_fingerprint,
                      "seq_len": seq_len, "rows": len(shards)},
             "rope": rope_of(model.config), "base": {"path": resolved["init_from"], "meta": base_meta}}
    meta = write_run(out, "pretrain", tok, resolved, **extra) if dist.main else {}
    save = checkpoint_writer(out, model, tok, meta, cfg.train.keep, log)
    params = sum(p.numel() for p in model.parameters())
    if dist.main:
        log(f"pretrain stage {cfg.stage}: {params / 1e6:.1f}M parameters, {len(shards)} rows of {seq_len} tokens, "
            f"{dist.world} process(es) on {dist.device}, RoPE {rope_of(model.config)}")
    try:
        return fit(model, ShardBatches(shards), cfg.train, out=out, dist=dist, save=save, resume_state=state,
                   optimizer_state=optim_state, stop_at=stop_at, progress=progress, log=log)
    finally:
        dist.close()
