"""A GGUF write that ran out of room, in words a user can act on; and the temporary files of
writers that were killed.

Writers here put a file under a temporary name beside its final name and rename it when
complete (``model.gguf_export``), so a full disk or a kill never leaves a half file under the
final name. What they can leave is the temporary file: ``clean_dead_temps`` removes those
whose writing process is gone. Not a check made ahead of a write: space can run out for other
reasons while it runs; the failure itself is explained.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from model.errors import ModelError

#: errno values that mean "no room to write": a full disk, a quota, a file-size limit (ulimit -f).
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_MB = 1 << 20


def is_out_of_space(exc: BaseException) -> bool:
    """A write failed for lack of room. numpy's ``tofile`` (the gguf writer's) reports it as an
    OSError without errno: "N requested and M written"."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in NO_SPACE or (exc.errno is None and bool(re.search(r"requested and \d+ written", str(exc))))


def no_space_error(final: Path, needed_bytes: int, exc: BaseException) -> ModelError:
    """The error for ``final`` not fitting: why, about how much it needs, what is free."""
    try:
        free = f"{shutil.disk_usage(final.parent).free / _MB:,.1f} MB free there"
    except OSError:
        free = "free space unknown"
    why = "a file-size limit (ulimit -f) was reached" if getattr(exc, "errno", None) == errno.EFBIG else "the disk is full"
    return ModelError(
        f"ran out of disk space writing {final}: {why}; it needs about {needed_bytes / _MB:,.1f} MB ({free}). "
        "Nothing was left under that name and an earlier file there is unchanged. Free some space and run it again."
    )


def clean_dead_temps(directory: Path, pattern: re.Pattern[str]) -> None:
    """Remove files in ``directory`` whose name matches ``pattern`` (group ``pid``: the writer's
    process id) when that process no longer runs: what a killed writer left."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if not m or int(m.group("pid")) == os.getpid() or _alive(int(m.group("pid"))):
            continue
        Path(entry.path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
