"""``qwenpair train dpo --from-outcomes``: preference pairs from the local outcome store
(assistant/outcomes.py), the guards (the empty suggestion never chosen, a minimum pair count,
prompts whose text spells a control token), and a short preference fine-tune of an adapter on
the tiny model with trl that exports to a GGUF llama.cpp loads.

Real parts: the SQLite outcome store written through its own API, the server's FIM prompts
(``training.repo_samples`` builds them with the completion engine), trl, llama.cpp.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from assistant.outcomes import OutcomeStore, PreferencePair, Shown
from model.registry import DEFAULT_FORMAT
from tests.training.test_lora import SAMPLES
from training.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prompts(corpus):
    from training.repo_samples import build_repo_samples

    built = build_repo_samples(corpus, SAMPLES)
    return [(str(s.prompt), s.middle) for s in built.train[:12]]


def fill_store(path: Path, prompts, *, empty_accept: bool = False) -> None:
    """For each prompt: the right middle accepted, another text dismissed or typed over there."""
    store = OutcomeStore.open(path)
    try:
        t = 1_800_000_000.0
        for i, (prompt, middle) in enumerate(prompts):
            where = store.position_hash(store.file_hash(f"f{i}.py"), prompt[-200:], "")
            for j, (text, outcome) in enumerate(((middle, "accepted"), (f"wrong_{i}()", "dismissed"),
                                                 (f"other_{i}", "typed_over"))):
                sid = f"s{i}-{j}"
                store.record_shown(Shown(sid, t, "fim_line", "python", f"f{i}", where, text, 10.0, "tiny",
                                         prompt=prompt))
                store.record_outcome(sid, outcome, t + 1)
                t += 2
    finally:
        store.close()


def pair(prompt: str, chosen: str, rejected: str = "x = 2", kind: str = "fim_line") -> PreferencePair:
    return PreferencePair(prompt, chosen, rejected, kind, "python", "tiny", None, "a", "b", "p")


def test_pairs_are_accepted_against_dismissed_and_typed_over_with_the_servers_prompt(tmp_path, prompts):
    from training.outcome_pairs import OutcomeDpoConfig, read_outcome_pairs

    fill_store(tmp_path / "o.sqlite3", prompts)
    stats: Counter = Counter()
    rows = read_outcome_pairs(OutcomeDpoConfig(base="x", store=str(tmp_path / "o.sqlite3"), min_pairs=4),
                              DEFAULT_FORMAT, stats)
    assert stats["pairs"] == len(rows) == 2 * len(prompts)  # one dismissed and one typed over per place
    for row in rows:
        assert str(row["prompt"]) in {p for p, _ in prompts}
        ids = [i for _, i in row["prompt"].pieces if i is not None]
        assert ids and ids[0] == 151663  # <|repo_name|> as its control token, not as text
        assert row["chosen"].pieces[-1] == ("<|endoftext|>", 151643)
        assert row["chosen"].pieces[0][1] is None and row["rejected"].pieces[0][1] is None


def test_the_empty_suggestion_is_never_chosen_and_spelled_markers_are_refused(prompts):
    from training.outcome_pairs import outcome_rows

    prompt = next(p for p, _ in prompts if "\n<|file_sep|>" in p)  # with a context snippet
    stats: Counter = Counter()
    spelled = prompt.replace("<|fim_middle|>", "# <|fim_prefix|>\n<|fim_middle|>")  # a file spelling a marker
    mid_line = prompt.replace("\n<|file_sep|>", " <|file_sep|>", 1)
    rows = outcome_rows([pair(prompt, ""), pair(prompt, "   \n"), pair(prompt, "same", "same"), pair(spelled, "x = 1"),
                         pair(mid_line, "x = 1"), pair(prompt, "y", kind="next_edit"), pair(prompt, "x = 1"),
                         pair(prompt, "x = 1")], DEFAULT_FORMAT, ("fim_line", "fim_block"), stats)
    assert len(rows) == 1 and str(rows[0]["chosen"]) == "x = 1<|endoftext|>"
    assert stats["skipped: empty chosen"] == 2 and stats["skipped: identical sides"] == 1
    assert stats["skipped: prompt text spells a control token"] == 2
    assert stats["skipped: kind next_edit"] == 1 and stats["skipped: duplicate"] == 1


def test_too_few_pairs_say_how_many_and_what_a_pair_is(tmp_path, prompts):
    from training.outcome_pairs import OutcomeDpoConfig, read_outcome_pairs

    fill_store(tmp_path / "o.sqlite3", prompts[:2])
    with pytest.raises(DataError, match=r"4 usable preference pair\(s\).*needs at least 32 \(--min-pairs\)"):
        read_outcome_pairs(OutcomeDpoConfig(base="x", store=str(tmp_path / "o.sqlite3")), DEFAULT_FORMAT, Counter())
    with pytest.raises(DataError, match="no outcome store at"):
        read_outcome_pairs(OutcomeDpoConfig(base="x", store=str(tmp_path / "none.sqlite3")), DEFAULT_FORMAT, Counter())


def test_cli_fine_tunes_a_lora_runs_adapter_on_outcomes_and_it_exports(tiny_model, corpus, tmp_path, prompts):
    from model.backends.base import GenerationRequest
    from model.backends.llama_cpp import LlamaCppBackend
    from tests.training.test_lora import config
    from training.lora import run_lora

    start = tmp_path / "lora"
    run_lora(config(tiny_model, corpus, max_steps=2), start, progress=False, log=lambda m: None)
    store = tmp_path / "o.sqlite3"
    fill_store(store, prompts)
    out = tmp_path / "dpo"
    done = subprocess.run([sys.executable, "-m", "qwenpair", "train", "dpo", "--from-outcomes", "--store", str(store),
                           "--base", str(tiny_model.hf_dir), "--adapter", str(start), "--out", str(out),
                           "--max-steps", "3", "--lr", "0.01", "--warmup-steps", "1", "--micro-batch", "2",
                           "--min-pairs", "8", "--json"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["steps"] == 3 and result["adapter"] == str(out / "adapter")
    # near ln 2 (policy == reference at the start); from a trained adapter trl gives 0.688 here, not
    # exactly ln 2 (a fresh adapter gives it exactly: test below); the cause is not found yet
    assert result["heldout_loss"][0] == pytest.approx(0.6931, abs=0.01)
    meta = json.loads((out / "adapter" / "qwenpair.json").read_text())
    assert meta["samples"]["pairs"] == 24 and meta["split"]["start_adapter"] == str(start)
    assert meta["heldout_loss"] == result["heldout_loss"][-1]
    done = subprocess.run([sys.executable, "-m", "qwenpair", "train", "lora-export", "--adapter", str(out),
                           "--out", str(tmp_path / "exp"), "--json"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    gguf = json.loads(done.stdout)["adapter"]
    backend = LlamaCppBackend(tiny_model.gguf_f16, n_ctx=512, n_threads=2, lora_path=gguf)
    try:
        assert backend.generate(GenerationRequest("def f(x):\n", max_tokens=2)).token_ids
    finally:
        backend.close()


def test_cli_too_few_pairs_is_one_clear_line(tiny_model, tmp_path):
    done = subprocess.run([sys.executable, "-m", "qwenpair", "train", "dpo", "--from-outcomes", "--store",
                           str(tmp_path / "absent.sqlite3"), "--base", str(tiny_model.hf_dir), "--out",
                           str(tmp_path / "dpo")], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no outcome store at" in done.stderr.strip().splitlines()[-1]


def test_a_fresh_adapter_on_the_base_trains_against_the_base_itself(tiny_model, tmp_path, prompts):
    """No --adapter: a new LoRA on the base; trl's reference is the policy with the adapter off,
    so the held-out preference loss starts at ln 2 exactly (B = 0: policy and base agree)."""
    import math

    from training.loop import TrainConfig
    from training.lora_config import LoraSettings
    from training.outcome_pairs import OutcomeDpoConfig, run_outcome_dpo

    store = tmp_path / "o.sqlite3"
    fill_store(store, prompts)
    cfg = OutcomeDpoConfig(base=str(tiny_model.hf_dir), store=str(store), min_pairs=8,
                           lora=LoraSettings(r=4, alpha=8.0, dropout=0.0),
                           train=TrainConfig(lr=1e-2, warmup_steps=1, max_steps=2, micro_batch=2, save_every=50))
    history, adapter = run_outcome_dpo(cfg, tmp_path / "dpo", progress=False, log=lambda m: None)
    meta = json.loads((adapter / "qwenpair.json").read_text())
    assert meta["history"][0]["heldout_loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert meta["split"]["start_adapter"] is None and meta["step"] == 2
    assert (adapter / "adapter_model.safetensors").is_file()
