"""Fixtures for the training tests: a small fixed corpus and the shards built from it.

The corpus is generated code (deterministic), the sample repository of tests/data, and the
files the path rules must keep out (a .gitignore'd file, a .env, a non-UTF-8 file) plus an
exact and a near duplicate. Shards use 64-token rows so the tiny model trains in seconds on
two cores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SAMPLE_REPO = Path(__file__).resolve().parents[1] / "data" / "sample_repo"
SEQ_LEN = 64


def module_source(i: int) -> str:
    """A small, plausible Python module; each i gives different names and bodies."""
    name = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "zeta", "lambda_"][i % 10]
    return (
        f'"""Helpers for the {name} stage, number {i}."""\n\n'
        f"import math\n\n\n"
        f"def {name}_scale(values, factor={i + 2}):\n"
        f"    \"\"\"Multiply every value by the factor.\"\"\"\n"
        f"    return [v * factor for v in values]\n\n\n"
        f"def {name}_norm_{i}(values):\n"
        f"    total = sum(v * v for v in values)\n"
        f"    return math.sqrt(total) + {i}\n\n\n"
        f"class {name.capitalize().rstrip('_')}Counter{i}:\n"
        f"    def __init__(self):\n"
        f"        self.count = {i}\n\n"
        f"    def bump(self, step=1):\n"
        f"        self.count += step * {i + 1}\n"
        f"        return self.count\n"
    )


def make_corpus(root: Path, n_modules: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    pkg = root / "pkg"
    pkg.mkdir()
    for i in range(n_modules):
        (pkg / f"mod_{i:02d}.py").write_text(module_source(i))
    shutil.copytree(SAMPLE_REPO / "geometry", root / "geometry")
    (root / ".gitignore").write_text("ignored.py\n")
    (root / "ignored.py").write_text(module_source(99).replace("Helpers", "Ignored helpers"))
    (root / ".env").write_text("API_KEY=do-not-train-on-me\n")
    (root / "latin1.py").write_bytes("# caf\xe9 au lait, a comment with enough words in it\nx = 1\n".encode("latin-1"))
    (root / "copy_of_mod_00.py").write_text(module_source(0))  # exact duplicate
    near = module_source(1).replace("Multiply every value by the factor.", "Multiply each value by the factor.")
    (root / "near_mod_01.py").write_text(near)  # near duplicate
    return root


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus") / "demo_repo")


@pytest.fixture(scope="session")
def shards(tmp_path_factory, corpus):
    """File-level shards of the corpus (64-token rows): (data dir, DataResult)."""
    from training.data.pack import PackConfig
    from training.data.pipeline import DataConfig, run_data

    out = tmp_path_factory.mktemp("shards")
    result = run_data(DataConfig(code=(str(corpus),), pack=PackConfig(seq_len=SEQ_LEN, buffer=4), rows_per_shard=8),
                      out, progress=False, log=lambda m: None)
    return out, result
