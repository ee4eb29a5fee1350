#!/usr/bin/env bash
# The product set-up: everything `qwenpair` needs to complete, chat, edit, index, serve and
# train, and nothing that only the tests need (.ci/setup adds that on top of this script).
#   .venv                  the environment the `qwenpair` command runs in
#   torch==2.13.0 (CPU)    `qwenpair train` / `eval` and the Hugging Face backend
#   llama-cpp-python       the in-process model runtime, built from source for this CPU
#   qwenpair[train]        the package and the libraries its commands import
#   the Qwen2 vocabulary   the tokenizer every prompt is counted with (`qwenpair model vocab`)
# It installs no system package: it needs python3 (3.11+) with venv and a C/C++ compiler,
# which a stock Python image has. Safe to re-run: each step is skipped when it is done, and
# a step that failed (the network, the llama.cpp build) starts again where it stopped.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
CACHE="${QWENPAIR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qwenpair}"
PIP=".venv/bin/pip"
SETUP_T0=$SECONDS
STEP_T0=$SECONDS
STEP=""

# One line per step: what it installs and why.
step() {
  STEP="$1"
  STEP_T0=$SECONDS
  echo "== $1: $2"
}
# The time a step took (its figure goes into the issue reports; it costs nothing).
done_step() { echo "   done in $((SECONDS - STEP_T0)) s"; }

# Runs a command that talks to the package index. On failure it names the step, shows the
# end of pip's output and, when that looks like no network, says so; nothing is lost: the
# steps already done are skipped on the next run.
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
net() {
  if "$@" >"$LOG" 2>&1; then
    return 0
  fi
  echo "qwenpair setup: step \"$STEP\" failed." >&2
  grep -v '^WARNING: Location' "$LOG" | tail -8 | sed 's/^/   | /' >&2
  if grep -q -i -E 'NewConnectionError|Temporary failure in name resolution|Name or service not known|Network is unreachable|Connection refused|ConnectTimeout|ReadTimeout|No matching distribution found|Could not find a version|ProxyError|SSLError' "$LOG"; then
    echo "It could not get the package from the index (${PIP_INDEX_URL:-the index in your pip configuration}): check the network, proxy or PIP_INDEX_URL, then run 'bash setup.sh' again; finished steps are skipped." >&2
  else
    echo "Fix the cause above and run 'bash setup.sh' again; finished steps are skipped." >&2
  fi
  exit 1
}

# ---- 1. the virtual environment
if [ ! -x .venv/bin/python ]; then
  step "creating .venv" "the environment qwenpair and its libraries live in, apart from the system Python"
  if ! "$PY" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "qwenpair setup: $PY is not Python 3.11+ with the venv module; set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  "$PY" -m venv .venv
  net $PIP install -q --upgrade pip wheel setuptools
  done_step
fi

# ---- 2. torch
if ! .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  step "installing torch==2.13.0 (CPU build)" "qwenpair train/eval fine-tune and score models with it"
  # The exact pin takes the local CPU wheel; any other spec pulls several GB of CUDA wheels.
  net $PIP install -q torch==2.13.0
  done_step
fi

# ---- 3. llama-cpp-python, built for this CPU
# llama.cpp is built portably: GGML_NATIVE would also use
# AMX, whose instructions trap (SIGILL in tileloadd) on quantized models on these machines, so
# the instruction sets are named one by one, each only when this CPU has it. A build with
# AVX-512 on a CPU without it dies with SIGILL at import; machines of one kind do not all have it.
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $cpu_flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF"
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  if has "${pair%%:*}"; then
    PORTABLE_CMAKE_ARGS="$PORTABLE_CMAKE_ARGS -DGGML_${pair#*:}=ON"
  else
    PORTABLE_CMAKE_ARGS="$PORTABLE_CMAKE_ARGS -DGGML_${pair#*:}=OFF"
  fi
done

# The source archive is kept: the build and the vocabulary (step 5) both read it, so it is
# downloaded once, only when one of them needs it, and a re-run after a failed build does not
# fetch it again. It is moved into place only when pip has written all of it.
SDIST_DIR="$CACHE/sdist/llama-cpp-python-$LLAMA_VERSION"
SDIST="$SDIST_DIR/llama_cpp_python-$LLAMA_VERSION.tar.gz"
fetch_sdist() {
  [ -f "$SDIST" ] && return 0
  step "downloading the llama-cpp-python $LLAMA_VERSION source archive (~77 MB, once)" "llama.cpp is built from it for this CPU, and it holds the Qwen2 vocabulary"
  rm -rf "$SDIST_DIR.partial" && mkdir -p "$SDIST_DIR.partial"
  net $PIP download -q --no-deps --no-binary :all: -d "$SDIST_DIR.partial" "llama-cpp-python==$LLAMA_VERSION"
  if [ ! -f "$SDIST_DIR.partial/${SDIST##*/}" ]; then
    echo "qwenpair setup: pip downloaded no ${SDIST##*/} into $SDIST_DIR.partial; run 'bash setup.sh' again." >&2
    exit 1
  fi
  rm -rf "$SDIST_DIR" && mv "$SDIST_DIR.partial" "$SDIST_DIR"
  done_step
}

# Only the libraries the bindings load are built: llama, ggml, ggml-base and the CPU (or the
# chosen GPU) backend. The multimodal library (mtmd: images and audio, which qwenpair never
# sends; llama_cpp loads it only for a LLaVA chat handler) is left out by LLAVA_BUILD=OFF, and
# llama.cpp's common library (its command-line tools' code, which no binding loads) by the
# source patch below, since llama-cpp-python forces LLAMA_BUILD_COMMON on. Together they were
# 104 of the 178 objects and 60% of the compiling (379 of 631 CPU-seconds, measured per object
# on a 2-core x86 machine). A CMAKE_ARGS of your own comes after these and can turn them back on.
LLAMA_TRIM="-DLLAVA_BUILD=OFF"
LLAMA_ARGS="$LLAMA_TRIM ${CMAKE_ARGS:-$PORTABLE_CMAKE_ARGS}"
# pip's own wheel cache is keyed by the source archive, not by CMAKE_ARGS, so it would hand a
# wheel built for another CPU back: the wheel is kept in a folder named after its build flags
# (and the common-library patch, which is part of what was built).
LLAMA_WHEELS="$CACHE/wheels/llama-cpp-python-$LLAMA_VERSION-$(printf '%s common=off' "$LLAMA_ARGS" | sha256sum | cut -c1-12)"
# Initialising the CPU backend runs its instruction-set probes: a wrong build dies there.
# (In a shell of its own, so that a crash is a quiet "no" rather than bash's report of it.)
llama_ok() {
  bash -c ".venv/bin/python -c \"import llama_cpp, sys; llama_cpp.llama_backend_init(); sys.exit(0 if llama_cpp.__version__ == '$LLAMA_VERSION' else 1)\"; exit \$?" >/dev/null 2>&1
}
if ! llama_ok; then
  if ! ls "$LLAMA_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    fetch_sdist
    step "building llama-cpp-python $LLAMA_VERSION for this CPU (about 2-3 minutes on 2 idle cores)" "the model runs in-process through llama.cpp; the wheel is kept in $LLAMA_WHEELS"
    echo "   flags: $LLAMA_ARGS"
    if ! command -v c++ >/dev/null && ! command -v g++ >/dev/null; then
      echo "qwenpair setup: building llama.cpp needs a C/C++ compiler (gcc and g++), and none is on PATH." >&2
      echo "Use a Python image that has one (python:3.11, not -slim) or install it, then run 'bash setup.sh' again." >&2
      exit 1
    fi
    # The build resumes: it runs in a fixed place (the unpacked source, cmake's build folder
    # for these flags, and the build tools in a venv of their own, without pip's build
    # isolation, whose temporary paths would make cmake start over), so a re-run after a build
    # that failed or was interrupted compiles only what is left. The wheel folder exists only
    # once pip has written the whole wheel: until then there is only .partial.
    BUILD_ROOT="$CACHE/build"
    BUILD_SRC="$BUILD_ROOT/llama_cpp_python-$LLAMA_VERSION"
    BUILD_ENV="$BUILD_ROOT/env"
    BUILD_DIR="$BUILD_ROOT/cmake-${LLAMA_WHEELS##*/}"
    if ! "$BUILD_ENV/bin/python" -c "import scikit_build_core, cmake, ninja" 2>/dev/null; then
      echo "   preparing the build tools (scikit-build-core, cmake, ninja) in $BUILD_ENV"
      rm -rf "$BUILD_ENV" && "$PY" -m venv "$BUILD_ENV"
      net "$BUILD_ENV/bin/pip" install -q "scikit-build-core[pyproject]>=0.9.2" cmake ninja
    fi
    if [ ! -f "$BUILD_SRC/pyproject.toml" ]; then
      rm -rf "$BUILD_SRC" "$BUILD_ROOT/src.partial" && mkdir -p "$BUILD_ROOT/src.partial"
      tar -xzf "$SDIST" -C "$BUILD_ROOT/src.partial"
      mv "$BUILD_ROOT/src.partial/${BUILD_SRC##*/}" "$BUILD_SRC" && rm -rf "$BUILD_ROOT/src.partial"
    fi
    # llama-cpp-python sets LLAMA_BUILD_COMMON ON with FORCE, so no -D can turn it off.
    # (Edited only once: a re-run leaves the file, and so cmake's build folder, as they are.)
    if grep -q 'set(LLAMA_BUILD_COMMON ON' "$BUILD_SRC/CMakeLists.txt"; then
      sed -i 's/set(LLAMA_BUILD_COMMON ON CACHE BOOL "Build llama.cpp common library" FORCE)/set(LLAMA_BUILD_COMMON OFF CACHE BOOL "Build llama.cpp common library" FORCE)/' "$BUILD_SRC/CMakeLists.txt"
    fi
    grep -q 'set(LLAMA_BUILD_COMMON OFF' "$BUILD_SRC/CMakeLists.txt" || echo "   (llama.cpp's common library is built too: its line in CMakeLists.txt has changed)"
    [ -d "$BUILD_DIR" ] && echo "   resuming the build that stopped in $BUILD_DIR"
    rm -rf "$LLAMA_WHEELS.partial" && mkdir -p "$LLAMA_WHEELS.partial"
    PATH="$BUILD_ENV/bin:$PATH" CMAKE_ARGS="$LLAMA_ARGS" net "$BUILD_ENV/bin/pip" wheel -q --no-build-isolation \
      --no-cache-dir --no-deps --config-settings=build-dir="$BUILD_DIR" -w "$LLAMA_WHEELS.partial" "$BUILD_SRC"
    rm -rf "$BUILD_DIR" "$BUILD_SRC"  # the objects and source are no longer needed: the wheel is kept
    rm -rf "$LLAMA_WHEELS" && mv "$LLAMA_WHEELS.partial" "$LLAMA_WHEELS"
    done_step
  fi
  step "installing llama-cpp-python $LLAMA_VERSION" "from the wheel built for this CPU's flags"
  $PIP uninstall -q -y llama-cpp-python >/dev/null 2>&1 || true  # one built for another CPU
  net $PIP install -q --prefer-binary --find-links "$LLAMA_WHEELS" "llama-cpp-python==$LLAMA_VERSION"
  if ! llama_ok; then
    echo "qwenpair setup: llama-cpp-python does not load on this CPU (flags: $LLAMA_ARGS)." >&2
    echo "Remove $LLAMA_WHEELS and run 'bash setup.sh' again, or set CMAKE_ARGS to flags this CPU supports." >&2
    exit 1
  fi
  printf '%s\n' "$LLAMA_ARGS" > .venv/.qwenpair-llama-cmake-args  # `qwenpair doctor` shows them
  done_step
fi

# ---- 4. the package
# Skipped while pyproject.toml is the one last installed (the install is editable: code
# changes need no re-run). The stamp is shared with .ci/setup, which installs [train,dev].
EXTRAS_STAMP=.venv/.qwenpair-extras
if ! sha256sum --status -c "$EXTRAS_STAMP.train.sha256" 2>/dev/null; then
  step "installing qwenpair[train] (editable)" "the qwenpair command and the libraries its commands import (train: transformers, peft, trl...)"
  net $PIP install -q -e ".[train]"
  sha256sum pyproject.toml > "$EXTRAS_STAMP.train.sha256"
  done_step
fi

# ---- 5. the vocabulary
if ! .venv/bin/python -c "from model.vocab import ensure_vocab; ensure_vocab(fetch=False)" 2>/dev/null; then
  fetch_sdist
  step "caching the Qwen2 vocabulary (qwenpair model vocab)" "prompts are tokenized with it; read from the llama-cpp-python source archive, no second download"
  QWENPAIR_LLAMA_SDIST="$SDIST" net .venv/bin/qwenpair model vocab --quiet
  done_step
fi

echo "== qwenpair set up in $((SECONDS - SETUP_T0)) s: run '.venv/bin/qwenpair --help', or 'source .venv/bin/activate'"
