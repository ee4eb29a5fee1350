"""``qwenpair model pull``: download a registry model's GGUF, resumably and verified.

One of the two explicit download steps (``model vocab`` is the other; docs/security.md), run
only when the user asks: ``model.offline`` makes it refuse inside any other command.
huggingface_hub resolves the file (its URL under ``HF_ENDPOINT``, size, SHA-256 and auth headers); we
stream it into ``<file>.part`` with HTTP Range so that a second ``pull`` after an
interruption continues where the first stopped (huggingface_hub 1.x+ downloads into a
per-process temporary file and starts over), check size and SHA-256, and only then rename
it to its final name: a half file never sits under the name the loader looks for. With no
network the error names the exact file and where to put it; on a disk too full for the rest
(or under ``ulimit -f``) it names the directory, how much more is needed and what is free,
and keeps the ``.part`` for the resume. A models directory that cannot be written (read-only,
no permission) is said before anything is downloaded, naming it and QWENPAIR_MODELS_DIR.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from model import registry
from model.errors import DownloadError
from model.loader import local_path

CHUNK = 1 << 20
#: errno values that mean "no room to write": a full disk, a quota, a file-size limit (ulimit -f).
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: errno values that mean "this directory cannot be written at all".
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}


@dataclass(frozen=True)
class PullResult:
    path: Path
    size: int
    sha256: str | None
    already_present: bool
    resumed_from: int = 0


def _manual_hint(spec: registry.ModelSpec, filename: str, target: Path) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return (
        f"download {endpoint}/{spec.gguf_repo}/resolve/main/{filename} on a machine with "
        f"network access and put it at {target}"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK * 4):
            h.update(block)
    return h.hexdigest()


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MB"


def _no_room(spec: registry.ModelSpec, part: Path, size: int | None, why: str) -> DownloadError:
    """The message for a download that does not fit: the file, what it needs, what is free."""
    have = part.stat().st_size if part.exists() else 0
    try:
        free = _mb(shutil.disk_usage(part.parent).free)
    except OSError:
        free = "unknown"
    need = f"it needs {_mb(size - have)} more" if size is not None else "its size is unknown"
    return DownloadError(
        f"no room to download {part.name.removesuffix('.part')} into {part.parent}: {why}; {need}, {free} free there. "
        f"Free some space (or set QWENPAIR_MODELS_DIR to a disk with room) and run `qwenpair model pull "
        f"{spec.name}` again: the {_mb(have)} already in {part.name} are kept and the download resumes"
    )


def _not_writable(directory: Path, exc: OSError) -> DownloadError:
    return DownloadError(
        f"cannot write into {directory} ({exc.strerror or exc}): the models directory must be writable. "
        "Make it writable, or set QWENPAIR_MODELS_DIR to a writable directory, and pull again; nothing was written"
    )


def _resolve(spec: registry.ModelSpec, filename: str, revision: str):
    """(url, size, sha256 or None, headers) from the hub's metadata."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(spec.gguf_repo, filename, revision=revision)
    meta = get_hf_file_metadata(url)
    etag = (meta.etag or "").strip('"')
    sha = etag if len(etag) == 64 and all(c in "0123456789abcdef" for c in etag) else None
    return meta.location or url, meta.size, sha, build_hf_headers()


def _stream(url: str, part: Path, size: int | None, headers: dict, quiet: bool) -> int:
    """Append the rest of ``url`` to ``part``; returns the byte offset it resumed from."""
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    if size is not None and have == size:
        return have
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=request_headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        mode = "ab"
        if have and resp.status != 206:  # the server ignored Range: start over
            mode, have = "wb", 0
        from tqdm import tqdm

        with part.open(mode) as out, tqdm(
            total=size, initial=have, unit="B", unit_scale=True, desc=part.name.removesuffix(".part"),
            disable=quiet, file=sys.stderr,
        ) as bar:
            while block := resp.read(CHUNK):
                out.write(block)
                bar.update(len(block))
    return have


def pull(name: str, quant: str | None = None, *, revision: str = "main", quiet: bool = False) -> PullResult:
    """Download ``name`` (registry name) into the models directory; verify size and hash."""
    from model.offline import refuse_network

    spec = registry.get(name)
    refuse_network(f"downloading {spec.name}")
    target = local_path(spec, quant)
    filename = target.name
    try:
        url, size, sha, headers = _resolve(spec, filename, revision)
    except Exception as exc:  # no DNS, refused, offline mode, missing entry
        if type(exc).__name__ in ("EntryNotFoundError", "RemoteEntryNotFoundError"):
            raise DownloadError(f"{spec.gguf_repo} has no file {filename}") from exc
        raise DownloadError(
            f"cannot reach the Hugging Face hub to download {spec.gguf_repo}/{filename} "
            f"({type(exc).__name__}). To install it by hand: {_manual_hint(spec, filename, target)}."
        ) from exc

    if target.exists() and (size is None or target.stat().st_size == size):
        if sha is None or _sha256(target) == sha:
            return PullResult(target, target.stat().st_size, sha, True)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(target.parent, os.W_OK):  # access(2) says EROFS for root too
            raise PermissionError(errno.EACCES, "not writable", str(target.parent))
    except OSError as exc:
        raise _not_writable(target.parent, exc) from exc
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        free = None
    if size is not None and free is not None and size - have > free:  # say so now, not after filling the disk
        raise _no_room(spec, part, size, "the disk is too full")
    try:
        resumed = _stream(url, part, size, headers, quiet)
    except OSError as exc:
        if exc.errno in _NO_SPACE:  # URLError is an OSError without errno: not this
            why = "a file-size limit (ulimit -f) was reached" if exc.errno == errno.EFBIG else "the disk is full"
            raise _no_room(spec, part, size, why) from exc
        if exc.errno in _NOT_WRITABLE:
            raise _not_writable(target.parent, exc) from exc
        have = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            f"downloading {spec.gguf_repo}/{filename} stopped after {have:,} bytes ({exc}); "
            f"run `qwenpair model pull {spec.name}` again to resume, or {_manual_hint(spec, filename, target)}"
        ) from exc
    got = part.stat().st_size
    if size is not None and got != size:
        raise DownloadError(
            f"{part} has {got:,} of {size:,} bytes; run `qwenpair model pull {spec.name}` again to resume"
        )
    digest = _sha256(part) if sha else None
    if sha and digest != sha:
        part.unlink()
        raise DownloadError(f"{spec.gguf_repo}/{filename} failed its SHA-256 check; removed it, pull again")
    os.replace(part, target)
    return PullResult(target, got, digest, False, resumed)
