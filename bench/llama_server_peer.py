"""The peer of bench/keystroke_latency.py: llama-server's ``/infill`` with llama.vim's request
shape, on the same model, machine and keystroke trace (issue 15).

llama-server is built from the llama.cpp that llama-cpp-python vendors, with the portable
flags, by bench/build_llama_server.sh (bench-only: not a product dependency). It is started
as llama.vim's README says (``--cache-reuse 256``), and each keystroke sends what llama.vim
sends: the 256 lines before the cursor's line as ``input_prefix``, the rest of the line and 64
lines after as ``input_suffix``, the line up to the cursor as ``prompt``, chunks of other files
that stay the same for the whole run as ``input_extra``, and ``cache_prompt``. Decoding is
greedy (top-k 1) with exactly 16 tokens (``ignore_eos``), as on our side.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

PREFIX_LINES = 256
SUFFIX_LINES = 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, binary: Path, model: Path, threads: int, n_ctx: int = 4096) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(binary), "-m", str(model), "-t", str(threads), "-tb", str(threads), "-c", str(n_ctx), "-np", "1",
             "--cache-reuse", "256", "--host", "127.0.0.1", "--port", str(self.port), "--no-webui"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"llama-server exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("llama-server did not become healthy in 120 s")

    def infill(self, text: str, line: int, col: int, extra: list[dict], n_predict: int = 16) -> dict:
        lines = text.split("\n")
        body = {
            "input_prefix": "\n".join(lines[max(0, line - PREFIX_LINES) : line]) + "\n",
            "input_suffix": "\n".join([lines[line][col:]] + lines[line + 1 : line + 1 + SUFFIX_LINES]),
            "prompt": lines[line][:col],
            "input_extra": extra,
            "n_predict": n_predict,
            "ignore_eos": True,
            "top_k": 1,
            "samplers": ["top_k"],
            "temperature": 0.0,
            "cache_prompt": True,
            "stream": False,
        }
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/infill", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as r:
            return json.loads(r.read())

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def extra_chunks(snippets) -> list[dict]:
    """llama.vim's ring buffer of chunks from other files, fixed for the run."""
    return [{"filename": s.path, "text": s.text.rstrip("\n") + "\n"} for s in snippets]


def replay_peer(binary: Path, model: Path, threads: int, trace: list[tuple[str, int, int]], extra: list[dict],
                open_wait_s: float) -> dict:
    """Replay ``trace`` (text, line, col per keystroke; the first is the cold request right
    after opening) against llama-server; the same figures as our side."""
    from bench.common import median, percentile

    server = LlamaServer(binary, model, threads)
    try:
        text, line, col = trace[0]
        t0 = time.perf_counter()
        first = server.infill(text, line, col, extra)
        cold = time.perf_counter() - t0
        time.sleep(max(0.0, open_wait_s - cold))
        latencies, evaluated, prompt_sizes, generated = [], [], [], []
        for text, line, col in trace[1:]:
            t = time.perf_counter()
            reply = server.infill(text, line, col, extra)
            latencies.append(time.perf_counter() - t)
            timings = reply.get("timings", {})
            evaluated.append(timings.get("prompt_n", 0))
            prompt_sizes.append(reply.get("tokens_evaluated", 0))
            generated.append(timings.get("predicted_n", 0))
        return {
            "layout": "llama-server /infill (llama.vim request shape, --cache-reuse 256)",
            "keystrokes": len(latencies),
            "latency_p50_ms": median(latencies) * 1000,
            "latency_p95_ms": percentile(latencies, 95) * 1000,
            "p95_over_p50": percentile(latencies, 95) / median(latencies),
            "reevaluated_tokens_median": median(evaluated),
            "steady_prompt_tokens_median": median(prompt_sizes),
            "generated_tokens_median": median(generated),
            "cold_first_completion_s": cold,
            "cold_prompt_tokens": first.get("tokens_evaluated", 0),
        }
    finally:
        server.close()
