"""``qwenpair train dpo --from-outcomes``: a local preference fine-tune of a LoRA adapter on the
user's own suggestion outcomes, with trl's ``DPOTrainer`` as ``qwenpair train dpo``.

Pairs come from the local outcome store (``assistant.outcomes.OutcomeStore.preference_pairs``,
docs/stats.md): a completion the user accepted whole and kept, against one dismissed or typed
over at the same position. The prompt is the one the server sent; the replies are the shown
texts followed by the ``<|endoftext|>`` the server stops on, as in ``train lora``'s samples.

Guards, before anything is loaded:

- the empty suggestion is never the chosen side (a model that learns that silence wins stops
  suggesting): a pair whose chosen text is blank is dropped and counted, as is a pair whose
  two sides are the same;
- at least ``min_pairs`` usable pairs, else ``DataError`` saying how many there are;
- the store keeps the prompt as text, so its control tokens are read back from their
  spelling (``model.prompt.trusted_markup``); a prompt that spells more of them than the
  server's layout writes (a second ``<|fim_prefix|>``, a ``<|file_sep|>`` that does not start
  a line, any other control token) held repository text spelling one, and is dropped rather
  than trained on as a marker (docs/security.md, "control tokens");
- only completion kinds (``fim_line``, ``fim_block``): a next-edit outcome records the edit
  shown, not the window the model wrote, so it is not a reply to its prompt.

The policy is the adapter of a ``train lora`` run (``--adapter RUN``) or a fresh one on the
base; the reference is the policy's start (trl's frozen copy of the adapter as trained; with a
fresh adapter, the base itself, the adapter switched off). A fifth of the places (every pair of a prompt together) is held
out and the DPO loss on them is measured before and after (``heldout_loss``; ln 2 at the
start with a fresh adapter, where policy and reference agree; from a trained adapter trl
measures slightly less, 0.688 on the test model, for a reason not yet found). The result is ``OUT/adapter`` with
``qwenpair.json``, so ``train lora-export`` turns it into a GGUF as it does ``train lora``'s.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.prompt import Prompt, as_text, marker, pieces_of, trusted_markup
from model.registry import PromptFormat
from model.tokens import ENDOFTEXT
from training.errors import DataError, TrainingError
from training.loop import TrainConfig
from training.lora_config import LoraSettings
from training.provenance import config_dict

STAGE = "dpo-outcomes"
COMPLETION_KINDS = ("fim_line", "fim_block")


@dataclass(frozen=True)
class OutcomeDpoConfig:
    base: str  # the base model (checkpoint folder or registry name), as for train lora
    adapter: str | None = None  # a train lora run folder (or its adapter/) to start from; None: a fresh adapter
    store: str | None = None  # the outcome store (default: the cache's, assistant.outcomes.default_path)
    since_days: float | None = None  # only outcomes of the last N days
    kinds: tuple[str, ...] = COMPLETION_KINDS
    min_pairs: int = 32  # fewer usable pairs is an error, not a run
    beta: float = 0.1
    loss_type: str = "sigmoid"
    max_length: int = 2048  # prompt + reply tokens
    lora: LoraSettings = field(default_factory=LoraSettings)  # a fresh adapter's settings
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=5e-5, warmup_steps=5, max_steps=100,
                                                                   micro_batch=2, weight_decay=0.0, save_every=50))

    def resolved(self) -> dict[str, Any]:
        return config_dict(self)


def server_prompt(text: str, fmt: PromptFormat) -> Prompt | None:
    """The stored prompt ``text`` with its markers as control tokens, or None when it spells
    more of them than a completion prompt of ``fmt`` holds (repository text spelling one)."""
    prompt = trusted_markup(text)
    found = [value for value, token_id in pieces_of(prompt) if token_id is not None]
    counts = Counter(found)
    once = (fmt.fim_prefix, fmt.fim_suffix, fmt.fim_middle)
    if any(counts[m] != 1 for m in once) or counts[fmt.repo_name] > 1:
        return None
    if set(counts) - {*once, fmt.repo_name, fmt.file_sep}:
        return None
    if counts[fmt.repo_name] and not text.startswith(fmt.repo_name):
        return None
    at = 0
    for value, token_id in pieces_of(prompt):
        if token_id is not None and value == fmt.file_sep and at > 0 and text[at - 1] != "\n":
            return None  # the builder writes every <|file_sep|> at a line start
        at += len(value)
    return prompt


def outcome_rows(pairs, fmt: PromptFormat, kinds: tuple[str, ...], stats: Counter) -> list[dict[str, str]]:
    """``PreferencePair``s as ``training.dpo.tokenize_pairs`` rows, the guards applied and counted."""
    rows, seen = [], set()
    for pair in pairs:
        if pair.kind not in kinds:
            stats[f"skipped: kind {pair.kind}"] += 1
            continue
        if not pair.chosen.strip():
            stats["skipped: empty chosen"] += 1  # silence must never be what wins
            continue
        if pair.chosen == pair.rejected:
            stats["skipped: identical sides"] += 1
            continue
        prompt = server_prompt(pair.prompt, fmt)
        if prompt is None:
            stats["skipped: prompt text spells a control token"] += 1
            continue
        key = (pair.prompt, pair.chosen, pair.rejected)
        if key in seen:
            stats["skipped: duplicate"] += 1
            continue
        seen.add(key)
        rows.append({"prompt": prompt, "chosen": as_text(pair.chosen) + marker(ENDOFTEXT),
                     "rejected": as_text(pair.rejected) + marker(ENDOFTEXT)})
    stats["pairs"] = len(rows)
    return rows


def read_outcome_pairs(cfg: OutcomeDpoConfig, fmt: PromptFormat, stats: Counter) -> list[dict[str, str]]:
    """The usable pairs of the store, or ``DataError`` when fewer than ``cfg.min_pairs``."""
    import time

    from assistant.outcomes import OutcomeStore, default_path

    path = Path(cfg.store).expanduser() if cfg.store else default_path()
    if not path.is_file():
        raise DataError(f"no outcome store at {path}: suggestions are recorded while the server runs with stats "
                        "on (docs/stats.md); use the assistant for a while, then train")
    store = OutcomeStore.open(path)
    try:
        since = time.time() - cfg.since_days * 86400 if cfg.since_days else None
        pairs = store.preference_pairs(since=since)
    finally:
        store.close()
    stats["store_pairs"] = len(pairs)
    rows = outcome_rows(pairs, fmt, cfg.kinds, stats)
    if len(rows) < cfg.min_pairs:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(stats.items()) if k.startswith("skipped"))
        raise DataError(
            f"{len(rows)} usable preference pair(s) in {path} ({detail or 'none skipped'}); a preference fine-tune "
            f"needs at least {cfg.min_pairs} (--min-pairs). A pair is a completion you accepted and one you "
            "dismissed or typed over at the same place; keep using the assistant and try again later"
        )
    return rows


def run_outcome_dpo(cfg: OutcomeDpoConfig, out: Path, *, resume: bool = False, stop_at: int | None = None,
                    device: str | None = None, progress: bool = True,
                    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
    """Train; returns (trainer log history, OUT/adapter)."""
    import torch

    from training.checkpoint import prepare_out
    from training.dpo import dpo_trainer, tokenize_pairs
    from training.lora import add_adapter, base_format, load_base, resolve_base
    from training.lora_checkpoint import ADAPTER_DIR, read_adapter_meta, save_adapter
    from training.runs import load_tokenizer, quiet_transformers, write_run

    if resume:
        raise TrainingError("--resume is not supported with --from-outcomes: a preference run is short; start again")
    quiet_transformers()
    out = Path(out)
    resolve_base(cfg.base)  # a bad --base fails before the store is read
    stats: Counter = Counter()
    rows = read_outcome_pairs(cfg, base_format(cfg.base), stats)
    log(f"preference pairs: {stats['pairs']} ({dict(stats)})")
    prepare_out(out, resume=False)
    tok = load_tokenizer()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.train.seed)
    model, base, _ = load_base(cfg.base, qlora=False, device=device, log=log)
    if cfg.adapter:
        from peft import PeftModel

        start = Path(read_adapter_meta(Path(cfg.adapter))["path"])
        # trl keeps a frozen copy of a trained adapter ("ref") as the reference: no second model
        policy = PeftModel.from_pretrained(model, str(start), is_trainable=True)
    else:
        policy = add_adapter(model, cfg.lora)  # the reference is the policy with its adapter off: the base
    meta = write_run(out, STAGE, tok, cfg.resolved(), base=config_dict(base), samples=dict(stats),
                     split={"from_outcomes": True, "start_adapter": cfg.adapter})
    train_rows, held_rows = split_by_prompt(rows)
    trainer = dpo_trainer(policy, None, tokenize_pairs(train_rows, tok.hf.backend_tokenizer), cfg.train,
                          beta=cfg.beta, loss_type=cfg.loss_type, max_length=cfg.max_length, out=out, device=device,
                          progress=progress, tokenizer=tok.hf, callbacks=[_StopAt(stop_at)],
                          eval_rows=tokenize_pairs(held_rows, tok.hf.backend_tokenizer))
    before = float(trainer.evaluate()["eval_loss"])  # the DPO loss on held-out places (ln 2 at the start)
    trainer.train()
    after = float(trainer.evaluate()["eval_loss"])
    step = trainer.state.global_step
    log(f"held-out preference loss {before:.4f} -> {after:.4f} on {len(held_rows)} pairs")
    history = list(trainer.state.log_history)
    adapter = save_adapter(policy, out / ADAPTER_DIR, {
        **meta, "step": step, "heldout_loss": after, "trainer_log": history,
        "history": [{"step": 0, "heldout_loss": before}, {"step": step, "heldout_loss": after}]})
    log(f"saved {adapter}")
    return history, adapter


def split_by_prompt(rows: list[dict[str, str]], share: float = 0.2) -> tuple[list, list]:
    """(train, held-out) rows; every pair of one prompt (one place) falls on the same side, a
    stable hash of the prompt decides, and at least one place is held out."""
    import hashlib

    def key(row: dict[str, str]) -> float:
        return int(hashlib.sha256(str(row["prompt"]).encode("utf-8", "surrogatepass")).hexdigest()[:8], 16) / 16**8

    held = [r for r in rows if key(r) < share]
    if not held:
        first = min(rows, key=key)
        held = [r for r in rows if str(r["prompt"]) == str(first["prompt"])]
    names = {str(r["prompt"]) for r in held}
    return [r for r in rows if str(r["prompt"]) not in names], held


class _StopAt:
    def __new__(cls, stop_at: int | None):
        from transformers import TrainerCallback

        class StopAt(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if stop_at is not None and state.global_step >= stop_at:
                    control.should_training_stop = True
                return control

        return StopAt()
