#!/usr/bin/env bash
# Bench-only: build llama-server from the llama.cpp that llama-cpp-python vendors, so that
# bench/keystroke_latency.py can measure a real peer (/infill, llama.vim's request shape) on
# the same model and machine. llama-server is not a product dependency and setup.sh does not
# build it.
#
# The source is llama-cpp-python's source archive (the one setup.sh keeps in the cache, or
# `pip download llama-cpp-python==0.3.36 --no-binary :all: --no-deps`); the flags are
# setup.sh's portable ones (GGML_NATIVE off, each instruction set named only when this CPU
# has it: AMX traps on quantized models on these machines). Takes minutes on 2 cores; done
# once, the binary is reused.
#
#   bash bench/build_llama_server.sh            # prints the llama-server path when done
set -euo pipefail
VERSION="${LLAMA_VERSION:-0.3.36}"
CACHE="${QWENPAIR_CACHE:-$HOME/.cache/qwenpair}"
SDIST="${LLAMA_SDIST:-$CACHE/sdist/llama-cpp-python-$VERSION/llama_cpp_python-$VERSION.tar.gz}"
OUT="$CACHE/llama-server-$VERSION"
BIN="$OUT/build/bin/llama-server"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if [ ! -f "$SDIST" ]; then
  echo "build_llama_server: no source archive at $SDIST; run 'bash setup.sh' (it keeps it), or" >&2
  echo "  pip download llama-cpp-python==$VERSION --no-binary :all: --no-deps -d DIR and set LLAMA_SDIST=DIR/<file>" >&2
  exit 1
fi
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $cpu_flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
ARGS="-DGGML_NATIVE=OFF"
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C avx512f:AVX512 avx512vbmi:AVX512_VBMI avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  if has "${pair%%:*}"; then ARGS="$ARGS -DGGML_${pair#*:}=ON"; else ARGS="$ARGS -DGGML_${pair#*:}=OFF"; fi
done
mkdir -p "$OUT"
if [ ! -d "$OUT/src" ]; then
  rm -rf "$OUT/src.partial" && mkdir -p "$OUT/src.partial"
  tar -xzf "$SDIST" -C "$OUT/src.partial" --strip-components=3 "llama_cpp_python-$VERSION/vendor/llama.cpp"
  mv "$OUT/src.partial" "$OUT/src"
fi
# shellcheck disable=SC2086
cmake -S "$OUT/src" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON $ARGS >&2
cmake --build "$OUT/build" --target llama-server -j "${JOBS:-2}" >&2
echo "$BIN"
