"""The next-edit model's registry entry (``sweep-next-edit-1.5b``): its shape, and that
``qwenpair model pull`` fetches and verifies its published file. No download here: the hub is
a loopback server speaking the hub's resolve API (tests/model/test_download.py's), serving
random bytes under the entry's repository and file name."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from model import registry
from model.loader import local_path
from tests.model.test_download import PAYLOAD, Hub, pull

REPO = "sweepai/sweep-next-edit-1.5B"
FILE = "sweep-next-edit-1.5b.q8_0.v2.gguf"


class SweepHub(Hub):
    repo, file = REPO, FILE


@pytest.fixture()
def sweep_hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SweepHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_entry_is_a_qwen25_coder_15b_next_edit_model():
    spec = registry.get(registry.NEXT_EDIT_MODEL)
    assert spec.name == "sweep-next-edit-1.5b" and spec.role == "next edit" and spec.next_edit
    assert spec.shape is registry.SHAPES["1.5b"] and spec.prompt_format is registry.DEFAULT_FORMAT
    assert (spec.gguf_repo, spec.gguf_files, spec.default_quant) == (REPO, {"q8_0": FILE}, "q8_0")
    assert spec.tested_here is False  # never run here: no download in this project's tests
    assert not any(s.next_edit for s in registry.REGISTRY.values() if s is not spec)


def test_model_pull_fetches_the_entrys_file_and_checks_its_sha256(sweep_hub, tmp_path):
    target = tmp_path / "sweep-next-edit-1.5b" / FILE
    assert local_path(registry.get("sweep-next-edit-1.5b")).name == FILE
    SweepHub.sha = hashlib.sha256(b"not this file").hexdigest()
    try:
        bad = pull(sweep_hub, tmp_path, name="sweep-next-edit-1.5b")
    finally:
        SweepHub.sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert bad.returncode == 2 and "SHA-256" in bad.stderr and not target.exists()
    good = pull(sweep_hub, tmp_path, name="sweep-next-edit-1.5b")
    assert good.returncode == 0, good.stderr
    assert target.read_bytes() == PAYLOAD
