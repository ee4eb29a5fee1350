"""``eval repo``: held-out positions, the metrics, and the before/after report (JSON, table,
PNG) with the real engine on llama.cpp and the tiny model.

The "after" adapter here is a real GGUF LoRA with a strong random update (the report must
show a difference); the adapter trained by ``train lora`` goes through the same command in
tests/training/test_lora.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.adapter_meta import AdapterMeta, BaseModel
from model.lora_gguf import write_lora_gguf
from training.eval_repo import (
    EvalConfig,
    Position,
    edit_similarity,
    evaluate_repo,
    heldout_positions,
    normalize,
    score,
    table,
    write_report,
)
from training.lora_config import SampleConfig
from training.repo_samples import Span

SAMPLES = SampleConfig(context_tokens=96, max_tokens=192, per_file=2)
HELDOUT = ["pkg/mod_03.py", "pkg/mod_07.py"]


def test_edit_similarity_is_one_minus_normalised_levenshtein():
    assert edit_similarity("return x", "return x") == 1.0
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("", "abc") == 0.0
    assert normalize("\n  x = 1   \n    y = 2  \n") == "x = 1\n    y = 2"


def test_exact_match_and_syntax_validity_are_scored_on_the_filled_file(tmp_path):
    text = "def f(values):\n    return [v * 2 for v in values]\n"
    start = text.index("[v")
    pos = Position(Span("m.py", "line", start, text.index("]") + 1), text)
    right = score(pos, tmp_path, "[v * 2 for v in values]  ")
    assert right == {"exact_match": 1.0, "edit_similarity": 1.0, "syntax_valid": 1.0}
    broken = score(pos, tmp_path, "[v * 2 for v in")
    assert broken["exact_match"] == 0.0 and broken["syntax_valid"] == 0.0 and 0.5 < broken["edit_similarity"] < 1.0
    prose = Position(Span("notes.txt", "line", 0, 4), "text\n")
    assert score(prose, tmp_path, "text")["syntax_valid"] is None  # no parser: not counted


def test_positions_come_only_from_held_out_files_round_robin_by_kind(corpus):
    positions = heldout_positions(corpus, EvalConfig(positions=7, samples=SAMPLES), HELDOUT)
    assert len(positions) == 7 and {p.span.path for p in positions} <= set(HELDOUT)
    assert [p.span.kind for p in positions[:3]] == ["line", "api", "block"]
    for p in positions:
        assert p.text == (corpus / p.span.path).read_text() and p.text[p.span.start : p.span.end].strip()


@pytest.fixture(scope="module")
def strong_adapter(tiny_model, tmp_path_factory) -> Path:
    """A GGUF LoRA on every query projection, with meta.json naming the tiny base and the split."""
    cfg = json.loads((tiny_model.hf_dir / "config.json").read_text())
    rng = np.random.default_rng(7)
    hidden = cfg["hidden_size"]
    pairs = {f"blk.{i}.attn_q.weight": (rng.normal(size=(4, hidden)), 60 * rng.normal(size=(hidden, 4)))
             for i in range(cfg["num_hidden_layers"])}
    folder = tmp_path_factory.mktemp("adapter")
    path = write_lora_gguf(folder / "adapter.gguf", pairs, alpha=8.0)
    meta = AdapterMeta(base=BaseModel.from_hf_config("tiny", cfg), files={"adapter": "adapter.gguf"},
                       hyperparameters={"heldout_files": HELDOUT, "samples": {**SAMPLES.__dict__, "kinds": list(SAMPLES.kinds)}})
    (folder / "meta.json").write_text(json.dumps(meta.to_json()))
    return path


def test_the_report_has_before_and_after_as_json_table_and_png(corpus, tiny_model, strong_adapter, tmp_path):
    report = evaluate_repo(corpus, str(tiny_model.gguf), str(strong_adapter), EvalConfig(positions=6, threads=2))
    assert report["positions"] == 6 and report["engine"]["context_tokens"] == SAMPLES.context_tokens
    for run in ("before", "after"):
        r = report[run]
        assert r["n"] == 6 and set(r["by_kind"]) == {"line", "api", "block"}
        assert 0.0 <= r["exact_match"] <= r["edit_similarity"] + 1e-9 <= 1.0 + 1e-9
        assert r["latency_ms"]["p50"] <= r["latency_ms"]["p90"] <= r["latency_ms"]["p99"]
        assert {row["path"] for row in r["rows"]} <= set(HELDOUT)
    before = [row["completion"] for row in report["before"]["rows"]]
    after = [row["completion"] for row in report["after"]["rows"]]
    assert before != after  # the adapter was really applied for the second run
    assert report["delta"]["edit_similarity"] == pytest.approx(
        report["after"]["edit_similarity"] - report["before"]["edit_similarity"])

    paths = write_report(report, tmp_path / "report")
    assert json.loads(paths["json"].read_text())["after"]["n"] == 6
    text = paths["table"].read_text()
    assert text == table(report) and "exact_match" in text and "latency p90 (ms)" in text and "delta" in text
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == ["report.json", "report.png", "report.txt"]


def test_without_an_adapter_the_report_has_the_base_only(corpus, tiny_model, tmp_path):
    report = evaluate_repo(corpus, str(tiny_model.gguf), None, EvalConfig(positions=2, samples=SAMPLES, threads=2))
    assert "after" not in report and "delta" not in report and report["before"]["n"] == 2
    assert "after" not in table(report).splitlines()[1]
