"""Test helper: a directory this process cannot write, for the read-only fault tests.

As a normal user, ``chmod 555`` is enough. As root (CI here) chmod does not stop writes, so the
directory is bind-mounted read-only instead; where that is not allowed the test is skipped
with the reason (it needs CAP_SYS_ADMIN, or a kernel that remounts bind mounts read-only).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only_view(src: Path, mount_point: Path) -> Iterator[Path]:
    """``src`` made unwritable (with every directory inside it), or a read-only bind mount of
    it at ``mount_point``: the path to use."""
    if os.geteuid() != 0:
        dirs = [src, *(p for p in src.rglob("*") if p.is_dir())]
        for d in dirs:
            os.chmod(d, 0o555)
        try:
            yield src
        finally:
            for d in dirs:
                os.chmod(d, 0o755)
        return
    mount_point.mkdir(exist_ok=True)
    if subprocess.run(["mount", "--bind", str(src), str(mount_point)], capture_output=True).returncode != 0:
        pytest.skip("a read-only bind mount needs CAP_SYS_ADMIN, and as root chmod does not stop writes")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(mount_point)], capture_output=True).returncode != 0:
            pytest.skip("this kernel refuses to remount a bind mount read-only")
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)
