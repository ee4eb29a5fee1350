"""``qwenpair model pull`` into a read-only models directory (QWENPAIR_MODELS_DIR; issue 18
fault matrix: "read-only cache directory").

The pull must end with a message naming the directory and what to do, exit code 2, no
traceback, and leave the directory as it was: nothing half-written, an earlier file intact.
The hub is the real local HTTP server of test_faults_model.py; the read-only directory is a
read-only bind mount (as root, chmod does not stop writes), without root chmod 0555.
"""

from __future__ import annotations


import pytest
from test_faults_model import FILE, _clean_message, _pull, hub  # noqa: F401  (hub is a fixture)
from tests.read_only import read_only_view


@pytest.fixture()
def read_only_models(tmp_path):
    """A read-only models directory that already holds another model's file."""
    src, ro = tmp_path / "models-src", tmp_path / "models"
    (src / "qwen2.5-coder-0.5b").mkdir(parents=True)
    (src / "qwen2.5-coder-0.5b" / "earlier.gguf").write_bytes(b"GGUF earlier")
    with read_only_view(src, ro) as path:
        yield path


def _listing(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else None) for p in root.rglob("*"))


def test_pull_into_a_read_only_models_directory_says_so_and_writes_nothing(hub, read_only_models):  # noqa: F811
    before = _listing(read_only_models)
    proc = _pull(hub, read_only_models)
    _clean_message(proc)
    target = read_only_models / "qwen2.5-coder-0.5b"
    assert str(target) in proc.stderr, proc.stderr
    assert "QWENPAIR_MODELS_DIR" in proc.stderr, proc.stderr
    assert _listing(read_only_models) == before
    assert (target / "earlier.gguf").read_bytes() == b"GGUF earlier"
    assert not (target / FILE).exists()



def test_pull_whose_folders_cannot_be_made_in_a_read_only_directory(hub, read_only_models):  # noqa: F811
    before = _listing(read_only_models)
    models = read_only_models / "fresh"  # QWENPAIR_MODELS_DIR itself does not exist yet
    proc = _pull(hub, models)
    _clean_message(proc)
    assert f"cannot write into {models / 'qwen2.5-coder-0.5b'}" in proc.stderr, proc.stderr
    assert "QWENPAIR_MODELS_DIR" in proc.stderr
    assert _listing(read_only_models) == before
