"""The settings of ``qwenpair train lora``: the samples, the adapter, the run.

Plain frozen dataclasses with nothing heavy imported, so the command line can show their
defaults in ``--help`` without loading the engine or torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.loop import TrainConfig
from training.provenance import config_dict

if TYPE_CHECKING:
    from assistant.config import EngineConfig

SPAN_KINDS = ("line", "api", "block")
SPLITS = ("file", "recency")
#: What an adapter is trained on: FIM spans, next edits from git history, or both in one adapter.
TASKS = ("fim", "nes", "both")


@dataclass(frozen=True)
class SampleConfig:
    """How samples are drawn from a repository."""

    kinds: tuple[str, ...] = SPAN_KINDS  # span kinds to draw
    per_file: int = 6  # spans per file and kind, at most
    heldout_share: float = 0.25  # share of files held out for evaluation
    split: str = "file"  # file (stable hash) | recency (newest files in git history)
    context_tokens: int = 1024  # the engine's prompt budget, as the server's context_tokens
    max_tokens: int = 1536  # longest sample (prompt + middle + EOS); longer ones are dropped
    seed: int = 0

    def engine_config(self) -> EngineConfig:
        from assistant.config import EngineConfig

        # A warm server sends the full budget; the latency-targeted trim of a cold prompt
        # is an accident of timing, not something to train on.
        return EngineConfig(context_tokens=self.context_tokens, latency_target_s=1e9)


@dataclass(frozen=True)
class NesSampleConfig:
    """How next-edit samples are drawn from history."""

    heldout_share: float = 0.2  # share of the commits read (the newest) held out
    max_commits: int = 20_000  # the newest commits read, at most
    max_files_per_commit: int = 100  # a commit touching more files is skipped (and counted)
    per_file: int = 4  # targets per file and commit, at most (hunks 1 .. per_file)
    max_tokens: int = 1536  # longest sample (prompt + window + end); longer ones are dropped


@dataclass(frozen=True)
class LoraSettings:
    """The adapter itself (Qwen's example LoRA: r=8, alpha=32, dropout 0.1)."""

    r: int = 8  # rank
    alpha: float = 32.0  # scale = alpha / r (llama.cpp applies the same)
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("all-linear",)  # peft names, or all-linear
    qlora: bool = False  # 4-bit base (needs CUDA and bitsandbytes; else plain LoRA)


@dataclass(frozen=True)
class LoraConfig:
    base: str  # HF checkpoint folder, or a registry name / hub id (downloaded when online)
    repo: str  # the repository to adapt to
    task: str = "fim"  # fim | nes | both (TASKS)
    lora: LoraSettings = field(default_factory=LoraSettings)
    samples: SampleConfig = field(default_factory=SampleConfig)
    nes: NesSampleConfig = field(default_factory=NesSampleConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        lr=2e-4, warmup_steps=10, max_steps=200, micro_batch=4, weight_decay=0.0, save_every=50))
    eval_every: int = 20  # held-out loss every N steps
    patience: int = 3  # stop after this many evaluations without a better held-out loss
    eval_samples: int = 256  # held-out samples in each evaluation (a fixed, seeded subset)

    def resolved(self) -> dict[str, Any]:
        data = config_dict(self)
        data["repo"] = str(Path(self.repo).resolve())
        if Path(self.base).expanduser().is_dir():
            data["base"] = str(Path(self.base).expanduser().resolve())
        return data


