"""``train data`` end to end: shards and manifest, reruns, bad input (empty corpus, invalid
UTF-8, over-long documents, a full disk mid-shard), decontamination, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from model.prompt import PROMPT_FORMAT_VERSION
from tests.training.conftest import SEQ_LEN, make_corpus, module_source
from training.data.pack import PAD_ID, PackConfig
from training.data.pipeline import DataConfig, run_data
from training.data.shards import Manifest, ShardSet, verify_shard
from training.errors import DataError, MismatchError

REPO_ROOT = Path(__file__).resolve().parents[2]


def config(corpus: Path, **kw) -> DataConfig:
    """The configuration of the session ``shards`` fixture (with changes)."""
    base = {"code": (str(corpus),), "pack": PackConfig(seq_len=SEQ_LEN, buffer=4), "rows_per_shard": 8}
    return DataConfig(**{**base, **kw})


def shas(data_dir: Path) -> list[str]:
    return [s.sha256 for s in Manifest.load(data_dir).shards]


def test_shards_manifest_and_report(shards, qwen_tokenizer):
    out, result = shards
    m = Manifest.load(out)
    assert m.complete and len(m.shards) >= 3 and m.seq_len == SEQ_LEN
    assert m.prompt_format_version == PROMPT_FORMAT_VERSION and len(m.tokenizer["fingerprint"]) == 16
    for info in m.shards:
        assert verify_shard(out, info, SEQ_LEN)
        assert (out / info.name).stat().st_size == info.rows * SEQ_LEN * 4
    r = result.report
    assert r["dedup"] == {"exact": 1, "near": 1}
    assert r["sources"]["code"]["invalid_utf8"] == 1
    assert r["sources"]["code"]["excluded: secret file"] == 1
    assert r["sources"]["code"]["excluded: ignored by .gitignore"] == 1
    assert r["samples"]["psm"] + r["samples"]["spm"] > 0 and r["samples"]["plain"] > 0
    rows = ShardSet(out).rows(range(len(ShardSet(out))))
    assert rows.shape == (m.rows, SEQ_LEN) and rows.max() < 151_665
    text = qwen_tokenizer.decode([int(t) for t in rows.ravel() if t != PAD_ID], skip_special_tokens=False)
    assert "do-not-train-on-me" not in text and "Ignored helpers" not in text and "caf" not in text
    assert "def alpha_scale" in text and "class Circle" in text
    assert json.loads((out / "report.json").read_text())["shards"] == len(m.shards)


def test_rerun_of_a_finished_set_changes_nothing(shards, corpus):
    out, _ = shards
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.bin")}
    logs = []
    run_data(config(corpus), out, progress=False, log=logs.append)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shard-*.bin")} == before
    assert "already complete" in logs[0]


def test_an_interrupted_run_keeps_its_shards_and_finishes_identically(tmp_path, shards, corpus):
    def stop_after_two(info):
        if info.name == "shard-00001.bin":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_data(config(corpus), tmp_path, progress=False, log=lambda m: None, on_shard=stop_after_two)
    assert len(Manifest.load(tmp_path).shards) == 2 and not Manifest.load(tmp_path).complete
    assert not list(tmp_path.glob(".tmp-*"))
    kept = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("shard-*.bin")}
    logs = []
    run_data(config(corpus), tmp_path, progress=False, log=logs.append)
    assert any("keeping 2 finished shards" in line for line in logs)
    assert shas(tmp_path) == shas(shards[0])
    assert all((tmp_path / n).stat().st_mtime_ns == t for n, t in kept.items() if n in ("shard-00000.bin", "shard-00001.bin"))


def test_changed_sources_or_config_are_refused(tmp_path):
    corpus = make_corpus(tmp_path / "demo_repo")
    out = tmp_path / "out"

    def stop(_info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_data(config(corpus), out, progress=False, log=lambda m: None, on_shard=stop)
    for f in corpus.rglob("*.py"):
        if f.name != "latin1.py":
            f.write_text(f.read_text() + "\n# edited\n")
    with pytest.raises(DataError, match="sources changed"):
        run_data(config(corpus), out, progress=False, log=lambda m: None)
    with pytest.raises(MismatchError, match=r"fim.rate: 0.5 -> 0.9"):
        run_data(config(corpus, fim=__import__("training.data.fim", fromlist=["FimConfig"]).FimConfig(rate=0.9)),
                 out, progress=False, log=lambda m: None)
    result = run_data(config(corpus), out, overwrite=True, progress=False, log=lambda m: None)
    assert result.manifest.complete


def test_an_empty_corpus_is_a_clear_error_and_writes_no_shards(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".env").write_text("SECRET=1\n")
    (empty / "bad.py").write_bytes(b"\xff\xfe\x00garbage")
    out = tmp_path / "out"
    with pytest.raises(DataError) as err:
        run_data(DataConfig(code=(str(empty),)), out, progress=False, log=lambda m: None)
    assert "nothing to train on" in str(err.value) and "excluded by the path rules" in str(err.value)
    assert not list(out.glob("shard-*")) and not (out / "manifest.json").exists()


def test_a_corpus_of_copies_keeps_one_copy(tmp_path):
    src = tmp_path / "copies"
    src.mkdir()
    for i in range(4):
        (src / f"copy_{i}.py").write_text(module_source(7))
    result = run_data(config(src), tmp_path / "out", progress=False, log=lambda m: None)
    assert result.report["dedup"]["exact"] == 3 and result.report["kept_documents"] == {"code": 1}


def test_overlong_documents_are_split_or_dropped_and_counted(tmp_path):
    src = tmp_path / "long"
    src.mkdir()
    (src / "long.py").write_text("".join(f"value_{i} = compute({i}, factor={i * 3})\n" for i in range(60)))
    (src / "short.py").write_text(module_source(3)[:150])
    split = run_data(config(src), tmp_path / "split", progress=False, log=lambda m: None).report
    assert split["overlong"]["overlong_docs_split"] == 1 and split["overlong"]["overlong_pieces"] >= 5
    drop = run_data(config(src, pack=PackConfig(seq_len=SEQ_LEN, buffer=4, overlong="drop")), tmp_path / "drop",
                    progress=False, log=lambda m: None).report
    assert drop["overlong"] == {"overlong_docs_dropped": 1} and drop["kept_documents"] == {"code": 2}
    assert drop["tokens"] < split["tokens"]


OUT_OF_DISK = textwrap.dedent("""
    import resource, sys
    from training.data.pack import PackConfig
    from training.data.pipeline import DataConfig, run_data
    from training.errors import OutOfSpace

    def full_disk(info):  # after the first shard, no file may grow past 1,500 bytes
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))

    try:
        run_data(DataConfig(code=(sys.argv[1],), pack=PackConfig(seq_len=64, buffer=4), rows_per_shard=8), sys.argv[2],
                 progress=False, log=lambda m: None, on_shard=full_disk)
    except OutOfSpace as exc:
        print(exc)
        sys.exit(3)
""")


def test_running_out_of_disk_mid_shard_leaves_no_corrupt_shard(tmp_path, shards, corpus):
    script = tmp_path / "full_disk.py"
    script.write_text(OUT_OF_DISK)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(script), str(corpus), str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "ran out of disk space" in proc.stdout and "nothing was left under that name" in proc.stdout
    m = Manifest.load(out)
    on_disk = sorted(p.name for p in out.glob("shard-*.bin"))
    assert on_disk == [s.name for s in m.shards] and len(on_disk) >= 1
    assert all(verify_shard(out, s, SEQ_LEN) for s in m.shards)
    assert not list(out.glob(".tmp-*"))
    run_data(config(corpus), out, progress=False, log=lambda m: None)  # with room again: it finishes
    assert shas(out) == shas(shards[0])


def test_decontamination_end_to_end(tmp_path, corpus):
    src = tmp_path / "src"
    shutil.copytree(corpus, src)
    (src / "leak.py").write_text(module_source(30) + "\n# Return the largest prime factor of n. Assume n > 1 and is not a prime.\n")
    bench = tmp_path / "HumanEval.jsonl"
    bench.write_text(json.dumps({"task_id": "HumanEval/59", "prompt": "def largest_prime_factor(n: int):\n"
                                 '    """Return the largest prime factor of n. Assume n > 1 and is not a prime.\n"""\n'}) + "\n")
    result = run_data(config(src, benchmarks=(str(bench),)), tmp_path / "out", progress=False, log=lambda m: None)
    assert result.report["decontamination"] == {"HumanEval.jsonl": 1}
    removed = [json.loads(line) for line in (tmp_path / "out" / "decontamination.jsonl").read_text().splitlines()]
    assert [(r["path"], r["record"]) for r in removed] == [("leak.py", "HumanEval/59")]


def test_cli_data_json_and_errors(tmp_path, corpus, capsys):
    from qwenpair.cli import main

    rc = main(["train", "data", "--out", str(tmp_path / "o"), "--code", str(corpus), "--seq-len", "64",
               "--rows-per-shard", "16", "--fim-span", "chars", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["shards"] >= 1 and report["samples"]["psm"] + report["samples"]["spm"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "data", "--out", str(tmp_path / "e"), "--code", str(empty)]) == 2
    assert "nothing to train on" in capsys.readouterr().err
    assert main(["train", "data", "--out", str(tmp_path / "e"), "--code", str(tmp_path / "missing")]) == 2


def test_shard_rows_are_memmaps(shards):
    out, _ = shards
    s = ShardSet(out)
    s.rows([0])
    assert isinstance(s._maps[0], np.memmap)
