"""SFT (ChatML, assistant-only loss, FIM share) and DPO (trl, reference model) on the tiny
test model."""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from pathlib import Path

import pytest

from model.prompt import ChatMessage, chatml
from model.tokens import ENDOFTEXT, IM_END, IM_END_ID, ENDOFTEXT_ID
from training.checkpoint import latest_checkpoint, read_checkpoint
from training.data.fim import FimConfig
from training.errors import DataError, MismatchError
from training.loop import TrainConfig
from training.sft import SftConfig, conversation_sample, fim_train_sample, read_conversations, run_sft

CONVERSATIONS = [
    [ChatMessage("user", "Write a function that adds two numbers."), ChatMessage("assistant", "def add(a, b):\n    return a + b")],
    [ChatMessage("system", "You are terse."), ChatMessage("user", "Reverse a list in Python?"),
     ChatMessage("assistant", "xs[::-1]"), ChatMessage("user", "In place?"), ChatMessage("assistant", "xs.reverse()")],
    [ChatMessage("user", "What is 2+2?"), ChatMessage("assistant", "4")],
    [ChatMessage("user", "Name a sorting algorithm."), ChatMessage("assistant", "Merge sort: split, sort halves, merge.")],
]
PAIRS = [
    {"prompt": "Write a function that adds two numbers.", "chosen": "def add(a, b):\n    return a + b",
     "rejected": "def add(a, b):\n    return a - b"},
    {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
    {"prompt": [{"role": "user", "content": "Reverse a list?"}], "chosen": "xs[::-1]", "rejected": "xs.sort()"},
]


def quiet(_m: str) -> None:
    pass


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def conversations(tmp_path_factory) -> Path:
    rows = [{"messages": [{"role": m.role, "content": m.content} for m in conv]} for conv in CONVERSATIONS]
    path = tmp_path_factory.mktemp("sft") / "conversations.jsonl"
    write_jsonl(path, rows)
    with open(path, "a") as fh:
        fh.write("not json\n" + json.dumps({"messages": [{"role": "user", "content": "no reply"}]}) + "\n")
    return path


def test_only_assistant_turns_are_trained(qwen_tokenizer):
    for conv in CONVERSATIONS[:2]:
        sample = conversation_sample(conv, qwen_tokenizer, system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        assert qwen_tokenizer.decode(sample.ids, skip_special_tokens=False) == chatml(conv, add_generation_prompt=False)
        trained = [i for i, keep in zip(sample.ids, sample.targets) if keep]
        replies = [m.content + IM_END for m in conv if m.role == "assistant"]
        assert qwen_tokenizer.decode(trained, skip_special_tokens=False) == "".join(replies)
        assert trained.count(IM_END_ID) == len(replies)


def test_fim_samples_train_on_the_middle_only(qwen_tokenizer):
    text = "def add(a, b):\n    total = a + b\n    return total\n"
    s = fim_train_sample(text, "python", random.Random(3), FimConfig(rate=1.0), qwen_tokenizer, Counter())
    trained = qwen_tokenizer.decode([i for i, keep in zip(s.ids, s.targets) if keep], skip_special_tokens=False)
    assert trained.endswith(ENDOFTEXT) and trained[: -len(ENDOFTEXT)] in text and s.ids[-1] == ENDOFTEXT_ID


def test_bad_conversation_records_are_counted(conversations):
    stats = Counter()
    assert len(read_conversations(conversations, stats)) == 4 and stats["bad_records"] == 2


@pytest.mark.slow
def test_sft_runs_with_a_fim_share_and_makes_an_instruct_checkpoint(tmp_path, tiny_model, conversations, corpus):
    cfg = SftConfig(init_from=str(tiny_model.hf_dir), data=(str(conversations),), fim_data=(str(corpus),), fim_share=0.2,
                    seq_len=128, train=TrainConfig(lr=3e-3, warmup_steps=1, max_steps=6, micro_batch=2, save_every=6))
    result = run_sft(cfg, tmp_path, progress=False, log=quiet)
    assert result.losses[-1] < result.losses[0] - 0.2, result.losses
    ckpt = read_checkpoint(latest_checkpoint(tmp_path))
    assert ckpt.meta["stage"] == "sft" and ckpt.meta["samples"]["conversations"] == 4
    assert ckpt.meta["samples"]["fim_samples"] == 1  # 0.2 of 5 samples
    assert ckpt.meta["base"]["path"] == str(Path(tiny_model.hf_dir).resolve())
    assert json.loads((ckpt.path / "tokenizer_config.json").read_text())["eos_token"] == IM_END
    assert json.loads((ckpt.path / "generation_config.json").read_text())["eos_token_id"] == [IM_END_ID, ENDOFTEXT_ID]


def test_sft_overlong_conversations_are_dropped_and_nothing_left_is_an_error(tmp_path, tiny_model, conversations):
    cfg = SftConfig(init_from=str(tiny_model.hf_dir), data=(str(conversations),), seq_len=8,
                    train=TrainConfig(max_steps=1))
    with pytest.raises(DataError, match="overlong_dropped"):
        run_sft(cfg, tmp_path, progress=False, log=quiet)


# -- DPO ---------------------------------------------------------------------------------------


def test_preference_prompts_are_chatml(tmp_path):
    from training.dpo import read_pairs

    rows = read_pairs((str(write_jsonl(tmp_path / "pairs.jsonl", PAIRS)),), "SYS", Counter())
    assert rows[0]["prompt"] == chatml([ChatMessage("user", PAIRS[0]["prompt"])], system="SYS", add_generation_prompt=True)
    assert rows[0]["chosen"] == PAIRS[0]["chosen"] + IM_END and rows[2]["rejected"] == "xs.sort()" + IM_END


@pytest.mark.slow
def test_dpo_with_trl_lowers_the_loss_and_resumes_from_a_marked_checkpoint(tmp_path, tiny_model):
    from training.dpo import DpoConfig, latest_trainer_checkpoint, run_dpo

    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    cfg = DpoConfig(init_from=str(tiny_model.hf_dir), data=(str(pairs),), max_length=128,
                    train=TrainConfig(lr=2e-3, warmup_steps=1, max_steps=4, micro_batch=3, save_every=2, weight_decay=0.0))
    out = tmp_path / "dpo"
    run_dpo(cfg, out, stop_at=2, progress=False, log=quiet)
    marked = latest_trainer_checkpoint(out)
    assert marked is not None and marked.name == "checkpoint-2"
    with pytest.raises(MismatchError, match="beta"):
        run_dpo(DpoConfig(**{**cfg.__dict__, "beta": 0.2}), out, resume=True, progress=False, log=quiet)
    history, final = run_dpo(cfg, out, resume=True, progress=False, log=quiet)
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) == 4 and losses[0] == pytest.approx(math.log(2), abs=1e-3)
    assert losses[-1] < losses[0] - 0.02, losses
    meta = read_checkpoint(final).meta
    assert final.name == "step-00000004" and meta["stage"] == "dpo" and meta["config"]["beta"] == 0.1
