"""Reading a workspace file for the index: bounded, non-blocking, and never an exception.

Every read is capped (``max_bytes``, one byte more to see a file that grew since it was
listed), refuses what is not a regular file (a FIFO swapped in since the scan cannot stall a
worker: the open is non-blocking), and turns each failure into a skip reason ("vanished",
"unreadable", "symlink loop", "not a regular file", "too large") for ``FileSkip``.

What it is not: the path rules (``rules``) or content rules and extraction (``extract``).
"""

from __future__ import annotations

import errno
import os
import stat


def read_limited(path: str, max_bytes: int) -> bytes | str:
    """The file's bytes, or a skip reason. Never reads more than ``max_bytes + 1`` bytes, so
    a 200 MB file (or one that grew since it was listed) costs one small read."""
    got = read_file(path, max_bytes)
    return got if isinstance(got, str) else got[0]


_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_advise = getattr(os, "posix_fadvise", None)


def open_file(path: str) -> int | str:
    """A file descriptor, or a skip reason. Non-blocking, so that a file swapped for a FIFO
    since the scan cannot stall a worker."""
    try:
        return os.open(path, _FLAGS)
    except FileNotFoundError:
        return "vanished"
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else "unreadable"


def read_file(path: str, max_bytes: int) -> tuple[bytes, int] | str:
    """(bytes, mtime_ns taken before reading) or a skip reason; see ``read_limited``."""
    fd = open_file(path)
    return fd if isinstance(fd, str) else read_open(fd, max_bytes)


def read_open(fd: int, max_bytes: int) -> tuple[bytes, int] | str:
    """``read_file`` of an open file, which this closes. Reads the size fstat gives (plus a
    byte, to see growth), not a buffer of the cap."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_size > max_bytes:
            return "too large"
        parts: list[bytes] = []
        total, want = 0, st.st_size + 1
        while want > 0:
            chunk = os.read(fd, want)
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            want = max_bytes + 1 - total
    except OSError:
        return "unreadable"
    finally:
        os.close(fd)
    if total > max_bytes:
        return "too large"
    return (parts[0] if len(parts) == 1 else b"".join(parts)), st.st_mtime_ns


def will_read(fds: list[int]) -> None:
    """Ask the kernel to read these files ahead (WILLNEED): with a cold page cache the disk
    reads the rest of a task while its first files parse."""
    if _advise is None:
        return
    for fd in fds:
        try:
            _advise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
