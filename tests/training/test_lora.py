"""LoRA on a repository, end to end on the tiny model: samples with the server's prompts,
a few training steps whose held-out loss falls, resume, export to GGUF (adapter-only and
merged + Q8_0) that llama.cpp loads, a full disk during export, and the bad-input refusals.

The corpus is the training tests' fixture (tests/training/conftest.py): generated modules,
the sample repository, a .gitignore'd file and a .env holding a marker string.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.session import open_session
from model.backends.base import GenerationRequest
from model.backends.llama_cpp import LlamaCppBackend
from model.prompt import fim
from model.tokens import ENDOFTEXT_ID, FIM_MIDDLE
from training.errors import DataError, OutOfSpace, TrainingError
from training.loop import TrainConfig
from training.lora_config import LoraConfig, LoraSettings, SampleConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = SampleConfig(context_tokens=96, max_tokens=192, per_file=4)
SECRET = "do-not-train-on-me"  # in the corpus's .env
IGNORED = "Ignored helpers"  # in the corpus's .gitignore'd ignored.py


def config(tiny_model, corpus: Path, **train) -> LoraConfig:
    settings = dict(lr=2e-2, warmup_steps=1, max_steps=8, micro_batch=4, weight_decay=0.0, save_every=4)
    settings.update(train)
    return LoraConfig(base=str(tiny_model.hf_dir), repo=str(corpus),
                      lora=LoraSettings(r=8, alpha=16.0, dropout=0.0, qlora=True),
                      samples=SAMPLES, train=TrainConfig(**settings), eval_every=4, patience=3)


@pytest.fixture(scope="module")
def samples(corpus):
    from training.repo_samples import build_repo_samples

    return build_repo_samples(corpus, SAMPLES)


@pytest.fixture(scope="module")
def trained(tiny_model, corpus, tmp_path_factory):
    """A run stopped at step 4, then resumed to step 8: (out, first result, resumed result, log)."""
    from training.lora import run_lora

    out = tmp_path_factory.mktemp("lora") / "run"
    messages: list[str] = []
    first = run_lora(config(tiny_model, corpus), out, stop_at=4, progress=False, log=messages.append)
    resumed = run_lora(config(tiny_model, corpus), out, resume=True, progress=False, log=messages.append)
    return out, first, resumed, messages


# -- samples -------------------------------------------------------------------------------


def test_samples_are_the_servers_prompts_for_the_masked_span(tiny_model, corpus, samples):
    from training.repo_samples import masked_request

    backend = LlamaCppBackend(tiny_model.gguf, n_ctx=2048, n_threads=2)
    session = open_session(corpus, backend, config=SAMPLES.engine_config())
    try:
        for sample in samples.train[::25] + samples.heldout[::10]:
            text = (corpus / sample.span.path).read_text()
            request, middle = masked_request(corpus, text, sample.span)
            assert middle == sample.middle and middle.strip()
            session.engine.context.forget(request.path)
            prompt, _, _ = session.engine.build_prompt(request)
            assert prompt == sample.prompt  # llama.cpp's token counts size it the same way
            assert sample.prompt.count(FIM_MIDDLE) == 1
            assert sample.ids[-1] == ENDOFTEXT_ID and sample.n_prompt < len(sample.ids) - 1
            assert backend.tokenize(sample.prompt) == sample.ids[: sample.n_prompt]
    finally:
        session.close()
        backend.close()


def test_every_span_kind_is_drawn_and_held_out_files_are_separate(samples):
    kinds = {s.span.kind for s in samples.train} | {s.span.kind for s in samples.heldout}
    assert kinds == {"line", "api", "block"}
    assert not set(samples.train_files) & set(samples.heldout_files)
    assert {s.span.path for s in samples.heldout} <= set(samples.heldout_files)
    assert {s.span.path for s in samples.train} <= set(samples.train_files)
    block = next(s for s in samples.train if s.span.kind == "block")
    assert "\n" in block.middle and block.prompt.endswith(FIM_MIDDLE)  # the body starts on a fresh line


def test_ignored_and_secret_files_never_reach_a_sample(samples):
    every = samples.train + samples.heldout
    assert every
    for sample in every:
        assert SECRET not in sample.prompt + sample.middle
        assert IGNORED not in sample.prompt + sample.middle
    files = set(samples.train_files) | set(samples.heldout_files)
    assert ".env" not in files and "ignored.py" not in files
    assert samples.stats["skipped: secret file"] == 1 and samples.stats["skipped: ignored by .gitignore"] == 1


def test_recency_split_holds_out_the_newest_files(tmp_path):
    from training.repo_samples import split_files

    root = tmp_path / "repo"
    root.mkdir()

    def git(*args: str, when: int) -> None:
        env = {"GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000", "PATH": "/usr/bin:/bin",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr

    git("init", "-q", when=0)
    names = [f"m{i}.py" for i in range(8)]
    for i, name in enumerate(names):
        (root / name).write_text(f"x = {i}\n")
        git("add", name, when=1_700_000_000 + i)
        git("commit", "-q", "-m", name, when=1_700_000_000 + i)
    (root / "m2.py").write_text("x = 'changed last'\n")
    git("commit", "-q", "-am", "touch m2", when=1_800_000_000)
    train, held = split_files(root, names, SampleConfig(split="recency", heldout_share=0.25))
    assert held == ["m2.py", "m7.py"]  # the last changed, then the last added
    assert sorted(train + held) == names


def test_a_repository_too_small_gets_the_minimum(tmp_path):
    from training.repo_samples import MIN_FILES, build_repo_samples

    root = tmp_path / "small"
    root.mkdir()
    for i in range(2):
        (root / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    (root / ".env").write_text("SECRET=1\n")
    with pytest.raises(DataError, match=f"2 usable source file\\(s\\); LoRA training needs at least {MIN_FILES}"):
        build_repo_samples(root, SAMPLES)


# -- training ------------------------------------------------------------------------------


def test_a_few_steps_lower_the_held_out_loss(trained):
    out, first, resumed, _ = trained
    losses = [h["heldout_loss"] for h in resumed.history]
    assert [h["step"] for h in resumed.history] == [0, 4, 8]
    assert losses[-1] < losses[0] - 0.02, losses
    assert resumed.adapter == out / "adapter"
    meta = json.loads((out / "adapter" / "qwenpair.json").read_text())
    assert meta["heldout_loss"] == pytest.approx(min(losses[1:]))
    assert meta["base"]["shape"]["hidden"] == 64 and meta["prompt_format_version"] >= 1
    assert set(meta["split"]["heldout_files"]).isdisjoint(meta["split"]["train_files"])


def test_resume_continues_where_the_run_stopped(trained):
    out, first, resumed, messages = trained
    assert first.steps == 4 and resumed.steps == 8
    assert any("resuming from" in m and "step-00000004" in m for m in messages)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert resumed.history[:2] == first.history  # the history before the stop is carried over


def test_qlora_without_a_gpu_falls_back_to_lora_and_says_so(trained):
    import torch

    _, first, _, messages = trained
    if torch.cuda.is_available():  # a GPU build with bitsandbytes really uses 4 bits
        assert first.qlora or any("bitsandbytes" in m for m in messages)
    else:
        assert not first.qlora
        assert any("QLoRA needs a CUDA GPU" in m and "plain LoRA" in m for m in messages)


def test_resume_with_other_settings_is_refused(tiny_model, corpus, trained):
    from training.errors import MismatchError
    from training.lora import run_lora

    out = trained[0]
    with pytest.raises(MismatchError, match="lr"):
        run_lora(config(tiny_model, corpus, lr=1e-3), out, resume=True, progress=False, log=lambda m: None)


# -- export --------------------------------------------------------------------------------


def test_adapter_gguf_loads_in_llama_cpp_and_matches_the_merged_model(tiny_model, trained, tmp_path):
    from training.export_lora import export_adapter, export_merged

    out = trained[0]
    adapter = export_adapter(out, tmp_path / "export")
    merged = export_merged(out, tmp_path / "export", quants=("Q8_0",))
    meta = json.loads((tmp_path / "export" / "meta.json").read_text())
    assert meta["kind"] == "merged" and meta["files"] == {"F16": "model-f16.gguf", "Q8_0": "model-q8_0.gguf"}
    assert meta["eval"]["heldout_loss"] is not None and meta["hyperparameters"]["lora"]["r"] == 8

    request = GenerationRequest(fim("def add(a, b):\n    return ", "\n"), max_tokens=4, stop_ids=frozenset())
    base = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=256, n_threads=2)
    with_adapter = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=256, n_threads=2, lora_path=adapter)
    merged_f16 = LlamaCppBackend(merged["F16"], n_ctx=256, n_threads=2)
    merged_q8 = LlamaCppBackend(merged["Q8_0"], n_ctx=256, n_threads=2)
    try:
        a, b, c, d = (be.generate(request) for be in (base, with_adapter, merged_f16, merged_q8))
        assert b.logprobs != pytest.approx(a.logprobs, abs=1e-3)  # the adapter changes the model...
        assert b.logprobs == pytest.approx(c.logprobs, abs=2e-2)  # ...exactly as merging it does
        assert d.token_ids and merged_q8.base_model().shape == base.base_model().shape
    finally:
        for be in (base, with_adapter, merged_f16, merged_q8):
            be.close()


def test_a_full_disk_during_export_leaves_no_gguf_under_the_final_name(trained, tmp_path):
    """RLIMIT_FSIZE makes every write past 20 kB fail with EFBIG, as a full disk fails with ENOSPC."""
    out = tmp_path / "export"
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from training.errors import OutOfSpace
        from training.export_lora import export_adapter, export_merged
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        failed = 0
        for export in (export_adapter, export_merged):
            try:
                export(Path({str(trained[0])!r}), Path({str(out)!r}))
            except OutOfSpace as exc:
                print(exc)
                failed += 1
        sys.exit(3 if failed == 2 else 1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "ran out of disk space writing" in proc.stdout and "adapter.gguf" in proc.stdout
    assert "model-f16.gguf" in proc.stdout  # the merged model's scratch checkpoint did not fit either
    assert sorted(p.name for p in out.iterdir()) == []  # no GGUF, no meta.json, no temporary file
    assert OutOfSpace.user_facing


def test_cli_trains_exports_and_evaluates_before_and_after(tiny_model, corpus, tmp_path):
    """The commands as a user types them: two steps, export, then the before/after report."""
    run = tmp_path / "cli-run"
    cmd = [sys.executable, "-m", "qwenpair", "train", "lora", "--repo", str(corpus), "--base", str(tiny_model.hf_dir),
           "--out", str(run), "--max-steps", "2", "--eval-every", "1", "--warmup-steps", "1", "--lr", "0.02",
           "--context-tokens", "96", "--max-tokens", "192", "--samples-per-file", "2", "--kinds", "line",
           "--dropout", "0", "--json"]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["steps"] == 2 and result["adapter"] == str(run / "adapter")
    proc = subprocess.run([sys.executable, "-m", "qwenpair", "train", "lora-export", "--adapter", str(run),
                           "--out", str(tmp_path / "exp"), "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    adapter = Path(json.loads(proc.stdout)["adapter"])
    assert adapter.is_file()

    proc = subprocess.run([sys.executable, "-m", "qwenpair", "eval", "repo", "--repo", str(corpus), "--model",
                           str(tiny_model.gguf), "--adapter", str(adapter), "--positions", "3", "--threads", "2",
                           "--out", str(tmp_path / "report")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    heldout = json.loads((run / "run.json").read_text())["split"]["heldout_files"]
    assert report["before"]["n"] == report["after"]["n"] == 3
    assert {row["path"] for row in report["after"]["rows"]} <= set(heldout)  # the run's own held-out files
    assert "edit_similarity" in proc.stdout and (tmp_path / "report" / "report.png").is_file()


def test_cli_too_small_repository_is_one_clear_line(tiny_model, tmp_path):
    root = tmp_path / "tiny-repo"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "qwenpair", "train", "lora", "--repo", str(root), "--base",
                           str(tiny_model.hf_dir), "--out", str(tmp_path / "run")], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("qwenpair train: error:")
    assert "needs at least 4" in proc.stderr and "Traceback" not in proc.stderr


def test_early_stopping_when_the_held_out_loss_does_not_improve(tiny_model, corpus, tmp_path):
    """lr 0 leaves the adapter as initialised (B = 0): the held-out loss cannot improve."""
    import dataclasses

    from training.export_lora import export_adapter
    from training.lora import run_lora

    cfg = dataclasses.replace(config(tiny_model, corpus, lr=0.0, max_steps=50), eval_every=2, patience=2,
                              eval_samples=8)
    messages: list[str] = []
    result = run_lora(cfg, tmp_path / "run", progress=False, log=messages.append)
    assert result.stopped_early and result.steps == 4
    assert [h["step"] for h in result.history] == [0, 2, 4]
    assert len({round(h["heldout_loss"], 6) for h in result.history}) == 1
    assert any("early stop at step 4" in m for m in messages)
    assert result.adapter is None  # nothing better than the base model to keep
    with pytest.raises(TrainingError, match="not a trained adapter"):
        export_adapter(tmp_path / "run", tmp_path / "export")


def test_base_references_resolve_or_say_what_to_give(tiny_model):
    from training.lora import resolve_base

    assert resolve_base(str(tiny_model.hf_dir)) == (str(tiny_model.hf_dir.resolve()), "tiny-v1/hf")
    assert resolve_base("qwen2.5-coder-0.5b") == ("Qwen/Qwen2.5-Coder-0.5B", "qwen2.5-coder-0.5b")
    assert resolve_base("Qwen/Qwen2.5-Coder-7B") == ("Qwen/Qwen2.5-Coder-7B", "qwen2.5-coder-7b")
    with pytest.raises(TrainingError, match="neither a checkpoint folder nor a known model"):
        resolve_base("/no/such/checkpoint")
