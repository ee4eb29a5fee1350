"""Explaining a write to the index store that failed for lack of space, in words a user can act on.

The operating system says ENOSPC (disk full), EDQUOT (quota) or EFBIG (a file-size limit,
``ulimit -f``). SQLite says SQLITE_FULL for a full disk but only SQLITE_IOERR_WRITE
("disk I/O error") for a file-size limit: it keeps no errno. ``is_out_of_space`` knows
both; ``explain`` names the directory, what is free there, the file-size limit if one is
set, and about how much more the index needs, and says what to do.

Not a check made ahead of a build: how much an index takes depends on the files, and
space can run out for other reasons while it runs. The failure itself is what is
explained.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no file-size limits
    resource = None  # type: ignore[assignment]

_SQLITE_FULL = 13
_SQLITE_IOERR = 10
_NO_SPACE = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_MB = 1024 * 1024


def is_out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for lack of space (or a write I/O error,
    which is how SQLite reports a file-size limit)."""
    if isinstance(exc, OSError):
        return exc.errno in _NO_SPACE
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_FULL, _SQLITE_IOERR)
        text = str(exc)
        return "disk is full" in text or "disk I/O error" in text
    return False


def file_size_limit() -> int | None:
    """The soft RLIMIT_FSIZE in bytes, None when there is none."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def used_bytes(directory: Path) -> int:
    """Bytes the files directly in ``directory`` take (a store: database, log, snapshot)."""
    total = 0
    try:
        for entry in os.scandir(directory):
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                pass
    except OSError:
        pass
    return total


def explain(exc: BaseException, directory: Path, needed_bytes: int | None = None) -> str:
    """One message for a failed write into ``directory`` (see the module docstring);
    ``needed_bytes``: about how much more the index needs, when it can be estimated."""
    try:
        free: int | None = shutil.disk_usage(directory).free
    except OSError:
        free = None
    limit = file_size_limit()
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG or (limit is not None and code is not None
                                                                 and code & 0xFF == _SQLITE_IOERR):
        why = f"a file reached the file-size limit (ulimit -f) of {_mb(limit or 0)}"
    elif isinstance(exc, OSError) and exc.errno == getattr(errno, "EDQUOT", None):
        why = "the disk quota is used up"
    elif code is not None and code & 0xFF == _SQLITE_IOERR:
        why = f"a disk I/O error ({exc})"
    else:
        why = "no space left on the device"
    room = f"{_mb(free)} free there" if free is not None else "free space unknown"
    if needed_bytes:
        room += f", the index needs about {_mb(needed_bytes)} more"
    return (f"cannot write the index in {directory}: {why} ({room}). Free some space (or raise the limit), "
            f"or set QWENPAIR_CACHE_DIR to a directory on a disk with room, and run it again; "
            f"what was indexed so far is kept and the next run goes on from there")


#: errno values that mean "this directory cannot be written": a read-only filesystem, no permission.
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


def is_not_writable(exc: BaseException) -> bool:
    """Whether ``exc`` is a write refused because the cache directory is read-only (or
    not ours): the OS says EROFS/EACCES/EPERM, SQLite "readonly database" or "unable to open"."""
    if isinstance(exc, OSError):
        return exc.errno in _NOT_WRITABLE
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "readonly database" in text or "unable to open database file" in text
    return False


def explain_not_writable(exc: BaseException, directory: Path) -> str:
    """One message for a store directory that cannot be written (see ``is_not_writable``)."""
    where = getattr(exc, "filename", None) or directory
    why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (f"cannot write the index in {directory}: {where} is not writable ({why}). Make that directory "
            "writable, or set QWENPAIR_CACHE_DIR to a directory you can write, and run it again")


def _mb(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB // 10 else f"{n // 1024} KB"
