"""Models the project makes itself: Qwen2-architecture, real Qwen2.5 tokenizer, random weights.

No weights can be downloaded here (docs/design.md §4), so tests and benchmarks use models built
from a config: ``make_test_model(out, "tiny")`` initializes a ``Qwen2ForCausalLM`` with a
fixed seed, saves it as a Hugging Face checkpoint (safetensors + our tokenizer) in
``out/hf/``, converts it to GGUF F16 (``model.gguf_export``) and quantizes that with
llama.cpp (``model.quantize``). Shapes:

- ``tiny``: 2 layers, hidden 64 (4 query heads, 2 KV heads of 16), FFN 128, the full
  151,936-row vocabulary. About 70 MB in all, most of it the embedding; F16 + Q8_0. For tests.
- ``0.5b`` / ``1.5b``: the exact released shapes (``model.registry.SHAPES``), Q8_0 + Q4_K_M,
  for speed benchmarks (speed depends on shape, not on weight values). Minutes and GBs.

The weights are random, so the text they write is meaningless. One deliberate touch: the
embedding rows of the 22 control tokens and the padding rows are zero, as untrained rows of
a real model are near zero. With tied embeddings a random model otherwise keeps repeating
the last prompt token (``<|fim_middle|>``, a stop token), and every completion comes out
empty; zero rows make greedy decoding write ordinary tokens, so the pipeline shows text.

Everything is built offline from the cached Qwen2 vocabulary: without it (``qwenpair model
vocab`` fetches it) a build fails at once, before torch loads or a file is written.

``out/make_test.json`` is written last; a later call with the same build version, shape and
seed finds it and returns at once. Run it with ``qwenpair model make-test OUT --shape S``.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from model.errors import ModelError
from model.tokens import BPE_VOCAB_SIZE, ENDOFTEXT_ID, PADDED_VOCAB_SMALL

#: Bump whenever the files this module writes would change; older builds are then redone.
BUILD_VERSION = 1
MANIFEST = "make_test.json"
DEFAULT_SEED = 1234
#: Quantizations made at build time, per shape (F16 is always kept: it is the source).
DEFAULT_QUANTS: dict[str, tuple[str, ...]] = {"tiny": ("Q8_0",), "0.5b": ("Q8_0", "Q4_K_M"), "1.5b": ("Q8_0", "Q4_K_M")}
SHAPE_NAMES = tuple(DEFAULT_QUANTS)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TestModel:
    """A built test model: its checkpoint directory and GGUF files."""

    __test__ = False  # not a pytest test class, despite the name

    root: Path
    shape: str
    hf_dir: Path  # config.json, model.safetensors, tokenizer files
    gguf_f16: Path
    quants: tuple[str, ...]  # quantizations made at build time

    @property
    def tokenizer_dir(self) -> Path:
        """The tokenizer files are saved with the checkpoint."""
        return self.hf_dir

    @property
    def gguf(self) -> Path:
        """The file tests and benchmarks load by default: Q8_0."""
        return self.quantized("Q8_0")

    def quantized(self, type_name: str) -> Path:
        """The GGUF of this model at ``type_name``; quantized from F16 on first request."""
        from model.quantize import quant_type, quantize

        canon = quant_type(type_name)
        if canon == "F16":
            return self.gguf_f16
        path = _gguf_path(self.root, self.shape, canon)
        if not path.is_file():
            quantize(self.gguf_f16, path, canon)
        return path


def tiny_shape() -> Any:
    """The tiny test shape: real GQA layout and vocabulary, as small as the vocabulary allows."""
    from model.registry import Shape

    return Shape(
        hidden=64, layers=2, heads=4, kv_heads=2, head_dim=16, ffn=128,
        tied_embeddings=True, context=32_768, vocab=PADDED_VOCAB_SMALL,
    )  # fmt: skip


def shape_of(name: str) -> Any:
    """The architecture shape for ``tiny``, ``0.5b`` or ``1.5b``."""
    from model.registry import SHAPES

    if name == "tiny":
        return tiny_shape()
    if name in ("0.5b", "1.5b"):
        return SHAPES[name]
    raise ModelError(f"unknown test model shape {name!r}: use one of {', '.join(SHAPE_NAMES)}")


def make_test_model(
    out: Path,
    shape: str = "tiny",
    quants: Sequence[str] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> TestModel:
    """Build (or find already built) the test model ``shape`` in ``out``.

    ``quants`` are the quantizations to make besides F16 (default: ``DEFAULT_QUANTS``);
    others can be had later with ``TestModel.quantized``.
    """
    from model.quantize import quant_type
    from model.tokenizer import tokenizer_dir

    arch = shape_of(shape)
    wanted = tuple(quant_type(q) for q in (DEFAULT_QUANTS[shape] if quants is None else quants))
    wanted = tuple(q for q in dict.fromkeys(wanted) if q != "F16")
    out = Path(out)
    if load_test_model(out, shape, seed=seed) is None:
        # Before torch and before writing anything: without the cached vocabulary this fails
        # at once, offline, naming `qwenpair model vocab` (it never downloads; docs/security.md).
        tokenizer_dir(quiet=True)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    with _locked(out):
        built = load_test_model(out, shape, seed=seed)
        if built is not None:
            for q in wanted:
                built.quantized(q)
            return built
        started = time.monotonic()
        (out / MANIFEST).unlink(missing_ok=True)
        hf_dir = out / "hf"
        try:
            model = _build(out, hf_dir, arch, shape, seed, wanted, say)
        except BaseException as exc:
            # Nothing half-written stays looking valid: a checkpoint directory with a cut
            # model.safetensors would load elsewhere (issue 18 findings 1, 9).
            _discard_build(out, hf_dir, shape, wanted)
            problem = _space_problem(out, arch, shape, wanted, exc)
            if problem is not None:
                raise problem from None
            raise
        files = [p for p in sorted(out.rglob("*")) if p.is_file() and not p.name.startswith(".")]
        _write_json(
            out / MANIFEST,  # last: its presence means the build is complete
            {
                "build_version": BUILD_VERSION,
                "shape": shape,
                "seed": seed,
                "quants": list(wanted),
                "files": {str(p.relative_to(out)): p.stat().st_size for p in files},
                "build_seconds": round(time.monotonic() - started, 1),
            },
        )
        return model


def _build(out: Path, hf_dir: Path, arch: Any, shape: str, seed: int, wanted: tuple[str, ...],
           say: Progress) -> TestModel:
    """The build itself: the checkpoint is written beside ``hf/`` and renamed into place
    when whole; the GGUF writers write temporary files and rename them too."""
    staging = out / ".hf.partial"
    say(f"initializing a random {shape} Qwen2 model (seed {seed})")
    _save_hf_checkpoint(staging, arch, shape, seed)
    if hf_dir.exists():
        shutil.rmtree(hf_dir)
    os.replace(staging, hf_dir)
    from model.gguf_export import export_gguf

    f16 = _gguf_path(out, shape, "F16")
    say(f"converting to GGUF F16: {f16.name}")
    export_gguf(hf_dir, f16, name=f"qwenpair-test-{shape}", meta={"qwenpair.random_weights": True})
    model = TestModel(out, shape, hf_dir, f16, wanted)
    for q in wanted:
        say(f"quantizing to {q}")
        model.quantized(q)
    _write_json(out / "meta.json", _meta(model, arch, seed))
    return model


def _discard_build(out: Path, hf_dir: Path, shape: str, wanted: tuple[str, ...]) -> None:
    """Remove what a failed build wrote (the manifest was removed before it started)."""
    for directory in (out / ".hf.partial", hf_dir):
        shutil.rmtree(directory, ignore_errors=True)
    for q in ("F16", *wanted):
        _gguf_path(out, shape, q).unlink(missing_ok=True)
    (out / "meta.json").unlink(missing_ok=True)


_SPACE_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                 errno.EFBIG: "a file reached the size limit (ulimit -f)"}
_SPACE_TEXTS = {"No space left": errno.ENOSPC, "Disk quota exceeded": errno.EDQUOT, "File too large": errno.EFBIG}


def _space_problem(out: Path, arch: Any, shape: str, wanted: tuple[str, ...], exc: BaseException) -> ModelError | None:
    """A ``ModelError`` naming the directory, the space free and the space needed when ``exc``
    (or what caused it: torch and safetensors wrap the OSError) is a full disk; else None."""
    code = None
    seen: BaseException | None = exc
    while seen is not None and code is None:
        if isinstance(seen, OSError) and seen.errno in _SPACE_ERRNOS:
            code = seen.errno
        else:
            code = next((c for text, c in _SPACE_TEXTS.items() if text in str(seen)), None)
        seen = seen.__cause__ or seen.__context__
    if code is None:
        return None
    params = arch.parameters()
    # checkpoint (float32 tiny, else bfloat16) and tokenizer, then each GGUF with its ~6 MB vocabulary
    need = params * (4 if shape == "tiny" else 2) + 12_000_000 + params * 2 + int(params * 1.1) * len(wanted)
    need += 6_000_000 * (1 + len(wanted))
    try:
        free = f"{shutil.disk_usage(out).free / 1e6:,.0f} MB free"
    except OSError:
        free = "free space unknown"
    return ModelError(
        f"cannot build the {shape} test model in {out}: {_SPACE_ERRNOS[code]} ({free}; the build "
        f"needs about {need / 1e6:,.0f} MB). Nothing of this build was kept. Free some space, or "
        "choose another OUT directory (QWENPAIR_CACHE_DIR moves the shared cache), and run it again")


def load_test_model(out: Path, shape: str | None = None, *, seed: int | None = None) -> TestModel | None:
    """The complete test model in ``out`` if its manifest matches (build version, shape, seed)."""
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("build_version") != BUILD_VERSION:
        return None
    if (shape is not None and manifest.get("shape") != shape) or (seed is not None and manifest.get("seed") != seed):
        return None
    for rel, size in manifest.get("files", {}).items():
        path = out / rel
        if not path.is_file() or path.stat().st_size != size:
            return None
    found = manifest["shape"]
    return TestModel(out, found, out / "hf", _gguf_path(out, found, "F16"), tuple(manifest.get("quants", ())))


def cached_test_model(shape: str = "tiny", *, progress: Progress | None = None) -> TestModel:
    """The test model ``shape`` in the shared cache (``test_models_dir()/<shape>-v<version>``).

    What tests, benchmarks and ``--model auto`` use, so they all share one build. Building it
    needs the cached vocabulary (``qwenpair model vocab``) and no network.
    """
    from model.paths import test_models_dir

    return make_test_model(test_models_dir() / f"{shape}-v{BUILD_VERSION}", shape, progress=progress)


def _save_hf_checkpoint(hf_dir: Path, arch: Any, shape: str, seed: int) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from transformers.utils import logging as hf_logging

    from model.tokenizer import tokenizer_dir

    hf_logging.disable_progress_bar()  # our own progress lines say what is happening

    if hf_dir.exists():
        shutil.rmtree(hf_dir)  # a partial earlier build: start clean
    config = Qwen2Config(**arch.hf_config(), bos_token_id=ENDOFTEXT_ID, eos_token_id=ENDOFTEXT_ID)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        model.get_input_embeddings().weight[BPE_VOCAB_SIZE:] = 0  # see the module docstring
    # The tiny model stays float32 (training tests run it on CPU); the benchmark shapes are
    # saved as bfloat16 like the released checkpoints, at half the disk.
    if shape != "tiny":
        model = model.to(torch.bfloat16)
    model.save_pretrained(hf_dir)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir() / name, hf_dir / name)


def _meta(model: TestModel, arch: Any, seed: int) -> dict[str, Any]:
    return {
        "name": f"qwenpair-test-{model.shape}",
        "kind": "test",
        "shape": model.shape,
        "random_weights": True,
        "note": "random weights: what this model writes is meaningless; it exercises the pipeline",
        "instruct": False,
        "seed": seed,
        "architecture": asdict(arch),
        "context_length": arch.native_context,
        "hf_dir": "hf",
        "gguf": {q: _gguf_path(model.root, model.shape, q).name for q in ("F16", *model.quants)},
        "tokenizer": "Qwen2.5, rebuilt from ggml-vocab-qwen2.gguf (model.tokenizer)",
        "build_version": BUILD_VERSION,
    }


def _gguf_path(root: Path, shape: str, type_name: str) -> Path:
    return root / f"qwenpair-test-{shape}-{type_name.lower()}.gguf"


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Serialize builds of the same directory (parallel test sessions share the cache)."""
    import fcntl

    with (out / ".make_test.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from model.vocab import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
