#!/usr/bin/env bash
# Sets up a fresh Debian machine for Mimir and builds it: Debian packages (when missing), the pinned
# llama.cpp (cached outside the work tree, see scripts/llama.sh), then Mimir itself in build/.
# Usage: scripts/setup.sh [--build-dir DIR] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="build"
if [[ "${1:-}" == "--build-dir" ]]; then build_dir="$2"; shift 2; fi

packages=(build-essential cmake git ca-certificates openssl pkg-config
  libcpp-httplib-dev libssl-dev nlohmann-json3-dev libsqlite3-dev libsqlitecpp-dev libcli11-dev libspdlog-dev
  libutfcpp-dev libre2-dev libgtest-dev libgmock-dev libbenchmark-dev clang-format libpq-dev postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from Debian's npm package or bundled with a nodejs from elsewhere: check the command.
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The chat page's libraries (pinned in web/package-lock.json), embedded into the binary by the build.
# Reinstalled only when the lockfile changes; --ignore-scripts: no package code runs at install.
if ! cmp -s web/package-lock.json web/node_modules/.mimir-installed-lock 2>/dev/null; then
  (cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp web/package-lock.json web/node_modules/.mimir-installed-lock
fi

llama_args=()
if [[ -z "${MIMIR_SYSTEM_LLAMA:-}" ]]; then
  IFS=';' read -r llama_src llama_build < <(scripts/llama.sh | tail -n 1)
  llama_args=(-DMIMIR_LLAMA_SOURCE_DIR="$llama_src" -DMIMIR_LLAMA_BUILD_DIR="$llama_build")
fi

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DMIMIR_NATIVE="${MIMIR_NATIVE:-ON}" "${llama_args[@]}" "$@" >"$build_dir.configure.log" 2>&1 \
  || { tail -40 "$build_dir.configure.log" >&2; exit 1; }
rm -f "$build_dir.configure.log"
cmake --build "$build_dir" -j "${MIMIR_JOBS:-$(nproc)}"
