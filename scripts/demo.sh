#!/usr/bin/env bash
# The README's first command: sets up and builds Mimir (scripts/setup.sh) and serves the chat page at once.
# Without models of your own it serves the demo models, built from data/mimir_fine_tuning.csv alone while the
# server runs (`mimir serve --demo`): the status button shows the build's progress, then orange (the demo
# base), then green (its adapter, then the merged fine-tuned model). They are cached in ~/.cache/mimir/demo,
# so a second start serves them at once.
# Real models are used instead when present under /data (a Hugging Face Space's persistent storage, laid out
# as a `mimir train --out` run folder plus base.gguf) or when MIMIR_FINE_TUNED / MIMIR_ADAPTER / MIMIR_BASE
# are set.
# Usage: scripts/demo.sh [--host 0.0.0.0] [--port 7860] [any other `mimir serve` flag]
#   MIMIR_BUILD_DIR (default build), MIMIR_SKIP_SETUP=1 to use an existing build without running the setup.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${MIMIR_BUILD_DIR:-build}"
mimir="$build_dir/src/cli/mimir"
if [[ "${MIMIR_SKIP_SETUP:-0}" != 1 || ! -x "$mimir" ]]; then
  scripts/setup.sh --build-dir "$build_dir"
fi

if [[ -n "${MIMIR_FINE_TUNED:-}${MIMIR_ADAPTER:-}${MIMIR_BASE:-}" ]]; then
  exec "$mimir" serve "$@"
fi
if [[ -f /data/base.gguf || -f /data/fine-tuned.gguf ]]; then
  # These names are RunFolder's (src/train/run_folder.h) and must stay in step with it.
  export MIMIR_FINE_TUNED=/data/fine-tuned.gguf MIMIR_ADAPTER=/data/adapter.gguf MIMIR_BASE=/data/base.gguf
  serve_flags=()
  # A model is served with the system prompt it was trained with, unless the command line names another.
  if [[ -f /data/system_prompt.txt && " $* " != *" --system-prompt"* ]]; then
    serve_flags=(--system-prompt-file /data/system_prompt.txt)
  fi
  exec "$mimir" serve "${serve_flags[@]}" "$@"
fi
echo "demo: no models of your own: serving the demo models, built from data/mimir_fine_tuning.csv" >&2
exec "$mimir" serve --demo "$@"
