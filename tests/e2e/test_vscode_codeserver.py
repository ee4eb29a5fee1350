"""The extension in a real VS Code: code-server 4.99 (VS Code 1.99) in headless Chromium,
against the real `qwenpair serve` with the tiny test model.

The .vsix built from editors/vscode is installed into a fresh extensions directory; the test
opens a Python file, waits until the extension's status-bar item shows the model, types at
the end of the file, waits for the inline suggestion (ghost text) and accepts it with Tab,
then checks the editor holds the typed text followed by the suggestion. A second test runs
"Edit Selection with Instruction" on one line (and, again, the server's "Edit selection…" code
action), accepts the diff, and checks the line is the
scripted chat model's answer (see tests/e2e/test_nvim_e2e.py) and the rest is unchanged; a
third asks a question in the chat view's webview and checks the answer shown. A fourth, in a
second workspace whose completion model writes ``len(sys.argv))`` after ``print(`` (the range
model of tests/e2e/test_nvim_e2e.py), puts the cursor inside ``print()`` and checks that the
item, whose range covers the ``)``, is drawn without the closer twice and accepted into
``print(len(sys.argv))`` exactly. A fifth, in a third folder whose model writes a two-line
block after ``def total(values):`` (the block model of tests/e2e/test_nvim_e2e.py), checks
that the suggestion, answered with its first line, grows to the whole block when the server's
``qwenpair/inlineCompletionExtended`` comes, and that Tab accepts the block.
code-server, playwright-core and Chromium come from .ci/setup (editors/vscode/e2e/install.sh
and Debian's chromium). Run: .venv/bin/pytest -q tests/e2e/test_vscode_codeserver.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

# The scripted chat model (a real GGUF whose answer is known) and the sample file come from
# the Neovim test module; importing the fixture shares it (pytest puts tests/e2e on sys.path).
from test_nvim_e2e import SCRIPTED_ANSWER, SOURCE, block_model, range_model, scripted_model  # noqa: F401

EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"
E2E = EXTENSION / "e2e"
CODE_SERVER = E2E / "node_modules" / ".bin" / "code-server"
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow

TYPED = "    return sum("
FILES = ("sums.py", "stats.py", "scale.py")  # one per test: a window restores others' unsaved edits
RANGE_FOLDER = "ws-range"
BLOCK_FOLDER = "ws-block"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def vsix(tmp_path_factory) -> Path:
    assert (EXTENSION / "node_modules" / ".bin" / "vsce").exists(), "node deps missing: run .ci/setup"
    out = tmp_path_factory.mktemp("vsix") / "qwenpair.vsix"
    run(["npm", "run", "build"], EXTENSION)
    run(["npm", "run", "package", "--", "-o", str(out)], EXTENSION)
    return out


@pytest.fixture(scope="module")
def code_server(tmp_path_factory, vsix, tiny_model, scripted_model, range_model, block_model):
    """One code-server for this module; each test opens its own browser window (and so gets
    its own extension host and server) on its own file of the workspace."""
    root = tmp_path_factory.mktemp("code-server")
    workspace = root / "ws"
    (workspace / ".git").mkdir(parents=True)
    for name in FILES:
        (workspace / name).write_text(SOURCE)
    # A second folder whose own settings pick the range model (a window on it starts its own
    # server with that model; the user settings below stay as they are for the others).
    ranges = root / RANGE_FOLDER
    (ranges / ".git").mkdir(parents=True)
    (ranges / ".vscode").mkdir()
    (ranges / ".vscode" / "settings.json").write_text(json.dumps({"qwenpair.model": str(range_model)}))
    (ranges / "show.py").write_text("import sys\n")
    blocks = root / BLOCK_FOLDER  # the same for the block model
    (blocks / ".git").mkdir(parents=True)
    (blocks / ".vscode").mkdir()
    (blocks / ".vscode" / "settings.json").write_text(json.dumps({"qwenpair.model": str(block_model)}))
    (blocks / "total.py").write_text("")
    user = {
        "qwenpair.serverCommand": [sys.executable, "-m", "qwenpair", "serve"],
        "qwenpair.model": str(tiny_model.gguf),
        "qwenpair.chatModel": str(scripted_model),
        "editor.inlineSuggest.enabled": True,
        "editor.autoClosingBrackets": "never",
        # These tests are about completions: the tiny model's random next edits would only
        # hold the model (tests/e2e/test_vscode_next_edit.py has them).
        "qwenpair.nextEdit.enabled": False,
    }
    # No time cap may cut the first generation after a model loads on a busy machine short.
    config = "[engine]\nprompt_time_cap_s = 60.0\ngeneration_time_cap_s = 60.0\nlatency_target_s = 60.0\n"
    with serve(root, workspace, vsix, user, config) as url:
        yield url


@contextmanager
def serve(root: Path, workspace: Path, vsix: Path, user: dict, config: str, env: dict | None = None):
    """code-server on a free port with the extension {vsix} installed, the user settings
    {user} (over quiet defaults) and the server config file text {config}, opened on
    {workspace}; yields the workbench URL and stops code-server, its extension hosts and
    our servers after."""
    assert CODE_SERVER.exists(), "code-server missing: run .ci/setup (editors/vscode/e2e/install.sh)"
    assert Path(CHROMIUM).exists(), "chromium missing: run .ci/setup (apt-get install chromium)"
    data, extensions = root / "data", root / "extensions"
    (data / "User").mkdir(parents=True)
    (data / "User" / "settings.json").write_text(json.dumps({
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "extensions.autoCheckUpdates": False,
        "telemetry.telemetryLevel": "off",
        **user,
    }))
    (root / "config.toml").write_text(config)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(root / "config"),  # code-server writes its config.yaml there
        "QWENPAIR_CONFIG": str(root / "config.toml"),  # keep a user's config out
        **(env or {}),
    }
    dirs = ["--user-data-dir", str(data), "--extensions-dir", str(extensions)]
    subprocess.run([str(CODE_SERVER), *dirs, "--install-extension", str(vsix)], env=env, check=True,
                   capture_output=True, timeout=120)
    port = free_port()
    log = root / "code-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(CODE_SERVER), *dirs, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}",
             "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust", str(workspace)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "HTTP server listening" not in log.read_text():
            assert proc.poll() is None, f"code-server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"code-server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/?folder={workspace}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # code-server, its extension hosts and our servers
        proc.wait(timeout=30)


def test_inline_suggestion_appears_and_tab_accepts_it(code_server, tmp_path):
    label = "qwenpair-test-tiny"  # the status bar shows the model file's name
    done = subprocess.run(
        ["node", str(E2E / "inline.mjs"), code_server, "sums.py", label, TYPED, str(tmp_path)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    result = json.loads(done.stdout)
    assert label in result["status"]
    assert result["ghost"]
    assert TYPED + result["ghost"] in "\n".join(result["lines"])
    assert result["lines"][:8] == SOURCE.splitlines()[:8]


@pytest.mark.parametrize(("via", "file"), [("command", "stats.py"), ("action", "scale.py")])
def test_edit_selection_shows_a_diff_and_accept_applies_it(code_server, tmp_path, via, file):
    done = subprocess.run(
        ["node", str(E2E / "edit.mjs"), code_server, file, "qwenpair-test-tiny", "6",
         "use map instead of a comprehension", via, str(tmp_path)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    lines = json.loads(done.stdout)["lines"]
    source = SOURCE.splitlines()
    assert lines[: len(source)] == source[:5] + [SCRIPTED_ANSWER] + source[6:]


def test_chat_view_answers_in_its_webview(code_server, tmp_path):
    done = subprocess.run(
        ["node", str(E2E / "chat.mjs"), code_server, "qwenpair-test-tiny", "what does scale do?", str(tmp_path)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    shown = json.loads(done.stdout)
    assert shown["question"] == "what does scale do?"
    assert shown["answer"] == SCRIPTED_ANSWER


def test_an_item_that_replaces_the_auto_closed_paren(code_server, tmp_path, range_model):
    head, _ = code_server.rsplit("/ws", 1)  # the same code-server, on the other folder
    url = f"{head}/{RANGE_FOLDER}"
    done = subprocess.run(
        # "print)", one left, "(": the last keystroke asks at print(‸) with the ) after the cursor
        ["node", str(E2E / "range.mjs"), url, "show.py", range_model.stem, "print)", "1", "(", "len", str(tmp_path)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    result = json.loads(done.stdout)
    assert range_model.stem in result["status"]
    # Drawn as it will be after accepting: the suggestion before the buffer's own `)`.
    assert result["shown"][:3] == ["import sys", "", "print(len(sys.argv))"], result
    assert result["lines"][:3] == ["import sys", "", "print(len(sys.argv))"], result
    assert result["lines"][3:] in ([], [""]), result


def test_a_block_grows_from_its_first_line_when_the_server_has_it(code_server, tmp_path, block_model):
    head, _ = code_server.rsplit("/ws", 1)
    done = subprocess.run(
        ["node", str(E2E / "block.mjs"), f"{head}/{BLOCK_FOLDER}", "total.py", block_model.stem,
         "def total(values):", "return sum(values)", str(tmp_path)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    assert done.returncode == 0, f"browser run failed (screenshots in {tmp_path}):\n{done.stderr}"
    result = json.loads(done.stdout)
    assert result["lines"][:3] == ["def total(values):", "    if values:", "        return sum(values)"], result
