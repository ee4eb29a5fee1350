"""``model pull`` against a real HTTP server on loopback that speaks the hub's resolve API.

huggingface_hub resolves the file through ``HF_ENDPOINT``; the server serves HEAD metadata
(X-Repo-Commit, X-Linked-Etag = SHA-256, X-Linked-Size) and ranged GETs, and can drop the
connection part-way, so interruption, resume and verification are tested end to end.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF"
FILE = "qwen2.5-coder-0.5b-q8_0.gguf"
PAYLOAD = os.urandom(3 * 1024 * 1024 + 123)


class Hub(http.server.BaseHTTPRequestHandler):
    cut_after: int | None = None  # drop the connection after this many body bytes (once)
    payload = PAYLOAD
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    ranges: list[str] = []
    repo, file = REPO, FILE  # what it serves

    def log_message(self, *args):  # keep test output quiet
        pass

    def _known(self) -> bool:
        if self.path.split("?")[0] != f"/{self.repo}/resolve/main/{self.file}":
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.end_headers()
            return False
        return True

    def _meta_headers(self):
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", f'"{self.sha}"')
        self.send_header("X-Linked-Etag", f'"{self.sha}"')
        self.send_header("X-Linked-Size", str(len(self.payload)))
        self.send_header("Accept-Ranges", "bytes")

    def do_HEAD(self):
        if not self._known():
            return
        self.send_response(200)
        self._meta_headers()
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()

    def do_GET(self):
        if not self._known():
            return
        start = 0
        rng = self.headers.get("Range")
        Hub.ranges.append(rng or "")
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/{len(self.payload)}")
        else:
            self.send_response(200)
        self._meta_headers()
        body = self.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if Hub.cut_after is not None:
            self.wfile.write(body[: Hub.cut_after])
            self.wfile.flush()
            Hub.cut_after = None
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture()
def hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Hub.ranges = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def pull(endpoint: str, models: Path, name: str = "qwen2.5-coder-0.5b") -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_ENDPOINT=endpoint, QWENPAIR_MODELS_DIR=str(models), HF_HUB_DISABLE_XET="1")
    env.pop("HF_HUB_OFFLINE", None)
    return subprocess.run(
        [sys.executable, "-m", "qwenpair", "model", "pull", name],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_interrupted_download_resumes_and_never_leaves_a_half_file(hub, tmp_path):
    target = tmp_path / "qwen2.5-coder-0.5b" / FILE
    Hub.cut_after = 1024 * 1024 + 7
    first = pull(hub, tmp_path)
    assert first.returncode == 2, first.stderr
    assert "again to resume" in first.stderr
    assert not target.exists()  # nothing under the final name
    part = target.with_name(FILE + ".part")
    assert part.stat().st_size == 1024 * 1024 + 7

    second = pull(hub, tmp_path)
    assert second.returncode == 0, second.stderr
    assert Hub.ranges[-1] == f"bytes={1024 * 1024 + 7}-"  # it resumed, not restarted
    assert target.read_bytes() == PAYLOAD
    assert not part.exists()

    third = pull(hub, tmp_path)
    assert third.returncode == 0 and "already present" in third.stdout


def test_a_corrupt_download_is_removed(hub, tmp_path):
    Hub.sha = hashlib.sha256(b"something else").hexdigest()
    try:
        out = pull(hub, tmp_path)
    finally:
        Hub.sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert out.returncode == 2 and "SHA-256" in out.stderr
    assert not any((tmp_path / "qwen2.5-coder-0.5b").iterdir())


def test_no_network_fails_at_once_naming_the_file_and_where_to_put_it(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = pull(f"http://127.0.0.1:{port}", tmp_path)
    assert out.returncode == 2
    assert f"{REPO}/resolve/main/{FILE}" in out.stderr
    assert str(tmp_path / "qwen2.5-coder-0.5b" / FILE) in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_name_lists_valid_ones(tmp_path):
    out = pull("http://127.0.0.1:9", tmp_path, name="qwen9-coder")
    assert out.returncode == 2 and "qwen2.5-coder-1.5b-instruct" in out.stderr
