#!/usr/bin/env bash
# Fetches the pinned llama.cpp release (bundled in the npm package node-llama-cpp) and builds it once
# into a cache outside the work tree. Prints the build root on its last line.
# Re-running on the same machine only checks stamps, so a second setup takes seconds.
set -euo pipefail

NODE_LLAMA_CPP_VERSION="3.21.1"
NODE_LLAMA_CPP_INTEGRITY="sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg=="
# Targets built from llama.cpp: the libraries Mimir links, and llama.cpp's own tools that the tests and
# benchmarks compare against. llama-server is built only on request (it takes ~15 minutes on 2 cores).
LLAMA_TARGETS=(llama ggml llama-bench llama-completion llama-quantize llama-finetune)
if [[ "${MIMIR_LLAMA_SERVER:-0}" == 1 ]]; then LLAMA_TARGETS+=(llama-server); fi

cache="${MIMIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mimir}/llama.cpp-${NODE_LLAMA_CPP_VERSION}"
native="${MIMIR_NATIVE:-ON}"
compiler_key="$(${CXX:-c++} -dumpfullversion 2>/dev/null || echo unknown)"
# Our patches to the pinned source (scripts/llama-patches/): the AMX kernels' fixes (README, "Prefill with
# AMX"). A change to them resets the source to the release and applies them again.
patches=("$(cd "$(dirname "$0")" && pwd)/llama-patches/"*.patch)
patch_key="$(cat "${patches[@]}" | sha1sum | cut -c1-12)"
# The pinned release's AMX kernels segfaulted on Q4_K/Q8_0 weights on this workplace's AMX Xeons (GCC
# dropped their tile configuration; patched above, but never run on AMX hardware), so by default the
# native build keeps every other CPU feature but undefines the macro that turns them on, and the repacked
# AVX2/AVX-512 CPU buffers (llama-bench's default) stay on. MIMIR_LLAMA_AMX=1 builds them (on an AMX CPU).
if [[ "${MIMIR_LLAMA_AMX:-0}" == 1 ]]; then
  amx_flags=""; amx_key="amx"
else
  amx_flags="-U__AMX_INT8__"; amx_key="noamx"
fi
build="$cache/build-native${native}-${amx_key}-gcc${compiler_key}"
jobs="${MIMIR_JOBS:-$(nproc)}"
mkdir -p "$cache"
log() { echo "setup: $*" >&2; }

# Serialise concurrent setups on one machine: they share the cache.
exec 9>"$cache/.lock"
flock 9

if [[ ! -f "$cache/src/.complete" ]]; then
  log "fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION from npm"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null)
  tarball="$work/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [[ "$actual" != "$NODE_LLAMA_CPP_INTEGRITY" ]]; then
    log "integrity mismatch for node-llama-cpp@$NODE_LLAMA_CPP_VERSION: expected $NODE_LLAMA_CPP_INTEGRITY got $actual"
    exit 1
  fi
  # Only the git bundle is extracted; no package script ever runs.
  tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
  rm -rf "$cache/src"
  git clone --quiet "$work/package/llama/gitRelease.bundle" "$cache/src" 2>/dev/null
  touch "$cache/src/.complete"
fi

if [[ ! -f "$cache/src/.patched-$patch_key" ]]; then
  log "applying ${#patches[@]} patch(es) to llama.cpp"
  git -C "$cache/src" checkout --quiet -- .
  rm -f "$cache/src"/.patched-*
  for patch in "${patches[@]}"; do git -C "$cache/src" apply "$patch"; done
  touch "$cache/src/.patched-$patch_key"
fi

stamp="$build/.built-$(printf '%s\n' "${LLAMA_TARGETS[@]}" "$patch_key" | sha1sum | cut -c1-12)"
if [[ ! -f "$stamp" ]]; then
  log "building llama.cpp (${LLAMA_TARGETS[*]}) in $build with $jobs jobs"
  cmake -S "$cache/src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE="$native" -DGGML_OPENMP=ON \
    -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER="$([[ "${MIMIR_LLAMA_SERVER:-0}" == 1 ]] && echo ON || echo OFF)" \
    -DLLAMA_OPENSSL=OFF -DCMAKE_C_FLAGS="$amx_flags" -DCMAKE_CXX_FLAGS="$amx_flags" >"$cache/configure.log" 2>&1 || { tail -30 "$cache/configure.log" >&2; exit 1; }
  cmake --build "$build" -j "$jobs" --target "${LLAMA_TARGETS[@]}" >"$cache/build.log" 2>&1 || { tail -30 "$cache/build.log" >&2; exit 1; }
  touch "$stamp"
fi
echo "$cache/src;$build"
