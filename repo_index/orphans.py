"""Index worker processes end when the process that started them dies.

A worker waits for tasks on a pipe that it holds both ends of (multiprocessing pickles a
queue's reader and writer together), so it never sees end-of-file: after a SIGKILL of the
indexer or the server, the workers lived on until something killed them. Two guards, set
up by each worker when it starts (``guard``):

- On Linux, ``PR_SET_PDEATHSIG``: the kernel sends SIGKILL when the worker's parent exits.
  With the forkserver start method that parent is the fork server, which exits as soon as
  its own parent, the indexing process, is gone (it reads end-of-file on a pipe only that
  process holds). The signal follows the death of the parent *thread*; the fork server has
  one thread, so that is the same.
- Everywhere, a daemon thread that checks every second whether the parent changed or the
  indexing process (whose pid the pool passes down) is gone, and then ends the worker: the
  fallback where prctl is missing, and a second line if the fork server outlived its parent.

Not for the fork server itself: it is started by whichever thread of the indexing process
first needed workers, and a death signal tied to that thread would kill it when that
thread ends.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_WATCH_S = 1.0


def guard(owner_pid: int) -> None:
    """Make this worker end when its parent or ``owner_pid`` (the indexing process) dies."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        _set_parent_death_signal()
    if not _alive(parent) or os.getppid() != parent or not _alive(owner_pid):
        os._exit(1)  # the parent died before the signal was armed: nothing would send it
    threading.Thread(target=_watch, args=(parent, owner_pid), name="repo-index-orphan-watch", daemon=True).start()


def _set_parent_death_signal() -> bool:
    try:
        # The symbols already loaded (libc among them): find_library would run ldconfig.
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc by that name, or no prctl: the watch thread remains
        return False


def _watch(parent: int, owner_pid: int) -> None:
    while True:
        time.sleep(_WATCH_S)
        if os.getppid() != parent or not _alive(owner_pid):
            os._exit(1)  # no cleanup to do: results would go to nobody


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's (a reused pid): counted alive
        return True
    return True
