"""``qwenpair train sft``: supervised fine-tuning on ChatML conversations, loss on the
assistant turns only, mixed with a share of FIM samples so the model keeps infilling.

Conversations are JSONL, one per line: ``{"messages": [{"role": "user", "content": ...},
{"role": "assistant", "content": ...}, ...]}`` (a leading system turn is optional; without
one, Qwen's default system prompt is used, as at inference). The text is built by
``model.prompt.chatml``, the formatter chat and edit use, and the trained spans are found by
formatting each prefix of the conversation with the same function, so the mask cannot drift
from the format. Trained: each assistant turn's content and its ``<|im_end|>``.

FIM samples come from code sources (``--fim-data``, collected through the path rules like
the pretraining data) with the FIM transform of ``training.data.fim``; their loss is on the
middle and ``<|endoftext|>``. ``--fim-share 0.1`` makes one sample in ten a FIM sample.

Training runs on the shared loop (``training.loop``): same schedule, checkpoints, resume,
torchrun. Qwen's published SFT setting is LR 5e-5, cosine, warmup 100.
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.prompt import DEFAULT_SYSTEM_PROMPT, ChatMessage, chatml
from model.text_tokens import prompt_ids, prompt_ids_and_offsets
from model.tokens import ENDOFTEXT_ID, FIM_MIDDLE_ID, IM_END, IM_END_ID, IM_START
from training.checkpoint import check_compatible, prepare_out, read_checkpoint
from training.data.fim import FimConfig, choose_mode, fim_sample, split_span
from training.errors import DataError, TrainingError
from training.jsonl import json_records
from training.loop import Dist, FitResult, TrainConfig, fit, pad_batch
from training.provenance import config_dict
from training.runs import check_base, checkpoint_writer, load_model, load_tokenizer, quiet_transformers, write_run

ROLES = ("system", "user", "assistant")
OVERLONG = ("drop", "truncate")


@dataclass(frozen=True)
class SftConfig:
    init_from: str  # the base model: a pretrain checkpoint or a Hugging Face folder
    data: tuple[str, ...]  # conversation JSONL files
    fim_data: tuple[str, ...] = ()  # code sources for the FIM share (DIR, REPO@REV, FILE.jsonl)
    fim_share: float = 0.1  # share of all samples that are FIM samples (when --fim-data is given)
    seq_len: int = 2_048  # longest sample in tokens
    overlong: str = "drop"  # a longer conversation is dropped or truncated (counted either way)
    system: str | None = DEFAULT_SYSTEM_PROMPT  # used when a conversation has no system turn
    fim: FimConfig = field(default_factory=lambda: FimConfig(rate=1.0))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=5e-5, warmup_steps=100, weight_decay=0.0))

    def resolved(self) -> dict[str, Any]:
        data = config_dict(self)
        data["init_from"] = str(Path(self.init_from).resolve())
        data["data"] = [str(Path(p).resolve()) for p in self.data]
        return data


@dataclass
class Sample:
    ids: list[int]
    targets: list[bool]  # targets[i]: token i is trained on (predicted from i-1)


def conversation_sample(messages: list[ChatMessage], tokenizer, system: str | None) -> Sample:
    """Token IDs of ``chatml(messages)`` and which of them are assistant output."""
    text = chatml(messages, system=system, add_generation_prompt=False)
    spans = []
    for i, msg in enumerate(messages):
        if msg.role != "assistant":
            continue
        before = chatml(messages[:i], system=system, add_generation_prompt=False)
        head = f"{IM_START}{msg.role}\n"
        start = len(before) + len(head)
        end = start + len(msg.content) + len(IM_END)
        if not text.startswith(before + head) or text[end - len(IM_END):end] != IM_END:
            raise TrainingError("model.prompt.chatml changed shape: update training.sft's span rule")
        spans.append((start, end))
    ids, offsets = prompt_ids_and_offsets(tokenizer, text)  # as chat sends it: contents are text
    targets = [any(s <= a and b <= e for s, e in spans) for a, b in offsets]
    return Sample(ids, targets)


def fim_train_sample(text: str, lang: str, rng: random.Random, cfg: FimConfig, tokenizer, stats: Counter) -> Sample:
    """A FIM sample trained on its middle and EOS only."""
    prefix, middle, suffix = split_span(text, lang, rng, cfg, stats)
    ids = prompt_ids(tokenizer, fim_sample(prefix, middle, suffix, choose_mode(rng, cfg)))
    cut = ids.index(FIM_MIDDLE_ID) + 1
    return Sample(list(ids), [i >= cut for i in range(len(ids))])


def read_conversations(path: Path, stats: Counter) -> list[list[ChatMessage]]:
    out = []
    for msgs in json_records(path, "conversation", stats, _messages):
        if not msgs or any(m.role not in ROLES for m in msgs) or not any(m.role == "assistant" for m in msgs):
            stats["bad_records"] += 1
            continue
        out.append(msgs)
    return out


def _messages(record: dict) -> list[ChatMessage]:
    return [ChatMessage(str(m["role"]), str(m["content"])) for m in record["messages"]]


class SftBatches:
    """Samples padded per micro-batch (right padding, masked)."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def get(self, indices: list[int]):
        rows = [self.samples[i] for i in indices]
        return pad_batch([s.ids for s in rows], [s.targets for s in rows], ENDOFTEXT_ID)


def build_samples(cfg: SftConfig, tokenizer, log: Callable[[str], None]) -> tuple[list[Sample], Counter]:
    """Conversation samples plus the FIM share, in a seeded order; counts of what was dropped."""
    stats: Counter = Counter()
    samples = []
    for path in cfg.data:
        for msgs in read_conversations(Path(path), stats):
            s = conversation_sample(msgs, tokenizer, cfg.system)
            if len(s.ids) > cfg.seq_len:
                if cfg.overlong == "drop":
                    stats["overlong_dropped"] += 1
                    continue
                stats["overlong_truncated"] += 1
                s = Sample(s.ids[: cfg.seq_len], s.targets[: cfg.seq_len])
            if sum(s.targets[1:]):
                samples.append(s)
    stats["conversations"] = len(samples)
    if not samples:
        raise DataError(f"no usable conversations in {', '.join(cfg.data)} ({dict(stats)})")
    if cfg.fim_data and cfg.fim_share > 0:
        samples.extend(_fim_samples(cfg, tokenizer, len(samples), stats))
    return samples, stats


def _fim_samples(cfg: SftConfig, tokenizer, n_chat: int, stats: Counter) -> list[Sample]:
    from training.data.filters import FilterChain, FilterConfig
    from training.data.pack import split_overlong
    from training.data.sources import iter_documents, parse_source

    if not 0 < cfg.fim_share < 1:
        raise DataError("--fim-share must be between 0 and 1")
    want = round(cfg.fim_share * n_chat / (1 - cfg.fim_share))
    rules = FilterChain(FilterConfig())
    docs = [d for spec in cfg.fim_data for d in iter_documents(parse_source("code", spec), stats) if rules.keep(d) and d.text]
    docs = list(split_overlong(iter(docs), tokenizer, cfg.seq_len, "split", stats))
    if not docs:
        raise DataError(f"--fim-data {', '.join(cfg.fim_data)} gave no usable code files")
    out = []
    for k in range(want):
        doc = docs[k % len(docs)]
        s = fim_train_sample(doc.text, doc.lang, random.Random((cfg.train.seed << 40) + k), cfg.fim, tokenizer, stats)
        if len(s.ids) <= cfg.seq_len and sum(s.targets[1:]):
            out.append(s)
    stats["fim_samples"] = len(out)
    return out


def run_sft(cfg: SftConfig, out: Path, *, resume: bool = False, stop_at: int | None = None,
            device: str | None = None, progress: bool = True,
            log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> FitResult:
    import torch

    from model.tokenizer import load_fast_tokenizer

    if cfg.overlong not in OVERLONG:
        raise TrainingError(f"--overlong must be one of {', '.join(OVERLONG)}")
    dist = Dist.setup(device)
    quiet_transformers()
    out = Path(out)
    tok = load_tokenizer(instruct=True)
    resolved = cfg.resolved()
    samples, stats = build_samples(cfg, load_fast_tokenizer(), log)
    last = prepare_out(out, resume) if dist.main else None
    dist.barrier()
    if not dist.main and resume:
        from training.checkpoint import latest_checkpoint

        last = latest_checkpoint(out)
    state = optim_state = base_meta = None
    if last is not None:
        ckpt = read_checkpoint(last)
        check_compatible(ckpt.meta, str(last), tokenizer_fp=tok.fingerprint, stage="sft", config=resolved)
        model = load_model(last)
        state = ckpt.state
        optim_state = torch.load(last / "optimizer.pt", map_location="cpu", weights_only=False)
        log(f"resuming from {last} (step {ckpt.step})")
    else:
        base_meta = check_base(Path(cfg.init_from), tok)
        model = load_model(Path(cfg.init_from))
    # An instruct model ends its turns with <|im_end|>; generation also stops at <|endoftext|>.
    model.config.eos_token_id = IM_END_ID
    if model.generation_config is not None:
        model.generation_config.eos_token_id = [IM_END_ID, ENDOFTEXT_ID]
    meta = write_run(out, "sft", tok, resolved, samples=dict(stats),
                     base={"path": resolved["init_from"], "meta": base_meta}) if dist.main else {}
    if dist.main:
        log(f"sft: {stats['conversations']} conversations, {stats.get('fim_samples', 0)} FIM samples ({dict(stats)})")
    save = checkpoint_writer(out, model, tok, meta, cfg.train.keep, log)
    try:
        return fit(model, SftBatches(samples), cfg.train, out=out, dist=dist, save=save, resume_state=state,
                   optimizer_state=optim_state, stop_at=stop_at, progress=progress, log=log)
    finally:
        dist.close()
