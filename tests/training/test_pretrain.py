"""Pretraining on the tiny shape: loss goes down, artifacts carry their provenance, resume is
exact, a kill during a checkpoint write loses nothing, two gloo processes match one, and
stage 2 (repo-level, RoPE 1M, YaRN) continues from stage 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model.prompt import PROMPT_FORMAT_VERSION
from training.checkpoint import latest_checkpoint, read_checkpoint
from training.errors import MismatchError, TrainingError
from training.loop import TrainConfig, lr_at, read_metrics
from training.pretrain import PretrainConfig, run_pretrain

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = 6


def train_cfg(**kw) -> TrainConfig:
    base = dict(lr=1e-2, warmup_steps=1, max_steps=STEPS, micro_batch=2, grad_accum=2, save_every=2, keep=3)
    return TrainConfig(**{**base, **kw})


def quiet(_msg: str) -> None:
    pass


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, shards):
    """An uninterrupted 6-step run on the session shards."""
    data, _ = shards
    out = tmp_path_factory.mktemp("pretrain_full")
    result = run_pretrain(PretrainConfig(data=str(data), train=train_cfg()), out, progress=False, log=quiet)
    return data, out, result


def test_loss_decreases_and_artifacts_describe_the_run(full_run):
    data, out, result = full_run
    losses = result.losses
    assert len(losses) == STEPS and losses[-1] < losses[0] - 0.2, losses
    assert [m["loss"] for m in read_metrics(out)] == losses
    last = latest_checkpoint(out)
    assert last.name == "step-00000006" and (out / "checkpoints" / "LATEST").read_text().strip() == last.name
    ckpt = read_checkpoint(last)
    assert ckpt.meta["stage"] == "pretrain" and ckpt.meta["prompt_format_version"] == PROMPT_FORMAT_VERSION
    assert ckpt.meta["config"]["train"]["lr"] == 1e-2 and ckpt.meta["config"]["data"] == str(Path(data).resolve())
    assert ckpt.state["samples_seen"] == STEPS * 4 and ckpt.state["step"] == STEPS
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "optimizer.pt"):
        assert (last / name).is_file(), name
    config = json.loads((last / "config.json").read_text())
    theta = config.get("rope_parameters", {}).get("rope_theta", config.get("rope_theta"))
    assert theta == 10_000.0
    assert json.loads((out / "run.json").read_text())["tokenizer_fingerprint"] == ckpt.meta["tokenizer_fingerprint"]


def test_cosine_schedule_with_warmup():
    cfg = TrainConfig(lr=1.0, min_lr_ratio=0.1, warmup_steps=10, max_steps=110)
    assert lr_at(0, cfg) == pytest.approx(0.1) and lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(60, cfg) == pytest.approx(0.55) and lr_at(110, cfg) == pytest.approx(0.1)


def test_resume_is_exact(full_run, tmp_path):
    import torch
    from safetensors.torch import load_file

    data, full, result = full_run
    cfg = PretrainConfig(data=str(data), train=train_cfg())
    first = run_pretrain(cfg, tmp_path, stop_at=STEPS // 2, progress=False, log=quiet)
    second = run_pretrain(cfg, tmp_path, resume=True, progress=False, log=quiet)
    assert first.losses + second.losses == result.losses
    assert [m["loss"] for m in read_metrics(tmp_path)] == result.losses
    a = load_file(full / "checkpoints" / "step-00000006" / "model.safetensors")
    b = load_file(tmp_path / "checkpoints" / "step-00000006" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_changed_config_and_a_run_is_never_overwritten(full_run):
    data, out, _ = full_run
    with pytest.raises(MismatchError, match=r"train.lr: 0.01 -> 0.02"):
        run_pretrain(PretrainConfig(data=str(data), train=train_cfg(lr=2e-2)), out, resume=True, progress=False, log=quiet)
    with pytest.raises(TrainingError, match="already holds checkpoints"):
        run_pretrain(PretrainConfig(data=str(data), train=train_cfg()), out, progress=False, log=quiet)


def test_loading_refuses_another_prompt_format_or_tokenizer(full_run, tmp_path):
    from training.runs import check_base, load_tokenizer

    data, out, _ = full_run
    tok = load_tokenizer()
    for field, value, message in (("prompt_format_version", PROMPT_FORMAT_VERSION + 1, "prompt format version"),
                                  ("tokenizer_fingerprint", "0" * 16, "different tokenizer")):
        ckpt = tmp_path / field
        shutil.copytree(latest_checkpoint(out), ckpt)
        meta = json.loads((ckpt / "qwenpair.json").read_text())
        meta[field] = value
        (ckpt / "qwenpair.json").write_text(json.dumps(meta))
        with pytest.raises(MismatchError, match=message):
            check_base(ckpt, tok)
    bad_data = tmp_path / "shards"
    shutil.copytree(data, bad_data)
    manifest = json.loads((bad_data / "manifest.json").read_text())
    manifest["tokenizer"]["fingerprint"] = "f" * 16
    (bad_data / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(MismatchError, match="different tokenizer"):
        run_pretrain(PretrainConfig(data=str(bad_data), train=train_cfg()), tmp_path / "o", progress=False, log=quiet)


def cli(*args: str, env: dict | None = None, torchrun: int = 0) -> subprocess.CompletedProcess:
    prefix = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={torchrun}", "-m", "qwenpair"] \
        if torchrun else [sys.executable, "-m", "qwenpair"]
    return subprocess.run([*prefix, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def pretrain_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "pretrain", "--data", str(data), "--out", str(out), "--lr", "1e-2", "--warmup-steps", "1",
            "--max-steps", str(STEPS), "--micro-batch", "2", "--grad-accum", "2", "--save-every", "2", "--keep", "3",
            "--quiet", *extra]


def test_a_kill_during_a_checkpoint_write_keeps_the_previous_one(full_run, tmp_path):
    data, _, result = full_run
    out = tmp_path / "run"
    killed = cli(*pretrain_args(data, out), env={"QWENPAIR_FAULT": "checkpoint:4"})
    assert killed.returncode == -9, killed.stderr  # SIGKILL halfway through writing step 4
    partial = list((out / "checkpoints").glob(".tmp-step-00000004-*"))
    assert partial and (partial[0] / "model.safetensors").is_file() and not (partial[0] / "qwenpair.json").exists()
    assert latest_checkpoint(out).name == "step-00000002"
    resumed = run_pretrain(PretrainConfig(data=str(data), train=train_cfg()), out, resume=True, progress=False, log=quiet)
    assert resumed.losses == result.losses[2:]
    assert not list((out / "checkpoints").glob(".tmp-*"))


def test_two_gloo_processes_match_one_process_with_accumulation(full_run, tmp_path):
    data, _, result = full_run
    # 2 processes x micro-batch 2 see the same samples per step as 1 process x 2 micro-batches.
    proc = cli("train", "pretrain", "--data", str(data), "--out", str(tmp_path), "--lr", "1e-2", "--warmup-steps", "1",
               "--max-steps", str(STEPS), "--micro-batch", "2", "--grad-accum", "1", "--save-every", "2",
               "--stop-at", "2", "--json", "--quiet", torchrun=2)
    assert proc.returncode == 0, proc.stderr
    losses = json.loads(proc.stdout)["losses"]
    assert losses == pytest.approx(result.losses[:2], rel=1e-4)
    ckpt = read_checkpoint(latest_checkpoint(tmp_path))
    assert ckpt.step == 2 and ckpt.state["samples_seen"] == 8


def test_stage_two_repo_level_continues_with_rope_1m_and_yarn(full_run, tmp_path, corpus):
    from training.data.pack import PackConfig
    from training.data.pipeline import DataConfig, run_data

    _, stage1, _ = full_run
    repo_data = tmp_path / "repo_shards"
    run_data(DataConfig(code=(str(corpus),), level="repo", pack=PackConfig(seq_len=128, buffer=4), rows_per_shard=8),
             repo_data, progress=False, log=quiet)
    cfg = PretrainConfig(data=str(repo_data), stage="repo", init_from=str(latest_checkpoint(stage1)), yarn_factor=2.0,
                         train=train_cfg(max_steps=5, grad_accum=1))
    result = run_pretrain(cfg, tmp_path / "stage2", progress=False, log=quiet)
    assert result.losses[-1] < result.losses[0], result.losses
    config = json.loads((latest_checkpoint(tmp_path / "stage2") / "config.json").read_text())
    rope = config.get("rope_parameters") or {"rope_theta": config["rope_theta"], **(config.get("rope_scaling") or {})}
    assert rope["rope_theta"] == 1_000_000.0 and rope["rope_type"] == "yarn" and rope["factor"] == 2.0
    assert rope["original_max_position_embeddings"] == 64 and config["max_position_embeddings"] == 128
    meta = read_checkpoint(latest_checkpoint(tmp_path / "stage2")).meta
    assert meta["base"]["meta"]["stage"] == "pretrain" and meta["config"]["stage"] == "repo"


CHECKPOINT_DISK_FULL = """
import resource, sys
from training.errors import OutOfSpace
from training.loop import TrainConfig
from training.pretrain import PretrainConfig, run_pretrain

def log(message):  # once the first checkpoint is saved, no file may grow past 1 MB
    if message.startswith("saved"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

cfg = TrainConfig(lr=1e-2, warmup_steps=1, max_steps=4, micro_batch=2, grad_accum=1, save_every=2)
try:
    run_pretrain(PretrainConfig(data=sys.argv[1], train=cfg), sys.argv[2], progress=False, log=log)
except OutOfSpace as exc:
    print(exc)
    sys.exit(3)
"""


def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_one(full_run, tmp_path):
    data, _, _ = full_run
    script = tmp_path / "disk_full.py"
    script.write_text(CHECKPOINT_DISK_FULL)
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(script), str(data), str(out)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 3, proc.stderr
    assert "previous checkpoint is intact" in proc.stdout
    assert latest_checkpoint(out).name == "step-00000002"
    assert not list((out / "checkpoints").glob(".tmp-*")) and not (out / "checkpoints" / "step-00000004").exists()
