"""The identity of a loaded model file, checked before each generation.

llama.cpp maps the model file into memory: if the file is overwritten in place (truncated,
or rewritten by a tool that does not write a new file and rename it), the next read of a
weight page past the new end kills the process with SIGBUS, and a rewritten page silently
changes the weights. ``FileIdentity`` records the file's device, inode, size and
modification time at load; ``check`` raises ``ModelFileChanged`` (a message naming the file
and what to do) when any of them differs, before llama.cpp touches the weights
(issue 18 finding 6). ``qwenpair model pull`` and ``quantize`` write a temporary file and
rename it, which leaves the loaded (old) inode intact; that is a change too, reported the same way.

What it is not: a guard during a generation. A file truncated while a generation is running
can still fault; the check narrows that to the time of one generation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model.errors import ModelError


class ModelFileChanged(ModelError):
    """The model file changed on disk since it was loaded."""


@dataclass(frozen=True)
class FileIdentity:
    path: Path
    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = os.stat(path)
        return cls(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def check(self) -> None:
        """Raise ``ModelFileChanged`` unless the file is still the one that was loaded."""
        try:
            now = FileIdentity.of(self.path)
        except OSError as exc:
            raise ModelFileChanged(
                f"the model file {self.path} is gone since it was loaded ({exc.strerror}); "
                "nothing was generated. Load a model again (qwenpair.switchModel, or restart "
                "the server)") from None
        if now == self:
            return
        if (now.device, now.inode) != (self.device, self.inode):
            what = "was replaced by another file"
        elif now.size != self.size:
            what = f"was overwritten in place ({self.size:,} -> {now.size:,} bytes)"
        else:
            what = "was overwritten in place (its modification time changed)"
        raise ModelFileChanged(
            f"the model file {self.path} {what} since it was loaded; nothing was generated, "
            "since reading the changed file could crash the server. Load it again "
            "(qwenpair.switchModel, or restart the server); write model files to a new name "
            "and rename them (as qwenpair model pull does)")
