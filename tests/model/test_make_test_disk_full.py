"""``qwenpair model make-test`` on a full disk (issue 18 findings 1 and 9): it printed a raw
traceback and left a partial ``hf/`` directory (a cut ``model.safetensors`` beside a
``config.json``) that other tools would load. Now the command ends with one message naming
the directory, the space free and the space needed, a non-zero exit code, and leaves nothing of the
build. Two ways to fill the disk: a file-size limit (``ulimit -f``, here always) and a real
3 MB tmpfs (where this process may mount one)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MAKE_TEST = [sys.executable, "-m", "qwenpair", "model", "make-test"]


def _run(out: Path, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([*MAKE_TEST, str(out), "--shape", "tiny"], capture_output=True, text=True,
                          timeout=600, preexec_fn=preexec)


def _nothing_kept(out: Path) -> None:
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if not p.name.startswith(".make_test.lock"))
    assert left == [], f"a failed build left {left}"


def _limit_files_to_2_mb() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 1024 * 1024, 2 * 1024 * 1024))


def test_file_size_limit_gives_a_message_and_leaves_nothing(tmp_path):
    out = tmp_path / "model"
    done = _run(out, _limit_files_to_2_mb)
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"cannot build the tiny test model in {out}" in done.stderr
    assert "size limit (ulimit -f)" in done.stderr and "MB free" in done.stderr and "needs about" in done.stderr
    _nothing_kept(out)
    # and with the limit gone the same directory builds and is valid
    from model.make_test import load_test_model

    assert _run(out).returncode == 0
    assert load_test_model(out, "tiny") is not None


def _mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_full_tmpfs_gives_a_message_and_leaves_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount_tmpfs(disk):
        pytest.skip("mounting a 3 MB tmpfs needs root (CAP_SYS_ADMIN); the ulimit -f test covers the rest")
    try:
        out = disk / "model"
        done = _run(out)
        assert done.returncode != 0, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert f"cannot build the tiny test model in {out}: the disk is full" in done.stderr
        _nothing_kept(out)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
