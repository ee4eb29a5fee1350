"""``qwenpair doctor`` as a user runs it (issue 22): a subprocess of the real CLI against the
real llama.cpp build, real GGUF files, a real index and real config files.

- A machine with no model, no config, no index and no vocabulary (an empty cache and home):
  each of those is ✗ with a fix, and the exit status is 1.
- A machine where all is in place: every check ✓ or – (not applicable), exit status 0, and the
  model's SHA-256 is the file's.
- A config file with a bad value is ✗ naming the key; a llama.cpp that dies with SIGILL (a build
  for instructions the CPU lacks) is ✗ with the fix, not a crash of the doctor.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = str(Path(sys.executable).parent)
#: Variables that would point the doctor at this machine's real cache, config or models.
OURS = ("QWENPAIR_CACHE_DIR", "QWENPAIR_MODELS_DIR", "QWENPAIR_CONFIG", "QWENPAIR_CONFIG_DIR",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME")


def doctor(tmp_path: Path, *args: str, env: dict, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    base.update(HOME=str(tmp_path / "home"), PATH=path, **env)
    return subprocess.run([sys.executable, "-m", "qwenpair", "doctor", *args], capture_output=True, text=True,
                          timeout=300, env=base, cwd=tmp_path)


def by_name(res: subprocess.CompletedProcess) -> dict[str, dict]:
    data = json.loads(res.stdout)
    return {c["name"]: c for c in data["checks"]}


def test_empty_machine_every_missing_piece_is_a_cross_with_a_fix(tmp_path):
    (tmp_path / "home").mkdir()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = {"QWENPAIR_CACHE_DIR": str(tmp_path / "cache")}
    res = doctor(tmp_path, "--json", "--root", str(workspace), env=env)
    assert res.returncode == 1, res.stderr
    checks = by_name(res)
    assert json.loads(res.stdout)["ok"] is False
    expected = {
        "Qwen2 vocabulary": "qwenpair model vocab",
        "completion model": "qwenpair model pull qwen2.5-coder-1.5b",
        "workspace index": f"qwenpair index {workspace}",
        "config file": str(tmp_path / "home" / ".config" / "qwenpair" / "config.toml"),
        "editors: `qwenpair` on PATH": f"{VENV_BIN}:$PATH",
    }
    for name, fix in expected.items():
        assert checks[name]["status"] == "fail", checks[name]
        assert fix in checks[name]["fix"], checks[name]
    # The llama.cpp build itself is fine on this machine, and says what it was built for.
    assert checks["llama.cpp build vs this CPU"]["status"] == "ok"
    assert "AVX" in checks["llama.cpp build vs this CPU"]["detail"] or "SSE3" in checks["llama.cpp build vs this CPU"]["detail"]
    assert checks["llama-cpp-python"]["status"] == "ok" and "0.3.36" in checks["llama-cpp-python"]["detail"]
    assert checks["GPU offload"]["status"] in ("ok", "info")

    human = doctor(tmp_path, "--root", str(workspace), env=env)
    assert human.returncode == 1
    lines = human.stdout.splitlines()
    crosses = [i for i, line in enumerate(lines) if line.startswith("✗ ")]
    assert len(crosses) == 5
    assert all(lines[i + 1].startswith("    fix: ") for i in crosses)
    assert "5 of " in lines[-1] and "checks failed" in lines[-1]
    assert "Traceback" not in human.stderr


@pytest.fixture
def ready(tmp_path, tiny_model):
    """A cache with the vocabulary, a 'downloaded' default model (the tiny GGUF under its
    name), an indexed workspace, a valid config file."""
    from model.paths import vocab_dir

    cache = tmp_path / "cache"
    shutil.copytree(vocab_dir(), cache / "vocab")
    model = cache / "models" / "qwen2.5-coder-1.5b" / "qwen2.5-coder-1.5b-q8_0.gguf"
    model.parent.mkdir(parents=True)
    shutil.copyfile(tiny_model.gguf, model)
    workspace = tmp_path / "ws"
    (workspace / "pkg").mkdir(parents=True)
    (workspace / "pkg" / "shapes.py").write_text("def area(w, h):\n    return w * h\n\n\nclass Box:\n    pass\n")
    config = tmp_path / "home" / ".config" / "qwenpair" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('model = "auto"\nn_ctx = 2048\n\n[engine]\ncontext_tokens = 1024\n')
    env = {"QWENPAIR_CACHE_DIR": str(cache)}
    indexed = subprocess.run([sys.executable, "-m", "qwenpair", "index", str(workspace), "--no-progress"],
                             capture_output=True, text=True, timeout=300, env=dict(os.environ, **env))
    assert indexed.returncode == 0, indexed.stderr
    return {"env": env, "workspace": workspace, "model": model, "config": config}


def test_ready_machine_passes(tmp_path, ready):
    res = doctor(tmp_path, "--json", "--root", str(ready["workspace"]), env=ready["env"], path=f"{VENV_BIN}:/usr/bin:/bin")
    checks = by_name(res)
    assert res.returncode == 0, json.dumps(checks, indent=1, ensure_ascii=False)
    assert all(c["status"] in ("ok", "info") for c in checks.values())
    assert "1 file, 2 symbols" in checks["workspace index"]["detail"]  # area and Box
    digest = hashlib.sha256(ready["model"].read_bytes()).hexdigest()
    assert digest in checks["model qwen2.5-coder-1.5b"]["detail"]
    assert "3 settings, all valid" in checks["config file"]["detail"]
    human = doctor(tmp_path, "--root", str(ready["workspace"]), env=ready["env"], path=f"{VENV_BIN}:/usr/bin:/bin")
    assert human.returncode == 0 and "✗" not in human.stdout and human.stdout.rstrip().endswith("checks passed")


def test_bad_config_value_and_truncated_model_are_named(tmp_path, ready):
    ready["config"].write_text('n_ctx = "big"\n')
    data = ready["model"].read_bytes()
    ready["model"].write_bytes(data[: len(data) // 2])  # a download cut short, under the final name
    res = doctor(tmp_path, "--json", "--root", str(ready["workspace"]), env=ready["env"], path=f"{VENV_BIN}:/usr/bin:/bin")
    assert res.returncode == 1
    checks = by_name(res)
    assert checks["config file"]["status"] == "fail" and "'n_ctx'" in checks["config file"]["detail"]
    model = checks["model qwen2.5-coder-1.5b"]
    assert model["status"] == "fail" and "qwenpair model pull qwen2.5-coder-1.5b" in model["fix"]


def test_a_llama_cpp_that_dies_with_sigill_is_a_cross_not_a_crash(tmp_path):
    # What an AVX-512 build does on an AVX2-only CPU: the process is killed by SIGILL while
    # llama.cpp initialises. A llama_cpp module that raises the same signal stands in for it
    # (this machine's real build is right for its CPU); the doctor only sees the child die.
    fake = tmp_path / "fake"
    (fake / "llama_cpp").mkdir(parents=True)
    (fake / "llama_cpp" / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    (tmp_path / "home").mkdir()
    env = {"QWENPAIR_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(fake)}
    res = doctor(tmp_path, "--json", "--root", str(tmp_path), env=env)
    assert res.returncode == 1, res.stderr
    check = by_name(res)["llama.cpp build vs this CPU"]
    assert check["status"] == "fail" and "SIGILL" in check["detail"]
    assert "bash setup.sh" in check["fix"]


@pytest.mark.skipif(not (Path(VENV_BIN) / "nvim").exists(), reason="needs the nvim of the [dev] extra (.ci/setup)")
def test_neovim_plugin_whose_command_is_missing_is_a_cross(tmp_path, ready):
    # The user's real init.lua, evaluated by a headless Neovim: the plugin is on the
    # runtimepath and its cmd names a file that does not exist.
    plugin = Path(__file__).resolve().parents[2] / "editors" / "nvim"
    init = tmp_path / "home" / ".config" / "nvim" / "init.lua"
    init.parent.mkdir(parents=True)
    init.write_text(f"vim.opt.rtp:prepend({str(plugin)!r})\n"
                    "require('qwenpair').setup({ cmd = { '/nonexistent/qwenpair', 'serve' } })\n")
    path = f"{VENV_BIN}:/usr/bin:/bin"
    res = doctor(tmp_path, "--json", "--root", str(ready["workspace"]), env=ready["env"], path=path)
    check = by_name(res)["editors: Neovim plugin"]
    assert res.returncode == 1 and check["status"] == "fail", check
    assert "/nonexistent/qwenpair serve" in check["detail"] and "setup()" in check["fix"]
    init.write_text(f"vim.opt.rtp:prepend({str(plugin)!r})\nrequire('qwenpair').setup({{}})\n")
    res = doctor(tmp_path, "--json", "--root", str(ready["workspace"]), env=ready["env"], path=path)
    check = by_name(res)["editors: Neovim plugin"]
    assert res.returncode == 0 and check["status"] == "ok" and "qwenpair serve" in check["detail"], check


def test_completion_model_named_in_the_config_is_the_one_checked(tmp_path, tiny_model):
    config = tmp_path / "home" / ".config" / "qwenpair" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f"model = {str(tiny_model.gguf)!r}\n")
    env = {"QWENPAIR_CACHE_DIR": str(tmp_path / "cache")}  # the default model is not there
    check = by_name(doctor(tmp_path, "--json", "--root", str(tmp_path), env=env))["completion model"]
    assert check["status"] == "ok" and str(tiny_model.gguf) in check["detail"], check
    config.write_text(f"model = {str(tmp_path / 'gone.gguf')!r}\n")
    check = by_name(doctor(tmp_path, "--json", "--root", str(tmp_path), env=env))["completion model"]
    assert check["status"] == "fail" and "gone.gguf" in check["detail"], check
