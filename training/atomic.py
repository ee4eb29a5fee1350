"""Atomic file and directory writes: a reader sees the old thing or the new thing, never half.

Files are written under a temporary name in the same directory, flushed and fsynced, then
renamed over the final name (``os.replace`` is atomic on POSIX). Directories (checkpoints)
are filled under a ``.tmp-`` name and renamed when complete. A kill or a full disk at any
moment leaves at most a ``.tmp-`` leftover, which ``clean_tmp`` removes on the next run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from training.errors import OutOfSpace

TMP_PREFIX = ".tmp-"

#: errno values that mean "no room to write": a full disk, a quota, a file-size limit.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_MB = 1 << 20


def is_out_of_space(exc: BaseException) -> bool:
    """A write failed for lack of room. Rust writers (safetensors 0.4+) raise their own error
    type whose message carries the errno as "(os error N)"; torch.save into a Python file
    raises a RuntimeError ("unexpected pos") whose context is the file's OSError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return True
        if any(f"(os error {n})" in str(exc) for n in _NO_SPACE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def folder_bytes(path: Path | None) -> int:
    """Bytes of the files under ``path`` (0 when it is missing)."""
    if path is None or not Path(path).exists():
        return 0
    p = Path(path)
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def space_note(directory: Path, needed_bytes: int) -> str:
    """"it needs about X MB, Y MB free there" (and the file-size limit when one is set): the
    figures a message about a full disk gives."""
    try:
        free = f"{shutil.disk_usage(directory).free / _MB:,.1f} MB free there"
    except OSError:
        free = "free space unknown"
    need = f"it needs about {needed_bytes / _MB:,.1f} MB" if needed_bytes > 0 else "how much it needs is not known"
    note = f"{need}, {free}"
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            note += f", and files are limited to {soft / _MB:,.2f} MB (ulimit -f)"
    except (ImportError, OSError, ValueError):
        pass
    return note


def torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a Python file, so that a full disk surfaces as the file's
    OSError (torch's own writer reports only "iostream error")."""
    import torch

    with open(path, "wb") as fh:
        torch.save(obj, fh)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_name(final: Path) -> Path:
    return final.with_name(f"{TMP_PREFIX}{final.name}-{os.getpid()}")


@contextmanager
def atomic_open(final: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that becomes ``final`` only if the block finishes.

    On any error (a full disk included) the temporary file is removed and the error is
    re-raised; running out of space becomes ``OutOfSpace`` naming the file.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(final)
    try:
        with open(tmp, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_out_of_space(exc):
            raise OutOfSpace(
                f"ran out of disk space writing {final} ({space_note(final.parent, folder_bytes(final))}); "
                "nothing was left under that name. "
                "Free some space and run the same command again (finished work is kept)."
            ) from exc
        raise
    fsync_dir(final.parent)


def write_bytes(final: Path, data: bytes) -> None:
    with atomic_open(final, "wb") as fh:
        fh.write(data)


def write_text(final: Path, text: str) -> None:
    write_bytes(final, text.encode("utf-8"))


def write_json(final: Path, obj: Any) -> None:
    write_text(final, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def commit_dir(tmp: Path, final: Path) -> None:
    """Rename a fully written directory ``tmp`` to ``final`` (replacing an older ``final``)."""
    for f in tmp.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    if final.exists():
        old = final.with_name(f"{TMP_PREFIX}old-{final.name}-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    fsync_dir(final.parent)


def recover_dir(final: Path) -> None:
    """Tidy what a killed ``commit_dir`` of ``final`` left: if it died between its two renames,
    the complete older folder is ``.tmp-old-<name>-<pid>`` and ``final`` is missing, so it is
    put back; other leftovers of dead processes for this name are removed."""
    final = Path(final)
    for p in sorted(final.parent.glob(f"{TMP_PREFIX}*{final.name}-*")) if final.parent.is_dir() else []:
        pid = p.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if p.name.startswith(f"{TMP_PREFIX}old-{final.name}-") and not final.exists():
            os.replace(p, final)
        elif p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover from an earlier failed attempt
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_tmp(directory: Path) -> list[Path]:
    """Remove ``.tmp-`` leftovers of killed runs in ``directory``; returns what was removed."""
    removed = []
    if not directory.is_dir():
        return removed
    for p in directory.iterdir():
        if p.name.startswith(TMP_PREFIX):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed
