"""Soak benchmark of a real ``qwenpair serve`` (issue 18 figure), as JSON.

One server, started like an editor starts it (stdio), on this repository with the tiny test
model, runs for ``--minutes`` (default 30) a seeded random mix of what an editor sends:
edits (incremental didChange), inline completions, streamed chats, reindexes, model
switches (the tiny model's Q8_0 and F16 files in turn), and open/close of large documents
(4 MB, at the size cap, and 8 MB, over it). Nothing is written to the repository: edits live
in the server's copy of the open documents; the index and logs go to a temporary cache.

Reported: the server's RSS at the start (after ``WARM_UP_ROUNDS`` warm-up rounds of every kind
of request),
at the end and its maximum (sampled every 5 s, plus the kernel's high-water mark), the
growth in per cent (target ≤ 10 %), requests sent and answered, the count of unanswered
requests (target 0; each request gets 60 seconds after the run ends),
error answers other than cancellations, per-kind counts and latency p50/p95, and whether
shutdown and exit ended the server with code 0.

The start and end figures are taken in the same state, as a soak compares like with like:
every request answered, the documents' notifications handled, the same model loaded (the run
switches back to the first one if it ended on the other: the two files differ in size, and
their pages count in RSS), the server idle (a second with under 5 % of a core used: its
background work done), then ``SETTLE_S`` seconds more. The RSS of a busy server swings
by 100 MB or more with what it is doing at that instant (a 8 MB document in flight, two
models during a switch), so a sample taken mid-request would measure the request, not growth;
the swings are in the maximum, and ``rss_min_per_minute_mb`` (each minute's lowest sample)
shows the trend under them.

With ``--trace DIR`` the server runs under ``tracemalloc`` and writes, at the start and the
end, a snapshot of the Python heap with glibc's ``mallinfo2`` and the process's anonymous and
file-backed RSS (``/proc/PID/status``) into DIR; the JSON then says how much of the growth is
Python objects (and which lines allocated them) and how much is native memory, and the RSS
after a ``malloc_trim`` at each point (what of it was free memory the allocator kept), with
every 5 s sample. It slows the server down and trims it twice, so a traced run is a
diagnosis, not the figure.

    python bench/soak.py [--minutes M] [--seed S] [--out FILE] [--trace DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT_DIR = Path(__file__).resolve().parents[1]
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from bench.common import emit, percentile  # noqa: E402

CANCELLED = -32800
SAMPLE_S = 5.0
#: Rounds of every kind of request before the start is measured (see ``run``).
WARM_UP_ROUNDS = 2
#: Seconds idle before the start and end RSS are read (a pre-fill started by the last
#: didOpen finishes well within it on the tiny model).
SETTLE_S = 3.0
#: CPU seconds in one second under which the server counts as idle.
IDLE_CPU = 0.05

#: The server under tracemalloc: SIGUSR1 writes ``<dir>/<n>.snapshot`` and ``<dir>/<n>.json``.
_TRACED_SERVER = r"""
import ctypes, json, os, runpy, signal, sys, tracemalloc
directory = sys.argv[1]
tracemalloc.start(1)
class _Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = _Info
count = [0]
def dump(signum, frame):
    count[0] += 1
    base = os.path.join(directory, str(count[0]))
    tracemalloc.take_snapshot().dump(base + ".snapshot")
    info = libc.mallinfo2()
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "Threads")):
                status[line.split(":")[0]] = int(line.split()[1])
    with open("/proc/self/maps") as f:
        mappings = sum(1 for _ in f)
    traced, peak = tracemalloc.get_traced_memory()
    import gc
    large = []
    for holder in gc.get_objects():
        for value in gc.get_referents(holder):
            if isinstance(value, (str, bytes)) and len(value) > 1000000:
                where = type(holder).__name__
                if isinstance(holder, dict):
                    where += " key " + repr([k for k, v in holder.items() if v is value][:1])
                    where += " in " + ", ".join(type(o).__name__ for o in gc.get_referrers(holder)[:4])
                large.append([len(value), where])
    libc.malloc_trim(0)  # what of the RSS is free memory the allocator kept
    with open("/proc/self/status") as f:
        status["VmRSS_after_trim"] = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    import collections, threading
    types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    holders = collections.Counter()
    for cond in [o for o in gc.get_objects() if isinstance(o, threading.Condition)][:3000]:
        for owner in gc.get_referrers(cond):
            if isinstance(owner, dict):
                owner = next((o for o in gc.get_referrers(owner) if getattr(o, "__dict__", None) is owner), owner)
            up = [type(x).__qualname__ for x in gc.get_referrers(owner)[:3] if x is not owner]
            holders[type(owner).__qualname__ + " <- " + ",".join(up)] += 1
    import concurrent.futures, types as pytypes

    def name(x):
        if isinstance(x, pytypes.FunctionType):
            return "fn " + x.__qualname__
        if isinstance(x, pytypes.MethodType):
            return "method " + x.__func__.__qualname__
        if isinstance(x, pytypes.FrameType):
            return "frame " + x.f_code.co_qualname
        return type(x).__qualname__

    chains = collections.Counter()
    futures = [o for o in gc.get_objects() if isinstance(o, concurrent.futures.Future)]
    for fut in futures[-200:]:
        for a in gc.get_referrers(fut):
            if a is futures:
                continue
            for b in gc.get_referrers(a)[:4]:
                if b is futures:
                    continue
                if isinstance(b, pytypes.CellType) or type(b).__name__ == "cell":
                    c = [name(f) for f in gc.get_referrers(b) if isinstance(f, (pytypes.FunctionType, tuple))][:2]
                    chains[f"{name(a)} <- cell <- {c}"] += 1
                else:
                    chains[f"{name(a)} <- {name(b)}"] += 1
    from lsp_server.protocol import QwenProtocol

    table = sum(len(o._request_futures) for o in gc.get_objects() if isinstance(o, QwenProtocol))
    data = {"request_table": table, "types": dict(types.most_common(40)), "condition_holders": dict(holders.most_common(10)),
            "future_chains": dict(chains.most_common(12)), "futures": len(futures),
            "large_texts": large[:20], "traced": traced, "traced_peak": peak, "mappings": mappings, "status_kb": status,
            "mallinfo": {name: getattr(info, name) for name, _ in _Info._fields_}}
    with open(base + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(base + ".tmp", base + ".json")
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["qwenpair", "serve"]
runpy.run_module("qwenpair", run_name="__main__", alter_sys=True)
"""


class Client:
    """A minimal LSP client over the server's pipes: every response is recorded by id."""

    def __init__(self, env: dict[str, str], trace: Path | None = None) -> None:
        command = [sys.executable, "-c", _TRACED_SERVER, str(trace)] if trace else [sys.executable, "-m", "qwenpair", "serve"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT_DIR)
        self._lock = threading.Lock()
        self._cv = threading.Condition()
        self._next = 0
        self.sent: dict[int, tuple[str, float]] = {}
        self.answers: dict[int, tuple[dict, float]] = {}
        self.duplicates = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if not line.strip():
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            message = json.loads(stream.read(length))
            if "method" in message and "id" in message:  # the server's own requests
                result = [None] * len(message["params"]["items"]) if message["method"] == "workspace/configuration" else None
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})
            elif "id" in message and "method" not in message:
                with self._cv:
                    if message["id"] in self.answers:
                        self.duplicates += 1
                    self.answers[message["id"]] = (message, time.monotonic())
                    self._cv.notify_all()

    def _write(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        with self._lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def request(self, method: str, params: Any, kind: str) -> int:
        with self._lock:
            self._next += 1
            msg_id = self._next
        self.sent[msg_id] = (kind, time.monotonic())
        self._write({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, msg_id: int, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        with self._cv:
            while msg_id not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    return None
                self._cv.wait(min(left, 1.0))
            return self.answers[msg_id][0]

    def call(self, method: str, params: Any, kind: str, timeout: float = 120) -> dict | None:
        return self.wait(self.request(method, params, kind), timeout)

    def command(self, name: str, args: list | None = None, kind: str = "", timeout: float = 300) -> dict | None:
        params = {"command": name, **({"arguments": args} if args is not None else {})}
        return self.call("workspace/executeCommand", params, kind or name, timeout)


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def _sources(limit: int = 40) -> list[Path]:
    files = sorted(p for p in (ROOT_DIR / "assistant").glob("*.py")) + sorted((ROOT_DIR / "lsp_server").glob("*.py"))
    return [p for p in files if p.stat().st_size > 500][:limit]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(client: Client, timeout: float = 120) -> float:
    """Wait for every request's answer and for the server to have handled every notification
    sent (a status request is answered after them), then for it to be idle (a second with
    under ``IDLE_CPU`` of a core used: background work such as a pre-fill or re-indexing is
    over), then ``SETTLE_S`` seconds; its RSS in MB."""
    deadline = time.monotonic() + timeout
    pid = client.process.pid
    for msg_id in list(client.sent):
        client.wait(msg_id, max(0.0, deadline - time.monotonic()))
    client.command("qwenpair.status", kind="status", timeout=max(1.0, deadline - time.monotonic()))
    before = cpu_s(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu_s(pid)
        if now - before < IDLE_CPU:
            break
        before = now
    time.sleep(SETTLE_S)
    return rss_mb(pid)[0]


def trace_point(pid: int, directory: Path, n: int, timeout: float = 120) -> dict:
    """Ask the traced server for snapshot ``n`` and wait for it."""
    os.kill(pid, signal.SIGUSR1)
    done = directory / f"{n}.json"
    deadline = time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the traced server wrote no snapshot {n} in {timeout:.0f} s")
        time.sleep(0.2)
    return {**json.loads(done.read_text()), "smaps": smaps(pid)}


def smaps(pid: int) -> dict:
    """RSS by mapping kind (/proc/PID/smaps): the heap, anonymous mappings (the largest listed)
    and files (by name), in MB."""
    rows, current = [], None
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            current = [head[5] if len(head) > 5 else "[anon]", (hi - lo) >> 10, 0]
            rows.append(current)
        elif head[0] == "Rss:":
            current[2] = int(head[1])
    files: dict[str, int] = {}
    for name, _, rss in rows:
        if not name.startswith("["):
            files[Path(name).name] = files.get(Path(name).name, 0) + rss
    anon = sorted((r for r in rows if r[0] == "[anon]"), key=lambda r: -r[2])
    return {"heap_mb": round(sum(r[2] for r in rows if r[0] == "[heap]") / 1024, 1),
            "anon_mb": round(sum(r[2] for r in anon) / 1024, 1), "anon_mappings": len(anon),
            "largest_anon_rss_mb": [[round(size / 1024, 1), round(rss / 1024, 1)] for _, size, rss in anon[:8]],
            "files_mb": {k: round(v / 1024, 1) for k, v in sorted(files.items(), key=lambda kv: -kv[1])[:6]}}


def trace_report(directory: Path, start: dict, end: dict, top: int = 15) -> dict:
    """Python heap vs native growth between two trace points, and the lines that grew most."""
    import tracemalloc

    first = tracemalloc.Snapshot.load(str(directory / "1.snapshot"))
    last = tracemalloc.Snapshot.load(str(directory / "2.snapshot"))
    diff = last.compare_to(first, "lineno")
    mb = 1 / (1 << 20)
    return {
        "python_traced_mb": [round(start["traced"] * mb, 1), round(end["traced"] * mb, 1)],
        "rss_after_malloc_trim_mb": [round(start["status_kb"]["VmRSS_after_trim"] / 1024, 1),
                                     round(end["status_kb"]["VmRSS_after_trim"] / 1024, 1)],
        "rss_anon_mb": [round(start["status_kb"]["RssAnon"] / 1024, 1), round(end["status_kb"]["RssAnon"] / 1024, 1)],
        "rss_file_mb": [round(start["status_kb"]["RssFile"] / 1024, 1), round(end["status_kb"]["RssFile"] / 1024, 1)],
        "threads": [start["status_kb"].get("Threads"), end["status_kb"].get("Threads")],
        "mappings": [start["mappings"], end["mappings"]],
        "malloc_mb": {k: [round(start["mallinfo"][k] * mb, 1), round(end["mallinfo"][k] * mb, 1)]
                      for k in ("arena", "hblkhd", "uordblks", "fordblks", "keepcost")},
        "smaps": [start.get("smaps"), end.get("smaps")],
        "large_texts": [start.get("large_texts"), end.get("large_texts")],
        "type_growth": sorted(((k, end["types"].get(k, 0) - start["types"].get(k, 0)) for k in end["types"]),
                              key=lambda kv: -kv[1])[:15],
        "condition_holders": [start.get("condition_holders"), end.get("condition_holders")],
        "futures": [start.get("futures"), end.get("futures")],
        "request_table": [start.get("request_table"), end.get("request_table")],
        "future_chains": end.get("future_chains"),
        "top_python_growth": [{"where": str(d.traceback), "kb": round(d.size_diff / 1024, 1), "count": d.count_diff}
                              for d in diff[:top]],
    }


class Soak:
    def __init__(self, client: Client, rng: random.Random, models: list[str]) -> None:
        self.c, self.rng, self.models = client, rng, models
        self.docs: dict[str, list[str]] = {}  # uri -> lines as the server has them
        self.versions: dict[str, int] = {}
        self.model_index = 0
        self.chats = 0

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        text = path.read_text(encoding="utf-8") if text is None else text
        self.docs[uri], self.versions[uri] = text.split("\n"), 1
        self.c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        return uri

    def close(self, uri: str) -> None:
        self.docs.pop(uri, None)
        self.versions.pop(uri, None)
        self.c.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def edit(self) -> None:
        uri = self.rng.choice(list(self.docs))
        lines = self.docs[uri]
        line = self.rng.randrange(len(lines))
        col = len(lines[line])
        piece = self.rng.choice(["  # soak", " x", "\n    pass", "\n"])
        self.versions[uri] += 1
        self.c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": self.versions[uri]},
                                                 "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                                                               "end": {"line": line, "character": col}},
                                                                     "text": piece}]})
        new = (lines[line] + piece).split("\n")
        lines[line : line + 1] = new

    def complete(self, uri: str | None = None) -> None:
        uri = uri or self.rng.choice(list(self.docs))
        lines = self.docs[uri]
        line = self.rng.randrange(len(lines))
        self.c.call("textDocument/inlineCompletion", {"textDocument": {"uri": uri}, "position": {
            "line": line, "character": len(lines[line])}, "context": {"triggerKind": 1}}, "completion")

    def chat(self) -> None:
        self.chats += 1
        uri = self.rng.choice(list(self.docs))
        self.c.command("qwenpair.chat", [{"question": "What does this file do?", "uri": uri,
                                          "streamId": f"soak-{self.chats}"}], "chat")

    def reindex(self) -> None:
        self.c.command("qwenpair.reindex", kind="reindex")

    def switch(self) -> None:
        self.model_index = (self.model_index + 1) % len(self.models)
        self.c.command("qwenpair.switchModel", [{"model": self.models[self.model_index]}], "switch_model")

    def large(self, directory: Path, size: int) -> None:
        line = "value = compute(alpha, beta) + 12345  # a long generated file\n"
        text = line * (size // len(line))
        uri = self.open(directory / f"large-{size}.py", text)
        self.complete(uri)
        self.close(uri)


def run(minutes: float, seed: int, trace: Path | None = None) -> dict:
    from model.make_test import cached_test_model

    tiny = cached_test_model("tiny")
    models = [str(tiny.gguf), str(tiny.gguf_f16)]
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="qwenpair-soak-") as tmp:
        scratch = Path(tmp)
        (scratch / "models").mkdir()
        (scratch / "cache").mkdir()
        from model.paths import vocab_dir

        (scratch / "cache" / "vocab").symlink_to(vocab_dir())  # the index tokenizes with it
        env = {**os.environ, "QWENPAIR_CONFIG": str(scratch / "config.toml"), "QWENPAIR_MODELS_DIR": str(scratch / "models"),
               "QWENPAIR_CACHE_DIR": str(scratch / "cache")}
        if trace is not None:
            trace.mkdir(parents=True, exist_ok=True)
            for old in trace.glob("[0-9]*.*"):
                old.unlink()
        client = Client(env, trace)
        options = {"model": models[0], "chat_model": models[0], "n_ctx": 2048, "threads": 1, "calibrate": False,
                   "engine": {"max_tokens_single": 16, "max_tokens_multi": 32}, "chat": {"max_answer_tokens": 24}}
        init = client.call("initialize", {"processId": os.getpid(), "rootUri": ROOT_DIR.as_uri(),
                                          "workspaceFolders": [{"uri": ROOT_DIR.as_uri(), "name": ROOT_DIR.name}],
                                          "capabilities": {"textDocument": {"inlineCompletion": {}}},
                                          "initializationOptions": options}, "initialize", timeout=120)
        if init is None or "error" in init:
            raise SystemExit(f"the server did not initialize: {init}")
        client.notify("initialized", {})
        t_ready = time.monotonic()
        while True:
            status = (client.command("qwenpair.status", kind="status") or {}).get("result") or {}
            if status.get("model_state") == "ready" and status.get("index", {}).get("state") not in ("indexing", "opening", "none"):
                if status["index"]["state"] == "failed":
                    raise SystemExit(f"indexing this repository failed: {status['index']}")
                break
            if time.monotonic() - t_ready > 600:
                raise SystemExit(f"the server was not ready after 10 minutes: {status}")
            time.sleep(0.5)
        ready_s = time.monotonic() - t_ready
        soak = Soak(client, rng, models)
        for path in _sources(6):
            soak.open(path)
        large_dir = scratch / "large"
        large_dir.mkdir()
        # warm-up: every kind, so that "start" is the working set, not the empty server. Two
        # rounds: the first request in a fresh model runs a cold-sized prompt, the second a
        # full one, and llama.cpp's compute buffer (a fixed mapping, 317 MB virtual for n_batch
        # 512) is touched by the largest batch evaluated: 1 MB after one round, 18-21 MB after
        # two, and no further in 12 or 24 more 4 MB documents (/proc/PID/smaps, measured).
        for _ in range(WARM_UP_ROUNDS):
            soak.edit(), soak.complete(), soak.chat(), soak.reindex(), soak.switch(), soak.switch()
            soak.large(large_dir, 4_000_000)
            soak.large(large_dir, 8_000_000)
        pid = client.process.pid
        start_rss = settle(client)
        trace_start = trace_point(pid, trace, 1) if trace is not None else None
        samples = [start_rss]
        t_start = time.monotonic()
        by_minute: dict[int, float] = {}  # the lowest sample of each minute: the trend under the swings
        kinds = [(soak.edit, 40), (soak.complete, 35), (soak.chat, 6), (lambda: soak.large(large_dir, rng.choice([4_000_000, 8_000_000])), 4),
                 (soak.reindex, 2), (soak.switch, 2), (lambda: soak.close(rng.choice(list(soak.docs))) if len(soak.docs) > 3 else None, 3),
                 (lambda: soak.open(rng.choice([p for p in _sources() if p.as_uri() not in soak.docs] or _sources())), 3)]
        ops, weights = zip(*kinds)
        end_at = time.monotonic() + minutes * 60
        next_sample = time.monotonic() + SAMPLE_S
        steps = 0
        while time.monotonic() < end_at and client.process.poll() is None:
            rng.choices(ops, weights)[0]()
            steps += 1
            if time.monotonic() >= next_sample:
                samples.append(rss_mb(pid)[0])
                minute = int((time.monotonic() - t_start) // 60)
                by_minute[minute] = min(by_minute.get(minute, samples[-1]), samples[-1])
                next_sample += SAMPLE_S
        alive = client.process.poll() is None
        if alive and soak.model_index != 0:  # the start's model, as at the start
            soak.switch()
        end_rss = settle(client, timeout=60) if alive else 0.0
        alive = client.process.poll() is None
        hwm = rss_mb(pid)[1] if alive else 0.0
        trace_end = trace_point(pid, trace, 2) if trace is not None and alive else None
        samples.append(end_rss)
        unanswered = sorted(i for i in client.sent if i not in client.answers)
        errors = [m for m, _ in client.answers.values() if "error" in m and m["error"].get("code") != CANCELLED]
        by_kind: dict[str, list[float]] = {}
        for msg_id, (kind, t0) in client.sent.items():
            if msg_id in client.answers:
                by_kind.setdefault(kind, []).append(client.answers[msg_id][1] - t0)
        exit_code, final = None, {}
        if alive:
            final = (client.command("qwenpair.status", kind="status", timeout=60) or {}).get("result") or {}
            client.call("shutdown", None, "shutdown", timeout=60)
            client.notify("exit", None)
            try:
                exit_code = client.process.wait(60)
            except subprocess.TimeoutExpired:
                client.process.kill()
        return {
            "minutes": minutes, "seed": seed, "ready_s": round(ready_s, 1), "operations": steps,
            "rss_start_mb": round(start_rss, 1), "rss_end_mb": round(end_rss, 1), "rss_max_mb": round(max(samples), 1),
            "rss_high_water_mb": round(hwm, 1),
            "rss_min_per_minute_mb": [round(by_minute[m]) for m in sorted(by_minute)],
            "rss_growth_percent": round(100 * (end_rss - start_rss) / start_rss, 1) if start_rss else None,
            "requests": len(client.sent), "answered": len(client.answers), "unanswered": len(unanswered),
            "unanswered_kinds": sorted({client.sent[i][0] for i in unanswered}),
            "duplicate_answers": client.duplicates,
            "error_answers": len(errors), "error_samples": [e["error"].get("message", "")[:160] for e in errors[:5]],
            "server_alive_at_end": alive, "exit_code": exit_code,
            "index_files_at_end": (final.get("index") or {}).get("files"), "engine_counters": final.get("engine"),
            "per_kind": {k: {"n": len(v), "p50_s": round(percentile(v, 50), 3), "p95_s": round(percentile(v, 95), 3)}
                         for k, v in sorted(by_kind.items())},
            "targets": {"rss_growth_percent_max": 10, "unanswered": 0},
            **({"rss_samples_mb": [round(v) for v in samples],
                "trace": trace_report(trace, trace_start, trace_end)} if trace_end is not None else {}),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--trace", type=Path, default=None, metavar="DIR",
                        help="run the server under tracemalloc; Python vs native growth in the JSON (slower)")
    args = parser.parse_args()
    result = run(args.minutes, args.seed, args.trace)
    emit([result], benchmark="soak")
    if args.out is not None:
        args.out.write_text(json.dumps({"benchmark": "soak", "results": [result]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
