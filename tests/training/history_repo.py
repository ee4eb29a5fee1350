"""A small git history for the next-edit sample tests, written with ``git fast-import`` (one
process, dated commits): a module edited in two or three places per commit, and the bad input
the sampler must count and keep out (a secret file, an ignored file, a secret line added to an
ordinary file, a binary diff, a rename, a merge, a commit over the file cap)."""

from __future__ import annotations

import subprocess
from pathlib import Path

GITHUB_TOKEN = "ghp_" + "A1b2" * 9  # a secret-looking line (the content rules' GitHub token)
SECRET_ENV = "do-not-sample-me"  # in .env, a secret file by name
IGNORED = "ignored helpers text"  # in ignored.py, under .gitignore (added with -f)
T0 = 1_700_000_000


def module(n: int, version: int) -> list[str]:
    """A 40-line module; ``version`` bumps the names of functions in two places per step."""
    out = [f'"""Module {n}."""', "", "import math", ""]
    for f in range(6):
        v = version if f in (version % 3, version % 3 + 1) else 0
        out += [f"def f{n}_{f}(x, y={f + v}):", f"    total = x * {f + 1} + y", f"    return math.sqrt(total + {v})", ""]
    out += ["", "VALUE = 1", "OTHER = 2", "LAST = 3"]
    return out


class FastImport:
    """A stream for ``git fast-import``: commits with files, dated in order."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0
        self.head = 0  # the main branch's last commit
        self.when = T0

    def commit(self, message: str, files: dict[str, bytes | None], *, merge: int | None = None,
               renames: tuple[tuple[str, str], ...] = ()) -> int:
        self.mark += 1
        self.when += 3600
        head = (f"commit refs/heads/main\nmark :{self.mark}\ncommitter t <t@t> {self.when} +0000\n"
                f"data {len(message)}\n{message}\n")
        if self.head:
            head += f"from :{self.head}\n"
        if merge is not None:
            head += f"merge :{merge}\n"
        body = b"".join(f"R {a} {b}\n".encode() for a, b in renames)
        for path, data in files.items():
            body += f"D {path}\n".encode() if data is None else (
                f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        self.parts.append(head.encode() + body + b"\n")
        self.head = self.mark
        return self.mark

    def branch_commit(self, message: str, files: dict[str, bytes], parent: int) -> int:
        """A commit on a side branch from ``parent`` (for a merge)."""
        self.mark += 1
        self.when += 3600
        body = b"".join(f"M 100644 inline {p}\ndata {len(d)}\n".encode() + d + b"\n" for p, d in files.items())
        self.parts.append(f"commit refs/heads/side\nmark :{self.mark}\ncommitter t <t@t> {self.when} +0000\n"
                          f"data {len(message)}\n{message}\nfrom :{parent}\n".encode() + body + b"\n")
        return self.mark

    def run(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "fast-import", "--quiet"], input=b"".join(self.parts), check=True)
        subprocess.run(["git", "-C", str(root), "checkout", "-q", "-f", "main"], check=True)
        return root


def text(lines: list[str]) -> bytes:
    return "".join(f"{s}\n" for s in lines).encode()


def make_history(root: Path, versions: int = 12) -> Path:
    """Modules m0..m2 edited ``versions`` times, with the bad input in between."""
    fi = FastImport()
    fi.commit("start", {**{f"pkg/m{n}.py": text(module(n, 0)) for n in range(3)},
                        ".gitignore": b"ignored.py\n", ".env": f"API_KEY={SECRET_ENV}\nA=1\nB=2\nC=3\nD=4\nE=5\n".encode(),
                        "ignored.py": text([IGNORED, *module(9, 0)[1:]]), "logo.png": b"\x89PNG\0\0\x01"})
    for v in range(1, versions + 1):
        fi.commit(f"v{v}", {f"pkg/m{v % 3}.py": text(module(v % 3, v))})
        if v == 3:  # the secret and ignored files, edited in two places
            fi.commit("secret edits", {".env": f"API_KEY={SECRET_ENV}\nA=9\nB=2\nC=3\nD=4\nE={SECRET_ENV}\n".encode(),
                                       "ignored.py": text([IGNORED, *module(9, 1)[1:]])})
        if v == 4:  # an ordinary file gains a secret-looking line beside a two-hunk change
            lines = module(1, 5)
            lines[1] = f"TOKEN = '{GITHUB_TOKEN}'"
            fi.commit("token", {"pkg/m1.py": text(lines), "logo.png": b"\x89PNG\0\0\x02"})
            fi.commit("token gone", {"pkg/m1.py": text(module(1, 4))})
        if v == 6:  # a rename with edits, then back
            fi.commit("rename", {"pkg/m2b.py": text(module(2, 7))}, renames=(("pkg/m2.py", "pkg/m2b.py"),))
            fi.commit("rename back", {"pkg/m2.py": text(module(2, 6))}, renames=(("pkg/m2b.py", "pkg/m2.py"),))
        if v == 8:  # a commit over the test's file cap (6), and a merge
            fi.commit("bulk", {f"bulk/b{i}.py": text(module(10 + i, 0)) for i in range(8)})
            side = fi.branch_commit("side", {"side.py": b"x = 1\n"}, fi.head)
            fi.commit("merge", {}, merge=side)
    return fi.run(root)
