"""issue 18 fault matrix, training side: a full disk and a SIGKILL at a random moment while a
LoRA run writes its checkpoints and best adapter, and while ``qwenpair train lora-export``
writes the GGUF adapter.

Each case must leave the previous state usable (the previous checkpoint loads and
``--resume`` continues from it, the best adapter and an earlier export are unchanged, no
``.tmp-`` leftover survives the next run) and end with a message naming the path and the
space needed, a non-zero exit code and no traceback.

A full disk is a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) set in the child only:
writes past it fail with EFBIG where a full disk fails with ENOSPC. Runs use the tiny model
and the fastest LoRA settings of test_lora.py (a few steps, 2 CPU threads).
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = int(os.environ.get("QWENPAIR_FAULT_SEED", "18"))

# The run as a child process: 'first' stops at step 2, 'resume' goes on to step 4. A user-facing
# error is printed as the CLI prints it (qwenpair/cli.py) with exit code 2.
_RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    import torch
    torch.set_num_threads(2)
    from qwenpair.errors import is_user_facing
    from training.loop import TrainConfig
    from training.lora import run_lora
    from training.lora_config import LoraConfig, LoraSettings, SampleConfig
    base, repo, out, mode = sys.argv[1:5]
    cfg = LoraConfig(base=base, repo=repo, lora=LoraSettings(r=8, alpha=16.0, dropout=0.0, qlora=False),
                     samples=SampleConfig(context_tokens=96, max_tokens=192, per_file=2),
                     train=TrainConfig(lr=2e-2, warmup_steps=1, max_steps=4, micro_batch=4, weight_decay=0.0,
                                       save_every=2, keep=2),
                     eval_every=2, patience=3, eval_samples=8)
    try:
        result = run_lora(cfg, Path(out), resume=mode == "resume", stop_at=2 if mode == "first" else None,
                          progress=False, log=lambda m: None)
    except Exception as exc:
        if not is_user_facing(exc):
            raise
        print(f"qwenpair train: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(result.steps)
""")


def _limit_writes(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, like ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def _run_cmd(tiny_model, corpus: Path, out: Path, mode: str) -> list[str]:
    return [sys.executable, "-c", _RUN, str(tiny_model.hf_dir), str(corpus), str(out), mode]


def _run(tiny_model, corpus, out, mode, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(_run_cmd(tiny_model, corpus, out, mode), cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600, preexec_fn=preexec)


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def _usable(out: Path, min_step: int) -> int:
    """The run folder's newest checkpoint is complete and loads, the best adapter reads, and
    no leftover looks like a checkpoint; returns the checkpoint's step."""
    from training.checkpoint import latest_checkpoint, read_checkpoint
    from training.lora_checkpoint import read_adapter_meta

    last = latest_checkpoint(out)
    assert last is not None, "no complete checkpoint is left"
    ckpt = read_checkpoint(last)
    assert (last / "adapter_model.safetensors").is_file() and (last / "optimizer.pt").is_file()
    step = int(ckpt.meta["step"])
    assert step >= min_step
    names = sorted(p.name for p in (out / "checkpoints").iterdir() if not p.name.startswith(".tmp-"))
    assert all((out / "checkpoints" / n / "qwenpair.json").is_file() for n in names if n.startswith("step-")), names
    read_adapter_meta(out)
    return step


@pytest.fixture(scope="module")
def first_run(tiny_model, corpus, tmp_path_factory):
    """A run stopped at step 2: checkpoint step-2 and a best adapter - the previous state."""
    out = tmp_path_factory.mktemp("lora-faults") / "run"
    done = _run(tiny_model, corpus, out, "first")
    assert done.returncode == 0 and done.stdout.strip() == "2", done.stderr[-3000:]
    return out


def test_a_full_disk_during_a_lora_checkpoint_keeps_the_previous_one_and_resume_works(
        tiny_model, corpus, first_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    # 100 kB: the workspace index's updates and the adapter (69 kB) fit, the optimizer state
    # (150 kB) does not - the disk fills in the middle of the checkpoint folder.
    proc = _run(tiny_model, corpus, out, "resume", _limit_writes(100_000))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "ran out of disk space writing" in proc.stderr and str(out) in proc.stderr, proc.stderr
    assert "needs about" in proc.stderr and "free there" in proc.stderr, proc.stderr
    assert "--resume" in proc.stderr
    assert _usable(out, 2) == 2  # the previous checkpoint is still the newest complete one
    assert not [p for p in out.rglob(".tmp-*")], "a temporary folder was left"

    done = _run(tiny_model, corpus, out, "resume")  # room again: it resumes from step 2
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr[-3000:]
    assert _usable(out, 4) == 4


def test_a_lora_run_killed_at_random_moments_resumes_to_the_end(tiny_model, corpus, first_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    rng = random.Random(SEED)
    step = 2
    for _ in range(3):
        proc = subprocess.Popen(_run_cmd(tiny_model, corpus, out, "resume"), cwd=REPO_ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(3.0, 15.0))  # imports and model loading take part of this
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        step = _usable(out, step)  # never goes back, never broken (seed in QWENPAIR_FAULT_SEED)
    done = _run(tiny_model, corpus, out, "resume")
    if step == 4:  # a kill came after the end: nothing left to resume
        assert done.returncode == 2 and "already" in done.stderr or done.returncode == 0, done.stderr[-3000:]
    else:
        assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr[-3000:]
    assert _usable(out, 4) == 4
    assert not [p for p in out.rglob(".tmp-*")], "the finished run left a temporary folder"


def test_a_lora_run_killed_in_the_middle_of_a_checkpoint_resumes_from_the_previous_one(
        tiny_model, corpus, first_run, tmp_path):
    """The kill lands for sure between the weights and the record of step 4 (QWENPAIR_FAULT)."""
    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    cmd = _run_cmd(tiny_model, corpus, out, "resume")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, QWENPAIR_FAULT="checkpoint:4"))
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert [p.name for p in (out / "checkpoints").glob(".tmp-step-00000004-*")], "the kill was not mid-checkpoint"
    assert _usable(out, 2) == 2
    done = _run(tiny_model, corpus, out, "resume")
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr[-3000:]
    assert _usable(out, 4) == 4 and not [p for p in out.rglob(".tmp-*")]


def test_a_run_killed_between_the_renames_of_its_best_adapter_gets_it_back(first_run, tmp_path):
    """commit_dir moves the old adapter aside, then the new one in: a kill between the two
    leaves no ``adapter/``. The next reader puts the old one back."""
    from training.lora_checkpoint import read_adapter_meta

    out = tmp_path / "run"
    shutil.copytree(first_run, out)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.replace(out / "adapter", out / f".tmp-old-adapter-{dead.pid}")
    (out / f".tmp-adapter-{dead.pid}").mkdir()  # the new one, half written
    assert read_adapter_meta(out)["step"] == 2
    assert sorted(p.name for p in out.iterdir() if p.name.startswith((".tmp-", "adapter"))) == ["adapter"]


# -- lora-export ----------------------------------------------------------------------------


def _export(run: Path, out: Path, preexec=None, popen: bool = False):
    cmd = [sys.executable, "-m", "qwenpair", "train", "lora-export", "--adapter", str(run), "--out", str(out)]
    if popen:
        return subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, preexec_fn=preexec)


def test_lora_export_on_a_full_disk_or_killed_keeps_the_previous_export(first_run, tmp_path):
    out = tmp_path / "export"
    done = _export(first_run, out)
    assert done.returncode == 0, done.stderr[-3000:]
    before = _tree_digest(out)

    proc = _export(first_run, out, _limit_writes(20_000))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"ran out of disk space writing {out / 'adapter.gguf'}" in proc.stderr, proc.stderr
    assert "needs about" in proc.stderr and "free there" in proc.stderr, proc.stderr
    assert _tree_digest(out) == before  # the earlier export, its meta.json included, is unchanged

    rng = random.Random(SEED)
    for _ in range(2):
        proc = _export(first_run, out, popen=True)
        time.sleep(rng.uniform(1.0, 8.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if proc.returncode != 0:
            assert (out / "adapter.gguf").read_bytes()[:4] == b"GGUF"
    done = _export(first_run, out)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["adapter.gguf", "meta.json"]
