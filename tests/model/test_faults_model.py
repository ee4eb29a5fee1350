"""issue 18 fault matrix, model side: a full disk and a SIGKILL at a random moment during
``qwenpair model pull`` and during GGUF export, and a read-only cache directory for
``qwenpair index`` and ``qwenpair complete --show-prompt``.

Each case must leave the previous state usable (the earlier GGUF still loads, the bytes
already downloaded are kept and a second pull finishes them) and end with a message naming
the path and what to do, a non-zero exit code, no traceback and no hang.

A full disk is a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) set in the child only:
writes past it fail with EFBIG exactly where ENOSPC would. The hub is a real HTTP server on
127.0.0.1 speaking the resolve API (as in test_download.py); a slow variant lets a kill land
mid-stream. The read-only cache is a read-only bind mount (as root, chmod does not stop
writes); without root it is chmod 0555.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.read_only import read_only_view

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO = "ggml-org/Qwen2.5-Coder-0.5B-Q8_0-GGUF"
FILE = "qwen2.5-coder-0.5b-q8_0.gguf"
PAYLOAD = random.Random(18).randbytes(3 * 1024 * 1024 + 321)
SEED = int(os.environ.get("QWENPAIR_FAULT_SEED", "18"))


def _limit_writes(limit: int):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death, like ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def _clean_message(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


# -- model pull -----------------------------------------------------------------------------


class _Hub(http.server.BaseHTTPRequestHandler):
    delay = 0.0  # seconds between 64 kB blocks: a slow link so that a kill lands mid-stream
    sha = hashlib.sha256(PAYLOAD).hexdigest()

    def log_message(self, *args):
        pass

    def _head(self, status: int, body_len: int, start: int = 0) -> None:
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("ETag", f'"{self.sha}"')
        self.send_header("X-Linked-Etag", f'"{self.sha}"')
        self.send_header("X-Linked-Size", str(len(PAYLOAD)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(body_len))
        self.end_headers()

    def do_HEAD(self):
        self._head(200, len(PAYLOAD))

    def do_GET(self):
        rng = self.headers.get("Range")
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self._head(206 if rng else 200, len(PAYLOAD) - start, start)
        try:
            for i in range(start, len(PAYLOAD), 65536):
                self.wfile.write(PAYLOAD[i:i + 65536])
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):  # the client was killed
            pass


@pytest.fixture()
def hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hub.delay = 0.0
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _pull_cmd(endpoint: str, models: Path):
    env = dict(os.environ, HF_ENDPOINT=endpoint, QWENPAIR_MODELS_DIR=str(models), HF_HUB_DISABLE_XET="1")
    env.pop("HF_HUB_OFFLINE", None)
    return [sys.executable, "-m", "qwenpair", "model", "pull", "qwen2.5-coder-0.5b"], env


def _pull(endpoint: str, models: Path, preexec=None) -> subprocess.CompletedProcess:
    cmd, env = _pull_cmd(endpoint, models)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, preexec_fn=preexec)


def test_pull_on_a_full_disk_names_the_file_and_the_space_needed_and_resumes(hub, tmp_path):
    target = tmp_path / "qwen2.5-coder-0.5b" / FILE
    first = _pull(hub, tmp_path, _limit_writes(1024 * 1024))
    _clean_message(first)
    assert f"no room to download {FILE} into {target.parent}" in first.stderr, first.stderr
    assert "MB more" in first.stderr and "free there" in first.stderr and "again" in first.stderr
    assert not target.exists()  # nothing under the name the loader looks for
    part = target.with_name(FILE + ".part")
    assert part.stat().st_size == 1024 * 1024 and part.read_bytes() == PAYLOAD[: 1024 * 1024]

    second = _pull(hub, tmp_path)  # room again: it resumes and verifies
    assert second.returncode == 0, second.stderr[-3000:]
    assert target.read_bytes() == PAYLOAD and not part.exists()


def test_pull_killed_at_a_random_moment_leaves_no_final_file_and_a_rerun_completes(hub, tmp_path):
    rng = random.Random(SEED)
    target = tmp_path / "qwen2.5-coder-0.5b" / FILE
    _Hub.delay = 0.05  # 3 MB in ~2.5 s once connected
    cmd, env = _pull_cmd(hub, tmp_path)
    for _ in range(2):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.5, 4.0))  # start-up (imports) is part of the window
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if proc.returncode == 0:  # it finished before the kill: the final file is whole
            assert target.read_bytes() == PAYLOAD
            target.unlink()
            continue
        assert not target.exists(), f"seed {SEED}: a killed pull left {target}"
    _Hub.delay = 0.0
    done = _pull(hub, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in target.parent.iterdir()) == [FILE]


# -- GGUF export ----------------------------------------------------------------------------

_EXPORT = """
import sys
from pathlib import Path
from model.gguf_export import export_gguf
from qwenpair.errors import is_user_facing
try:
    export_gguf(Path(sys.argv[1]), Path(sys.argv[2]), name="fault-matrix")
except Exception as exc:
    if not is_user_facing(exc):
        raise
    print(exc, file=sys.stderr)
    sys.exit(2)
"""


def _export(hf_dir: Path, out: Path, preexec=None, popen: bool = False):
    cmd = [sys.executable, "-c", _EXPORT, str(hf_dir), str(out)]
    if popen:
        return subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, preexec_fn=preexec)


def _loads(gguf: Path) -> None:
    from model.backends.llama_cpp import LlamaCppBackend

    backend = LlamaCppBackend(gguf, n_ctx=256, n_threads=2)
    backend.close()


@pytest.fixture(scope="module")
def previous_export(tiny_model, tmp_path_factory):
    """An export that succeeded: the previous state every fault must leave usable."""
    out = tmp_path_factory.mktemp("export") / "model-f16.gguf"
    done = _export(tiny_model.hf_dir, out)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, hashlib.sha256(out.read_bytes()).hexdigest()


def test_gguf_export_on_a_full_disk_keeps_the_previous_file_and_says_what_is_needed(tiny_model, previous_export):
    out, digest = previous_export
    proc = _export(tiny_model.hf_dir, out, _limit_writes(256 * 1024))
    _clean_message(proc)
    assert f"ran out of disk space writing {out}" in proc.stderr, proc.stderr[-3000:]
    assert "needs about" in proc.stderr and "free" in proc.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest  # the previous export is untouched
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no temporary file left
    _loads(out)


def test_gguf_export_killed_at_a_random_moment_keeps_the_previous_file_and_a_rerun_completes(
        tiny_model, previous_export):
    out, digest = previous_export
    rng = random.Random(SEED)
    for _ in range(2):
        proc = _export(tiny_model.hf_dir, out, popen=True)
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        if proc.returncode != 0:
            assert hashlib.sha256(out.read_bytes()).hexdigest() == digest, f"seed {SEED}: the killed export replaced it"
    done = _export(tiny_model.hf_dir, out)  # the next run cleans the dead run's temporary file
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    _loads(out)


# -- a read-only cache directory ------------------------------------------------------------


@pytest.fixture()
def read_only_cache(tmp_path):
    """QWENPAIR_CACHE_DIR on a directory this process cannot write, holding the Qwen2
    vocabulary (``complete`` needs it; it only reads it)."""
    from model.paths import vocab_dir

    src = tmp_path / "cache-src"
    src.mkdir()
    if vocab_dir().is_dir():
        shutil.copytree(vocab_dir(), src / "vocab")
    with read_only_view(src, tmp_path / "cache") as path:
        yield path


def _qwenpair(args: list[str], cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QWENPAIR_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-m", "qwenpair", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_index_into_a_read_only_cache_names_the_directory_and_what_to_do(read_only_cache, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def add(a, b):\n    return a + b\n")
    proc = _qwenpair(["index", str(repo)], read_only_cache)
    _clean_message(proc)
    assert f"cannot write the index in {read_only_cache / 'index'}" in proc.stderr, proc.stderr
    assert "not writable" in proc.stderr and "QWENPAIR_CACHE_DIR" in proc.stderr


def test_complete_show_prompt_with_a_read_only_cache_names_the_directory_and_what_to_do(
        read_only_cache, tiny_model, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def add(a, b):\n    return a + b\n\nx = ad\n")
    proc = _qwenpair(["complete", "--model", str(tiny_model.gguf), "--threads", "2", "--show-prompt",
                      "--root", str(repo), f"{repo / 'a.py'}:4:7"], read_only_cache)
    _clean_message(proc)
    assert f"cannot write the index in {read_only_cache / 'index'}" in proc.stderr, proc.stderr
    assert "not writable" in proc.stderr and "QWENPAIR_CACHE_DIR" in proc.stderr
