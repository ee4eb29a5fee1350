"""``qwenpair model pull``: download a registry model's GGUF with huggingface_hub.

The only network traffic qwenpair makes, and only when the user asks. huggingface_hub
downloads into a ``.incomplete`` file beside the target and renames it when complete, and
resumes an interrupted download with a Range request; we add the size and SHA-256 check
against the hub's metadata, and a clear message naming the exact file and where to put it
when the hub cannot be reached.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from model import registry
from model.errors import DownloadError
from model.loader import local_path


@dataclass(frozen=True)
class PullResult:
    path: Path
    size: int
    sha256: str | None
    already_present: bool


def _manual_hint(spec: registry.ModelSpec, filename: str, target: Path) -> str:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return (
        f"download {endpoint}/{spec.gguf_repo}/resolve/main/{filename} on a machine with "
        f"network access and put it at {target}"
    )


def _sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def pull(name: str, quant: str | None = None, *, revision: str = "main") -> PullResult:
    """Download ``name`` (registry name) into the models directory; verify size and hash."""
    spec = registry.get(name)
    target = local_path(spec, quant)
    filename = target.name
    try:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
        from huggingface_hub.errors import EntryNotFoundError, OfflineModeIsEnabled
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise DownloadError(f"huggingface_hub is not installed ({exc}); reinstall qwenpair") from exc

    try:
        meta = get_hf_file_metadata(hf_hub_url(spec.gguf_repo, filename, revision=revision))
    except EntryNotFoundError as exc:
        raise DownloadError(f"{spec.gguf_repo} has no file {filename} ({exc})") from exc
    except (OfflineModeIsEnabled, OSError, Exception) as exc:  # no DNS, refused, offline mode
        raise DownloadError(
            f"cannot reach the Hugging Face hub to download {spec.gguf_repo}/{filename} "
            f"({type(exc).__name__}). To install it by hand: {_manual_hint(spec, filename, target)}."
        ) from exc
    expected_size = meta.size
    expected_sha = (meta.etag or "").strip('"') if meta.etag and len(meta.etag.strip('"')) == 64 else None

    if target.exists() and target.stat().st_size == expected_size:
        if expected_sha is None or _sha256(target) == expected_sha:
            return PullResult(target, expected_size or 0, expected_sha, True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        got = Path(
            hf_hub_download(
                spec.gguf_repo,
                filename,
                revision=revision,
                local_dir=target.parent,  # writes <file>.incomplete, renames when complete
            )
        )
    except Exception as exc:
        raise DownloadError(
            f"downloading {spec.gguf_repo}/{filename} failed ({exc}); run the same command "
            f"again to resume, or {_manual_hint(spec, filename, target)}"
        ) from exc
    size = got.stat().st_size
    if expected_size is not None and size != expected_size:
        got.unlink(missing_ok=True)
        raise DownloadError(f"{got} has {size:,} bytes, expected {expected_size:,}; removed it, pull again")
    digest = _sha256(got) if expected_sha else None
    if expected_sha and digest != expected_sha:
        got.unlink(missing_ok=True)
        raise DownloadError(f"{got} failed its SHA-256 check; removed it, pull again")
    return PullResult(got, size, digest, False)
