"""The VS Code extension builds, lints, passes its unit tests and packages into a .vsix.

Runs the extension's own npm scripts in editors/vscode (tsc, eslint, `node --test`, vsce) with
the dependencies that .ci/setup installs (`npm ci`), then checks that the package holds what
VS Code loads: the manifest, the compiled entry point, the chat webview and the language
client it requires at run time. Run: .venv/bin/pytest -q tests/e2e/test_vscode_build.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"

pytestmark = pytest.mark.slow


def npm(*args: str) -> str:
    assert shutil.which("npm"), "npm is not installed: run .ci/setup"
    assert (EXTENSION / "node_modules" / ".bin" / "tsc").exists(), "node deps missing: run .ci/setup (npm ci)"
    done = subprocess.run(
        ["npm", "run", *args], cwd=EXTENSION, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"npm run {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_build_lint_unit_tests_and_package(tmp_path):
    npm("build")
    npm("lint")
    report = npm("test")
    assert "# fail 0" in report
    assert int(report.split("# pass ")[1].split()[0]) >= 31

    vsix = tmp_path / "qwenpair.vsix"
    npm("package", "--", "-o", str(vsix))
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
    assert {
        "extension/out/extension.js",
        "extension/media/chat.js",
        "extension/node_modules/vscode-languageclient/lib/node/main.js",
        "extension/readme.md",
    } <= names
    assert not any(n.startswith(("extension/src/", "extension/out/test/", "extension/e2e/")) for n in names)
    assert manifest["main"] == "./out/extension.js"
    contributed = {c["command"] for c in manifest["contributes"]["commands"]}
    assert {"qwenpair.openChat", "qwenpair.editSelection", "qwenpair.reindexWorkspace", "qwenpair.pickModel",
            "qwenpair.suggestNextEdit", "qwenpair.acceptNextEdit", "qwenpair.dismissNextEdit",
            "qwenpair.acceptNextWord", "qwenpair.acceptNextLine", "qwenpair.dismissSuggestion"} <= contributed
    keys = {(k["key"], k["command"]) for k in manifest["contributes"]["keybindings"]}
    assert {("tab", "qwenpair.acceptNextEdit"), ("escape", "qwenpair.dismissNextEdit"),
            ("ctrl+right", "qwenpair.acceptNextWord"), ("escape", "qwenpair.dismissSuggestion")} <= keys
    settings = manifest["contributes"]["configuration"]["properties"]
    assert {"qwenpair.model", "qwenpair.adapter", "qwenpair.contextTokens", "qwenpair.latencyTarget", "qwenpair.enable",
            "qwenpair.nextEdit.enabled", "qwenpair.nextEdit.pauseMs"} <= set(settings)
