#!/usr/bin/env bash
# The README's first command: sets up and builds Mimir (scripts/setup.sh), writes the demo model, and
# serves the chat page. Until trained Mimir models exist, the demo model is a tiny random-weight Phi-3
# written once into ~/.cache/mimir/demo/; the fine-tuned and adapter tiers point at files that do not
# exist there, so the page honestly shows the orange "fallback to base" state.
# Real models are used instead when present under /data (a Hugging Face Space's persistent storage) or
# when MIMIR_FINE_TUNED / MIMIR_ADAPTER / MIMIR_BASE are set.
# Usage: scripts/demo.sh [--host 0.0.0.0] [--port 7860] [any other `mimir serve` flag]
#   MIMIR_BUILD_DIR (default build), MIMIR_DEMO_DIR (default ~/.cache/mimir/demo),
#   MIMIR_SKIP_SETUP=1 to use an existing build without running the setup.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${MIMIR_BUILD_DIR:-build}"
mimir="$build_dir/src/cli/mimir"
if [[ "${MIMIR_SKIP_SETUP:-0}" != 1 || ! -x "$mimir" ]]; then
  scripts/setup.sh --build-dir "$build_dir"
fi

demo_dir="${MIMIR_DEMO_DIR:-$HOME/.cache/mimir/demo}"
mkdir -p "$demo_dir"
if [[ ! -f "$demo_dir/base.gguf" ]]; then
  echo "demo: writing the demo model $demo_dir/base.gguf (tiny Phi-3 with random weights)" >&2
  "$mimir" model tiny --arch phi3 --out "$demo_dir/base.gguf" >&2
fi

# The first path that exists, else the last one (a path that does not exist makes that tier fail
# with "not found", which the status button reports).
first_existing() {
  for path in "$@"; do
    if [[ -e "$path" ]]; then echo "$path"; return; fi
  done
  echo "${@: -1}"
}
# /data and the demo folder are laid out as a `mimir train --out` run folder: these names are
# RunFolder's (src/train/run_folder.h) and must stay in step with it.
run_file() { first_existing "/data/$1" "$demo_dir/$1"; }
export MIMIR_FINE_TUNED="${MIMIR_FINE_TUNED:-$(run_file fine-tuned.gguf)}"
export MIMIR_ADAPTER="${MIMIR_ADAPTER:-$(run_file adapter.gguf)}"
export MIMIR_BASE="${MIMIR_BASE:-$(run_file base.gguf)}"
echo "demo: fine-tuned=$MIMIR_FINE_TUNED adapter=$MIMIR_ADAPTER base=$MIMIR_BASE" >&2

# A model is served with the system prompt it was trained with (the run's system_prompt.txt), unless the
# command line names another.
serve_flags=()
system_prompt="$(run_file system_prompt.txt)"
if [[ -f "$system_prompt" && " $* " != *" --system-prompt-file"* ]]; then
  echo "demo: system prompt from $system_prompt" >&2
  serve_flags=(--system-prompt-file "$system_prompt")
fi
exec "$mimir" serve "${serve_flags[@]}" "$@"
