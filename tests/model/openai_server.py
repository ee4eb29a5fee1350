"""A real OpenAI-compatible server for tests: llama-cpp-python's ``llama_cpp.server`` on a
free loopback port, serving a GGUF. Shared by the openai-backend tests and the security tests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def llama_openai_server(gguf: Path | str, *, start_timeout_s: float = 60) -> Iterator[str]:
    """The server's base URL while the block runs; it is stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + start_timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("llama_cpp.server exited at start") from None
                if time.time() > deadline:
                    raise RuntimeError(f"llama_cpp.server did not start in {start_timeout_s:.0f} s") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
