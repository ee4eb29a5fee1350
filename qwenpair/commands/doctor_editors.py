"""The editor checks of ``qwenpair doctor``: does each integration find the server?

All three start ``qwenpair serve`` by default and look ``qwenpair`` up on PATH: the Neovim
plugin (``cmd`` in ``require('qwenpair').setup``), the VS Code extension
(``qwenpair.serverCommand``) and the Zed extension (``lsp.qwenpair.binary.path``). So the
first check is PATH itself; then, for each editor that is installed and has the integration,
the command its own settings name. An editor that is not installed, or has no qwenpair
integration, is reported as – (not applicable), never as a failure.

Settings files are read, never written; Neovim is asked in a headless instance with the
user's configuration (10 s at most), since only it can evaluate a Lua config.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from qwenpair.commands.doctor import Check

VSCODE_SETTINGS = (
    "~/.config/Code/User/settings.json", "~/.config/Code - OSS/User/settings.json",
    "~/.config/VSCodium/User/settings.json", "~/.local/share/code-server/User/settings.json",
    "~/.vscode-server/data/Machine/settings.json",
)
VSCODE_EXTENSIONS = ("~/.vscode/extensions", "~/.vscode-oss/extensions", "~/.local/share/code-server/extensions",
                     "~/.vscode-server/extensions")
ZED_SETTINGS = "~/.config/zed/settings.json"
NVIM_PROBE = (
    "lua local ok, c = pcall(require, 'qwenpair.config')"
    " io.stdout:write(vim.json.encode(ok and {cmd = c.options.cmd,"
    " found = vim.fn.executable(c.options.cmd[1]) == 1} or {absent = true}))"
)


def editor_checks() -> list[Check]:
    return [path_check(), nvim_check(), vscode_check(), zed_check()]


def _this_bin() -> Path:
    return Path(sys.prefix) / "bin" / "qwenpair"


def path_check() -> Check:
    found = shutil.which("qwenpair")
    here = _this_bin()
    fix = (f'export PATH="{here.parent}:$PATH" in your shell profile, or give the editors the full path {here} '
           "(Neovim: cmd = {'" + str(here) + "', 'serve'}; VS Code: qwenpair.serverCommand; Zed: lsp.qwenpair.binary.path)")
    if not found:
        return Check("editors: `qwenpair` on PATH", "fail",
                     "not found, and every editor integration starts `qwenpair serve` from PATH by default", fix)
    if here.exists() and Path(found).resolve() != here.resolve():
        return Check("editors: `qwenpair` on PATH", "ok",
                     f"{found} (note: this doctor runs from {here}; editors start the one on PATH)")
    return Check("editors: `qwenpair` on PATH", "ok", found)


def _command_found(command: str) -> bool:
    return bool(shutil.which(command)) or (os.path.isabs(command) and os.access(command, os.X_OK))


def nvim_check() -> Check:
    name = "editors: Neovim plugin"
    nvim = shutil.which("nvim")
    if not nvim:
        return Check(name, "info", "Neovim is not installed")
    try:
        proc = subprocess.run([nvim, "--headless", "+" + NVIM_PROBE, "+qa!"], capture_output=True, text=True,
                              timeout=10, stdin=subprocess.DEVNULL)
        data = json.loads(proc.stdout.strip() or proc.stderr.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return Check(name, "info", f"could not ask {nvim} (no answer in 10 s); run :checkhealth qwenpair in Neovim")
    if data.get("absent"):
        return Check(name, "info", f"the plugin is not on {nvim}'s runtimepath (editors/nvim; editors/README.md)")
    cmd = " ".join(data.get("cmd") or [])
    if data.get("found"):
        return Check(name, "ok", f"starts `{cmd}`, which Neovim finds")
    return Check(name, "fail", f"its cmd `{cmd}` is not an executable Neovim finds",
                 f"set cmd = {{'{_this_bin()}', 'serve'}} in require('qwenpair').setup(), or put qwenpair on PATH")


def _read_jsonc(path: Path) -> dict | None:
    """A VS Code / Zed settings file: JSON with comments and trailing commas."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    text = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "", text, flags=re.S)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def vscode_check() -> Check:
    name = "editors: VS Code extension"
    installed = [p for d in VSCODE_EXTENSIONS for p in glob.glob(os.path.join(os.path.expanduser(d), "*qwenpair*"))]
    if not installed:
        return Check(name, "info", "the extension is not installed (editors/vscode; editors/README.md)")
    for settings in VSCODE_SETTINGS:
        path = Path(settings).expanduser()
        data = _read_jsonc(path) if path.exists() else None
        if data and data.get("qwenpair.serverCommand"):
            command = data["qwenpair.serverCommand"]
            first = command[0] if isinstance(command, list) and command else None
            if isinstance(first, str) and _command_found(first):
                return Check(name, "ok", f"qwenpair.serverCommand in {path}: `{' '.join(command)}` is found")
            return Check(name, "fail", f"qwenpair.serverCommand in {path} is {command!r}, not an executable found",
                         f'set "qwenpair.serverCommand": ["{_this_bin()}", "serve"] in {path}')
    if shutil.which("qwenpair"):
        return Check(name, "ok", f"{installed[0]}: the default `qwenpair serve` is found on PATH")
    return Check(name, "fail", f"{installed[0]}: the default `qwenpair serve` is not on PATH",
                 f'put qwenpair on PATH, or set "qwenpair.serverCommand": ["{_this_bin()}", "serve"] in the user settings')


def zed_check() -> Check:
    name = "editors: Zed extension"
    path = Path(ZED_SETTINGS).expanduser()
    data = _read_jsonc(path) if path.exists() else None
    if data is None:
        return Check(name, "info", "Zed is not configured here (editors/zed; editors/README.md)")
    binary = (((data.get("lsp") or {}).get("qwenpair") or {}).get("binary") or {}).get("path")
    if binary:
        if _command_found(binary):
            return Check(name, "ok", f"lsp.qwenpair.binary.path in {path}: {binary} is found")
        return Check(name, "fail", f"lsp.qwenpair.binary.path in {path} is {binary!r}, not an executable",
                     f'set "lsp": {{"qwenpair": {{"binary": {{"path": "{_this_bin()}"}}}}}} in {path}')
    if shutil.which("qwenpair"):
        return Check(name, "ok", "the extension finds `qwenpair` on PATH")
    return Check(name, "fail", "no lsp.qwenpair.binary.path and `qwenpair` is not on PATH",
                 f'set "lsp": {{"qwenpair": {{"binary": {{"path": "{_this_bin()}"}}}}}} in {path}, or put qwenpair on PATH')
