"""End to end on the tiny model, on CPU: git history -> next-edit samples -> LoRA (--task nes)
-> export -> hot-swap into llama.cpp. The held-out next-edit loss falls; ``eval nes --adapter``
runs the same held-out commits before and after swapping the adapter into the running model.

The commands run as a user types them (subprocesses); the history is tests/training/history_repo.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.history_repo import make_history

REPO_ROOT = Path(__file__).resolve().parents[2]


def qwenpair(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qwenpair", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    """(history, run folder, the command's JSON result, exported adapter)."""
    root = tmp_path_factory.mktemp("lora-nes")
    history = make_history(root / "proj")
    out = root / "run"
    done = qwenpair("train", "lora", "--task", "nes", "--repo", str(history), "--base", str(tiny_model.hf_dir),
                    "--out", str(out), "--max-steps", "8", "--eval-every", "4", "--warmup-steps", "1", "--lr", "0.02",
                    "--max-tokens", "1024", "--nes-heldout-share", "0.25", "--nes-max-files", "6", "--dropout", "0",
                    "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    done = qwenpair("train", "lora-export", "--adapter", str(out), "--out", str(root / "export"), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    return history, out, result, Path(json.loads(done.stdout)["adapter"])


def test_held_out_next_edit_loss_falls(run):
    history, out, result, _ = run
    losses = [h["heldout_loss"] for h in result["heldout_loss"]]
    assert result["task"] == "nes" and result["steps"] == 8
    assert losses[-1] < losses[0] - 0.02, losses
    split = json.loads((out / "run.json").read_text())["split"]
    assert split["task"] == "nes" and split["heldout_commits"]
    assert split["heldout_files"] == ["pkg/m0.py", "pkg/m1.py", "pkg/m2.py", "side.py"]  # changed since the cut
    assert result["heldout_samples"] >= 1 and result["train_samples"] >= 8


def test_the_exported_adapter_records_its_held_out_commits_and_hot_swaps(tiny_model, run):
    from model.backends.base import GenerationRequest
    from model.backends.llama_cpp import LlamaCppBackend
    from training.lora_config import NesSampleConfig
    from training.nes_samples import build_nes_samples

    history, out, _, adapter = run
    meta = json.loads((adapter.parent / "meta.json").read_text())
    assert meta["hyperparameters"]["task"] == "nes"
    held = set(meta["hyperparameters"]["heldout_commits"])
    samples = build_nes_samples(history, NesSampleConfig(heldout_share=0.25, max_files_per_commit=6, max_tokens=1024))
    assert held == set(samples.heldout_commits)
    sample = samples.heldout[0]
    backend = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=2048, n_threads=2)
    try:
        request = GenerationRequest(sample.prompt, max_tokens=8)
        before = backend.generate(request)
        backend.set_adapter(adapter)  # the server's hot-swap: no reload
        after = backend.generate(request)
        assert after.logprobs != pytest.approx(before.logprobs, abs=1e-3)
    finally:
        backend.close()


def test_eval_nes_reports_before_and_after_on_the_held_out_commits(tiny_model, run):
    history, _, _, adapter = run
    done = qwenpair("eval", "nes", "--repo", str(history), "--model", str(tiny_model.gguf_f16), "--adapter",
                    str(adapter), "--threads", "2", "--n-ctx", "2048", "--cases", "2", "--time-cap", "10", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    held = set(json.loads((adapter.parent / "meta.json").read_text())["hyperparameters"]["heldout_commits"])
    assert report["cases"] == report["after"]["cases"] == 2
    assert {r["commit"] for r in report["rows"]} <= {c[:12] for c in held}
    assert set(report["delta"]) == {"exact_match", "edit_precision", "edit_recall", "no_suggestion_rate"}


def test_both_tasks_in_one_adapter_hold_out_the_files_changed_since_the_cut(tiny_model, tmp_path):
    """--task both: next-edit and FIM samples together; the FIM side's held-out files are the
    files whose text changed after the next-edit cut, so no training sample reads later text."""
    from tests.training.test_lora import SAMPLES
    from training.lora import lora_samples
    from training.lora_config import LoraConfig, NesSampleConfig
    from training.nes_samples import build_nes_samples

    history = make_history(tmp_path / "proj")
    nes = NesSampleConfig(heldout_share=0.25, max_files_per_commit=6, max_tokens=1024)
    cfg = LoraConfig(base=str(tiny_model.hf_dir), repo=str(history), task="both", samples=SAMPLES, nes=nes)
    data = lora_samples(cfg, log=lambda m: None)
    alone = build_nes_samples(history, nes)
    assert data.split["heldout_commits"] == alone.heldout_commits
    assert data.split["heldout_files"] == ["pkg/m0.py", "pkg/m1.py", "pkg/m2.py"]  # side.py is too small to use
    assert set(data.split["heldout_files"]) <= set(alone.changed_since)
    assert not set(data.split["train_files"]) & set(alone.changed_since)
    fim_train = [s for s in data.train if hasattr(s, "span")]
    assert fim_train and all(s.span.path in data.split["train_files"] for s in fim_train)
    assert len(data.train) == len(fim_train) + len(alone.train)
    assert data.stats["nes"]["train_samples"] == len(alone.train) and "fim" in data.stats
    with pytest.raises(Exception, match="--task must be one of fim, nes, both"):
        import dataclasses

        lora_samples(dataclasses.replace(cfg, task="other"), log=lambda m: None)


def test_eval_repo_completes_the_files_changed_since_the_cut_before_and_after(tiny_model, run, tmp_path):
    history, _, _, adapter = run
    done = qwenpair("eval", "repo", "--repo", str(history), "--model", str(tiny_model.gguf_f16), "--adapter",
                    str(adapter), "--positions", "2", "--threads", "2", "--out", str(tmp_path / "report"), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["before"]["n"] == report["after"]["n"] == 2
    assert {r["path"] for r in report["after"]["rows"]} <= {"pkg/m0.py", "pkg/m1.py", "pkg/m2.py"}
