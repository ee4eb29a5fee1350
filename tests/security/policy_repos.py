"""Crafted repositories and the real CLI, for the source-policy tests of issue 14.

Not a test module: the tests in this folder (test_symlinks.py, test_root.py ...) import it.
Every repository is a real directory tree in ``tmp_path`` (a real git repository where the
finding needs one), and every command is the real ``qwenpair`` run as a subprocess.
Each secret and each file that must never leak carries a MARKER string, so a test can say
"this text appears nowhere in what was sent" without knowing the prompt format.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The body line of a fake private key: if it appears in any output, the key leaked.
KEY_MARKER = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    f"{KEY_MARKER}\n"
    "QyNTUxOQAAACDx3kq0fFQTRYLOqmgLPhU7YQkqfXjZfB2jNy8Y3WqgAAAAJgAAAAAAAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
AWS_KEY_ID = "AKIAQWERTYUIOPASDFGH"
AWS_SECRET = "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"
AWS_KEYS = f'AWS_ACCESS_KEY_ID = "{AWS_KEY_ID}"\naws_secret_access_key = "{AWS_SECRET}"\n'
#: What a file outside the workspace, an ignored file or .git/config says.
OUTSIDE_MARKER = "OUTSIDE_MARKER_7f3a"
IGNORED_MARKER = "IGNORED_MARKER_51c2"
GIT_TOKEN = "ghp_" + "Z9" * 18  # a GitHub-token-shaped secret in a remote URL
GITCFG_MARKER = "gitcfg-marker-host.example"

QWENPAIR = [sys.executable, "-m", "qwenpair"]


def qp(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real CLI as a subprocess."""
    return subprocess.run([*QWENPAIR, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=dict(os.environ))


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def git_init(root: Path) -> None:
    """A real git repository whose .git/config carries a remote URL with a token."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin",
                    f"https://bob:{GIT_TOKEN}@{GITCFG_MARKER}/team/app.git"], check=True)


def filler(n_bytes: int, name: str = "pad") -> str:
    """Ordinary Python functions, about ``n_bytes`` long."""
    out, i = [], 0
    size = 0
    while size < n_bytes:
        line = f"def {name}_{i}(value):\n    return value + {i}\n\n\n"
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out)


def project_code(n_files: int = 6) -> dict[str, str]:
    """A small repository that uses helpers across files (retrieval has something to find)."""
    files = {
        "app/util.py": "def scale(value, factor):\n    return value * factor\n\n\ndef shift(value, by):\n    return value + by\n",
        "app/main.py": (
            "from app.util import scale, shift\nfrom app.leaklink import outside_helper\n\n\n"
            "def run(x):\n    y = scale(x, 2)\n    z = shift(y, 3)\n    w = outside_helper(z)\n"
            "    return private_helper(w)\n"
        ),
    }
    for i in range(n_files):
        files[f"app/mod{i}.py"] = (
            f"from app.util import scale\n\n\nclass Thing{i}:\n    def __init__(self, v):\n        self.v = v\n\n"
            f"    def grow(self):\n        if self.v > {i}:\n            return scale(self.v, {i + 2})\n"
            f"        return self.v\n\n\ndef make{i}(v):\n    thing = Thing{i}(v)\n    return thing.grow()\n"
        )
    return files


def all_output(res: subprocess.CompletedProcess) -> str:
    return res.stdout + res.stderr
