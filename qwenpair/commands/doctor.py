"""``qwenpair doctor [--root DIR] [--json]``: check that this installation can work, and say
how to fix what cannot.

Each check prints ✓ (fine), ✗ (broken, with the fix) or – (not applicable here, e.g. no GPU
support in a CPU build, an editor that is not installed): the llama.cpp build against this
CPU's instruction sets, the llama-cpp-python version and build flags, GPU offload, the Qwen2
vocabulary, the models present (GGUF header, size, SHA-256), the index of a workspace, the
config file, and whether each editor integration finds the server (``doctor_editors``).
Exit status 1 when any check is ✗, else 0. ``--json`` prints the same as one object.

It reads and never writes: no model is loaded, no index is built or opened for writing, and
nothing is downloaded. llama.cpp is initialised in a child process, because a build for
instructions this CPU lacks dies with SIGILL, which must become a ✗, not the doctor's death.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

#: llama.cpp's names of CPU features (``llama_print_system_info``) -> /proc/cpuinfo flags.
CPU_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX2": "avx2", "F16C": "f16c", "FMA": "fma",
    "BMI2": "bmi2", "AVX_VNNI": "avx_vnni", "AVX512": "avx512f", "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16", "AMX_INT8": "amx_int8",
}
#: Where setup.sh records the CMAKE_ARGS llama-cpp-python was built with (beside the venv's files).
FLAGS_FILE = ".qwenpair-llama-cmake-args"
RESETUP = "run `bash setup.sh` again (it rebuilds llama-cpp-python for this CPU's flags)"
PROBE = (
    "import json, llama_cpp\n"
    "llama_cpp.llama_backend_init()\n"
    "print(json.dumps({'version': llama_cpp.__version__,\n"
    "                  'info': llama_cpp.llama_print_system_info().decode('utf-8', 'replace'),\n"
    "                  'gpu': bool(llama_cpp.llama_supports_gpu_offload())}))\n"
)


@dataclass
class Check:
    name: str
    status: str  # "ok", "fail" or "info"
    detail: str
    fix: str = ""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the installation: llama.cpp build, models, index, config, editors",
        description="Check the llama.cpp build against this CPU, the models, a workspace's index, the "
        "config file and the editor integrations; print ✓/✗ with the fix for each. Exit 1 if any ✗.",
    )
    p.add_argument("--root", type=Path, default=None,
                   help="workspace whose index to check (default: the current directory's git repository)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from qwenpair.commands.doctor_editors import editor_checks

    checks = llama_checks()
    checks.append(vocab_check())
    checks.extend(model_checks())
    checks.append(index_check(args.root))
    checks.append(config_check())
    checks.extend(editor_checks())
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        json.dump({"ok": not failed, "checks": [asdict(c) for c in checks]}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for c in checks:
            mark = {"ok": "✓", "fail": "✗", "info": "–"}[c.status]
            print(f"{mark} {c.name}: {c.detail}")
            if c.fix:
                print(f"    fix: {c.fix}")
        bad = sum(c.status == "fail" for c in checks)
        print(f"\n{bad} of {len(checks)} checks failed" if bad else f"\nall {len(checks)} checks passed")
    return 1 if failed else 0


# -- llama.cpp ---------------------------------------------------------------------------

def llama_checks() -> list[Check]:
    """The build against this CPU, the version and flags, GPU offload: one child process."""
    from model.vocab import DEFAULT_LLAMA_CPP_VERSION as PINNED

    try:
        proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return [Check("llama.cpp build vs this CPU", "fail", "initialising llama.cpp took over 120 s", RESETUP)]
    if proc.returncode == -signal.SIGILL or proc.returncode == 128 + signal.SIGILL:
        return [Check("llama.cpp build vs this CPU", "fail",
                      "llama.cpp dies with SIGILL (illegal instruction): it was built for instruction sets "
                      f"this CPU lacks (CPU flags: {_cpu_summary()})", RESETUP)]
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        missing = "No module named 'llama_cpp'" in proc.stderr
        return [Check("llama-cpp-python", "fail",
                      "not installed" if missing else f"does not load (exit {proc.returncode}: {last})", RESETUP)]
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    built = [name for name, value in _features(data["info"]).items() if value == "1" and name in CPU_FLAGS]
    cpu = _cpu_flags()
    checks = []
    if cpu is None:
        checks.append(Check("llama.cpp build vs this CPU", "ok",
                            f"loads and initialises; built for {' '.join(built) or 'no listed feature'} "
                            "(this system has no /proc/cpuinfo flags to compare with)"))
    else:
        lacking = [name for name in built if CPU_FLAGS[name] not in cpu]
        unused = [name for name, flag in CPU_FLAGS.items() if flag in cpu and name not in built
                  and name in ("AVX2", "FMA", "F16C", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX_VNNI")]
        if lacking:
            checks.append(Check("llama.cpp build vs this CPU", "fail",
                                f"built for {' '.join(lacking)}, which this CPU lacks (a quantized model may die "
                                "with SIGILL)", RESETUP))
        else:
            note = f"; this CPU also has {' '.join(unused)}, not used by this build" if unused else ""
            checks.append(Check("llama.cpp build vs this CPU", "ok",
                                f"built for {' '.join(built)}, all present on this CPU{note}"))
    flags_file = Path(sys.prefix) / FLAGS_FILE
    flags = flags_file.read_text().strip() if flags_file.is_file() else "not recorded (installed before setup.sh kept them)"
    if data["version"] == PINNED:
        checks.append(Check("llama-cpp-python", "ok", f"{data['version']} (pinned {PINNED}); build flags: {flags}"))
    else:
        checks.append(Check("llama-cpp-python", "fail", f"{data['version']}, but qwenpair pins {PINNED}", RESETUP))
    if data["gpu"]:
        checks.append(Check("GPU offload", "ok", "available: pass --gpu-layers -1 (or gpu_layers in the config)"))
    else:
        checks.append(Check("GPU offload", "info", "not available: a CPU build (README: rebuild with "
                            "CMAKE_ARGS=\"-DGGML_CUDA=on\" for a GPU)"))
    return checks


def _features(info: str) -> dict[str, str]:
    """``"CPU : SSE3 = 1 | AVX = 1 | ..."`` -> {"SSE3": "1", "AVX": "1", ...}."""
    out = {}
    for part in info.replace("CPU :", "|").split("|"):
        name, eq, value = part.partition("=")
        if eq:
            out[name.strip().split(":")[-1].strip()] = value.strip()
    return out


def _cpu_flags() -> set[str] | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def _cpu_summary() -> str:
    cpu = _cpu_flags() or set()
    return " ".join(name for name, flag in CPU_FLAGS.items() if flag in cpu) or "unknown"


# -- vocabulary and models -----------------------------------------------------------------

def vocab_check() -> Check:
    from model.errors import ModelError
    from model.vocab import ensure_vocab

    try:
        where = ensure_vocab(fetch=False)
    except ModelError:
        from model.paths import vocab_dir

        return Check("Qwen2 vocabulary", "fail", f"not in {vocab_dir()} (prompts cannot be tokenized)",
                     "qwenpair model vocab  (setup.sh runs it)")
    return Check("Qwen2 vocabulary", "ok", str(where))


def model_checks() -> list[Check]:
    """The default completion model must be there; every downloaded GGUF is checked."""
    from model import registry
    from model.errors import ModelError
    from model.gguf_check import inspect_gguf
    from model.loader import local_path
    from model.paths import models_dir

    checks = []
    present = []
    for spec in registry.REGISTRY.values():
        for quant in spec.gguf_files:
            path = local_path(spec, quant)
            part = path.with_name(path.name + ".part")
            if part.exists():
                checks.append(Check(f"model {spec.name}", "fail",
                                    f"an interrupted download ({part.stat().st_size / 1e6:.1f} MB in {part})",
                                    f"qwenpair model pull {spec.name}  (it resumes)"))
            if not path.exists():
                continue
            present.append(spec.name)
            try:
                info = inspect_gguf(path)
            except ModelError as exc:
                checks.append(Check(f"model {spec.name}", "fail", str(exc),
                                    f"delete {path} and run `qwenpair model pull {spec.name}`"))
                continue
            t0 = time.perf_counter()
            digest = _sha256(path)
            checks.append(Check(
                f"model {spec.name}", "ok",
                f"{path} ({path.stat().st_size / 1e9:.2f} GB, {info.architecture}); SHA-256 {digest} "
                f"({time.perf_counter() - t0:.1f} s; no checksum is recorded to compare it with: "
                f"`qwenpair model pull {spec.name}` verifies it against the hub)"))
    configured = _configured_models()
    checks[:0] = [
        _role_check("completion model", configured.get("model", "auto"), registry.DEFAULT_COMPLETION_MODEL,
                    present, models_dir(), "fail", "--model auto falls back to a random-weight test model"),
        # chat and edit only: the completion path works without it, so it is not a ✗
        _role_check("chat model", configured.get("chat_model", "auto"), registry.DEFAULT_CHAT_MODEL,
                    present, models_dir(), "info", "qwenpair chat / edit need it"),
    ]
    return checks


def _configured_models() -> dict:
    """``model`` and ``chat_model`` from the config file, as the server would read them."""
    from lsp_server.settings import parse, read_config_file

    values, _ = read_config_file()
    settings, _ = parse(values)
    return {"model": settings.model, "chat_model": settings.chat_model}


def _role_check(name: str, reference: str, default: str, present: list[str], where: Path, missing: str,
                consequence: str) -> Check:
    from model.errors import ModelError
    from model.loader import resolve_gguf

    if reference in ("auto", default):
        if default in present:
            return Check(name, "ok", f"{default} (the default) is downloaded")
        return Check(name, missing, f"{default} (the default) is not downloaded in {where}; {consequence}",
                     f"qwenpair model pull {default}")
    if reference.startswith(("http://", "https://")):
        return Check(name, "info", f"the config names a server, {reference} (not checked: doctor stays offline)")
    try:
        return Check(name, "ok", f"{resolve_gguf(reference)} (set in the config file)")
    except ModelError as exc:
        return Check(name, "fail", f"the config file names {reference!r}: {exc}",
                     "fix the model setting in the config file, or pull the model it names")


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


# -- index and config ----------------------------------------------------------------------

def index_check(root: Path | None) -> Check:
    from repo_index import IndexConfig
    from repo_index.store import store_dir

    root = Path(os.path.abspath(root)) if root else _git_root(Path.cwd())
    if not root.is_dir():
        return Check("workspace index", "fail", f"{root} is not a directory", "pass --root DIR")
    cache = IndexConfig().resolved_cache_dir()
    for candidate in dict.fromkeys((root.resolve(), root)):
        db = store_dir(cache, candidate) / "index.sqlite3"
        if db.is_file():
            break
    else:
        return Check("workspace index", "fail", f"{root} is not indexed (no index under {cache / 'index'})",
                     f"qwenpair index {root}  (or open it in an editor: the server indexes it)")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            files = con.execute("SELECT count(*) FROM files").fetchone()[0]
            symbols = con.execute("SELECT count(*) FROM symbols").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return Check("workspace index", "fail", f"{db} cannot be read ({exc})",
                     f"qwenpair index {root}  (a damaged store is rebuilt)")
    age = time.time() - db.stat().st_mtime
    return Check("workspace index", "ok", f"{root}: {_n(files, 'file')}, {_n(symbols, 'symbol')}, written {_age(age)} ago ({db.parent})")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _git_root(cwd: Path) -> Path:
    try:
        out = subprocess.run(["git", "-C", str(cwd), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return cwd


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def config_check() -> Check:
    from lsp_server.settings import config_path, parse, read_config_file

    path = config_path()
    if not path.exists():
        return Check("config file", "fail", f"{path} does not exist (the server runs on its defaults)",
                     f"create {path} with the settings you want (docs/configuration.md lists them)")
    values, messages = read_config_file(path)
    if not messages:
        _, messages = parse(values)
    if messages:
        return Check("config file", "fail", f"{path}: " + "; ".join(messages),
                     f"edit {path} (docs/configuration.md lists the settings and their types)")
    return Check("config file", "ok", f"{path}: {len(values)} setting{'s' * (len(values) != 1)}, all valid")
