"""``qwenpair train dpo``: offline DPO from preference pairs, with trl's ``DPOTrainer`` and a
frozen reference model (the starting checkpoint, loaded a second time).

Pairs are JSONL, one per line: ``{"prompt": ..., "chosen": ..., "rejected": ...}`` where the
prompt is a user message (a string) or a list of ChatML turns (``[{"role", "content"}]``);
``chosen``/``rejected`` are assistant replies. The prompt text is ``model.prompt.chatml(...,
add_generation_prompt=True)``, exactly what chat sends; replies end with ``<|im_end|>``.
The pairs are tokenized here as chat's prompts are (``model.text_tokens``: the format's
markers by ID, every message and reply as text; docs/security.md, "control tokens") and
handed to trl as token IDs, so trl's own tokenizer call, which would turn a reply quoting
``<|im_end|>`` into the control token, never sees them.

trl does the loss, batching and the Hugging Face Trainer loop (so ``accelerate launch`` /
``torchrun`` give it several processes). Around it this module adds what every stage has:
``run.json``, a ``qwenpair.json`` marker in each of the trainer's checkpoints (written after
the checkpoint is complete; ``--resume`` takes the newest marked one, so a checkpoint cut
short by a kill is never resumed from), and the final model written atomically to
``OUT/checkpoints/step-N`` with the tokenizer and metadata. Beta 0.1 is Qwen's setting.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.prompt import DEFAULT_SYSTEM_PROMPT, ChatMessage, as_text, chatml, marker
from model.text_tokens import prompt_ids
from model.tokens import ENDOFTEXT_ID, IM_END, IM_END_ID
from training.atomic import write_json
from training.checkpoint import META, check_compatible, prepare_out, save_checkpoint
from training.errors import DataError, TrainingError
from training.jsonl import json_records
from training.loop import TrainConfig
from training.provenance import config_dict
from training.runs import check_base, load_model, load_tokenizer, quiet_transformers, write_run

TRAINER_DIR = "trainer"
_HF_CKPT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class DpoConfig:
    init_from: str  # the policy's start (usually the SFT checkpoint); also the reference model
    data: tuple[str, ...]  # preference JSONL files
    beta: float = 0.1  # DPO temperature (Qwen: 0.1)
    loss_type: str = "sigmoid"  # trl loss: sigmoid (DPO), ipo, hinge ...
    max_length: int = 1_024  # prompt + reply tokens
    system: str | None = DEFAULT_SYSTEM_PROMPT  # when a prompt has no system turn
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=1e-6, warmup_steps=10, max_steps=100,
                                                                   micro_batch=2, weight_decay=0.0, save_every=50))

    def resolved(self) -> dict[str, Any]:
        data = config_dict(self)
        data["init_from"] = str(Path(self.init_from).resolve())
        data["data"] = [str(Path(p).resolve()) for p in self.data]
        return data


def _pair(record: dict) -> tuple[list[ChatMessage], str, str]:
    prompt = record["prompt"]
    turns = [ChatMessage("user", prompt)] if isinstance(prompt, str) else \
        [ChatMessage(str(m["role"]), str(m["content"])) for m in prompt]
    return turns, str(record["chosen"]), str(record["rejected"])


def read_pairs(paths: tuple[str, ...], system: str | None, stats: Counter) -> list[dict[str, str]]:
    """Preference records as trl's standard (non-conversational) text format."""
    rows = []
    for path in paths:
        for turns, chosen, rejected in json_records(path, "preference", stats, _pair):
            if chosen == rejected:
                stats["identical_pair"] += 1
                continue
            rows.append({"prompt": chatml(turns, system=system, add_generation_prompt=True),
                         "chosen": as_text(chosen) + marker(IM_END), "rejected": as_text(rejected) + marker(IM_END)})
    stats["pairs"] = len(rows)
    if not rows:
        raise DataError(f"no usable preference pairs in {', '.join(paths)} ({dict(stats)})")
    return rows


def tokenize_pairs(rows: list[dict[str, str]], tokenizer) -> list[dict[str, list[int]]]:
    """trl's pre-tokenized rows (``prompt_ids``, ``chosen_ids``, ``rejected_ids``) of
    ``read_pairs``' rows, with ``tokenizer`` (``tokenizers.Tokenizer``). As in trl, the
    completion starts where prompt and prompt+reply IDs diverge (BPE may merge across it)."""
    out = []
    for row in rows:
        head = prompt_ids(tokenizer, row["prompt"])
        chosen = prompt_ids(tokenizer, row["prompt"] + row["chosen"])
        rejected = prompt_ids(tokenizer, row["prompt"] + row["rejected"])
        n = min(_common(head, chosen), _common(head, rejected))
        out.append({"prompt_ids": head[:n], "chosen_ids": chosen[n:], "rejected_ids": rejected[n:]})
    return out


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def latest_trainer_checkpoint(out: Path) -> Path | None:
    """The newest of trl's checkpoints that carries our completion marker."""
    root = Path(out) / TRAINER_DIR
    marked = [p for p in root.glob("checkpoint-*") if _HF_CKPT.match(p.name) and (p / META).is_file()] if root.is_dir() else []
    return max(marked, key=lambda p: int(_HF_CKPT.match(p.name).group(1))) if marked else None


def run_dpo(cfg: DpoConfig, out: Path, *, resume: bool = False, stop_at: int | None = None,
            device: str | None = None, progress: bool = True,
            log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
    """Train; returns (trainer log history, final checkpoint path)."""
    quiet_transformers()
    out = Path(out)
    t = cfg.train
    tok = load_tokenizer(instruct=True)
    resolved = cfg.resolved()
    stats: Counter = Counter()
    pairs = read_pairs(cfg.data, cfg.system, stats)
    hf_resume = None
    if resume:
        hf_resume = latest_trainer_checkpoint(out)
        if hf_resume is None:
            raise TrainingError(f"--resume: {out} has no complete DPO checkpoint to resume from")
        check_compatible(json.loads((hf_resume / META).read_text()), str(hf_resume),
                         tokenizer_fp=tok.fingerprint, stage="dpo", config=resolved)
        log(f"resuming from {hf_resume}")
    else:
        prepare_out(out, resume=False)
        if latest_trainer_checkpoint(out) is not None:
            raise TrainingError(f"{out} already holds DPO checkpoints: add --resume, or use another --out")
    base_meta = check_base(Path(cfg.init_from), tok)
    policy = load_model(Path(cfg.init_from))
    ref = load_model(Path(cfg.init_from))
    for model in (policy, ref):
        model.config.eos_token_id = IM_END_ID
        model.generation_config.eos_token_id = [IM_END_ID, ENDOFTEXT_ID]
    meta = write_run(out, "dpo", tok, resolved, samples=dict(stats), base={"path": resolved["init_from"], "meta": base_meta})

    rows = tokenize_pairs(pairs, tok.hf.backend_tokenizer)
    trainer = dpo_trainer(policy, ref, rows, t, beta=cfg.beta, loss_type=cfg.loss_type, max_length=cfg.max_length,
                          out=out, device=device, progress=progress, tokenizer=tok.hf,
                          callbacks=[_Marker(meta, stop_at)])
    trainer.train(resume_from_checkpoint=str(hf_resume) if hf_resume else None)
    step = trainer.state.global_step
    history = list(trainer.state.log_history)
    final = None
    if trainer.is_world_process_zero():
        final = save_checkpoint(out, step, model=policy, model_state=policy.state_dict(), optimizer_state=None,
                                tokenizer=tok.hf, meta={**meta, "step": step},
                                state={"log_history": history}, keep=t.keep)
        log(f"saved {final}")
    return history, final


def dpo_trainer(policy, ref, rows: list[dict[str, list[int]]], t: TrainConfig, *, beta: float, loss_type: str,
                max_length: int, out: Path, device: str | None, progress: bool, tokenizer, callbacks: list,
                eval_rows: list[dict[str, list[int]]] | None = None):
    """trl's ``DPOTrainer`` on pre-tokenized ``rows`` (``tokenize_pairs``), checkpoints under
    ``out/trainer``. ``ref`` None with a peft ``policy``: trl's reference is the policy with
    its adapter disabled. ``eval_rows``: held-out pairs for ``trainer.evaluate()``."""
    import torch
    from datasets import Dataset
    from trl import DPOConfig as TrlConfig
    from trl import DPOTrainer

    use_cpu = (device or ("cuda" if torch.cuda.is_available() else "cpu")) == "cpu"
    bf16 = t.precision == "bf16" or (t.precision == "auto" and not use_cpu and torch.cuda.is_bf16_supported())
    args = TrlConfig(
        output_dir=str(out / TRAINER_DIR), max_steps=t.max_steps, per_device_train_batch_size=t.micro_batch,
        gradient_accumulation_steps=t.grad_accum, learning_rate=t.lr, lr_scheduler_type="cosine",
        warmup_steps=t.warmup_steps, weight_decay=t.weight_decay, adam_beta1=t.beta1, adam_beta2=t.beta2,
        max_grad_norm=t.grad_clip if t.grad_clip > 0 else 1e9, beta=beta, loss_type=[loss_type],
        max_length=max_length, bf16=bf16, use_cpu=use_cpu, seed=t.seed, data_seed=t.seed,
        logging_steps=1, save_strategy="steps", save_steps=t.save_every, save_total_limit=max(1, t.keep),
        report_to="none", disable_tqdm=not progress, dataloader_num_workers=0,
    )

    class Trainer(DPOTrainer):
        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            # already tokenized (tokenize_pairs); keep trl's drop of prompts that fill max_length
            if args.max_length is not None and args.truncation_mode == "keep_start":
                dataset = dataset.filter(lambda example: len(example["prompt_ids"]) < args.max_length)
            return dataset

    trainer = Trainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_list(rows),
                      eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
                      processing_class=tokenizer, callbacks=callbacks)
    if not progress:  # without a bar the Trainer prints each log dict to stdout, where --json's result goes
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer


class _Marker:
    """A TrainerCallback: marks each finished trainer checkpoint; stops at ``stop_at``."""

    def __new__(cls, meta: dict[str, Any], stop_at: int | None):
        from transformers import TrainerCallback

        class Marker(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if stop_at is not None and state.global_step >= stop_at:
                    control.should_training_stop = True
                    control.should_save = True
                return control

            def on_save(self, args, state, control, **kwargs):
                if state.is_world_process_zero:
                    ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                    if ckpt.is_dir():
                        write_json(ckpt / META, {**meta, "step": state.global_step})
                return control

        return Marker()
