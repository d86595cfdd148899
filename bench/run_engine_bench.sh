#!/usr/bin/env bash
# Compares Mimir's engine with llama.cpp's own tools on the same model, thread count and context, in one
# run, and prints the ratios the issue asks for. Run by hand (never in CI); machines are noisy, so run it
# on an otherwise idle machine and compare ratios, not absolute numbers.
# Usage: bench/run_engine_bench.sh MODEL.gguf [--threads N] [--ctx N] [--repetitions N] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 1 ]] || { echo "usage: $0 MODEL.gguf [--threads N] [--ctx N] [--repetitions N] [--build-dir DIR]" >&2; exit 2; }
model="$1"; shift
threads="$(nproc)"; ctx=4096; repetitions=3; build_dir=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --ctx) ctx="$2"; shift 2 ;;
    --repetitions) repetitions="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$model" ]] || { echo "no model file $model" >&2; exit 1; }
engine_bench="$build_dir/bench/engine_bench"
[[ -x "$engine_bench" ]] || { echo "$engine_bench not built: cmake --build $build_dir --target engine_bench" >&2; exit 1; }
tools="$(sed -n 's/^MIMIR_LLAMA_TOOLS_DIR:PATH=//p' "$build_dir/CMakeCache.txt")"
for tool in llama-bench llama-completion; do
  [[ -x "$tools/$tool" ]] || { echo "$tools/$tool not found (scripts/llama.sh builds it)" >&2; exit 1; }
done
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

echo "model=$model threads=$threads ctx=$ctx repetitions=$repetitions"

# llama.cpp's own figures, one test per run: on AMX CPUs this llama-bench crashes in prompt processing of
# quantized weights (its repacked buffers; Mimir loads without them), and one crash should not hide the other.
llama_bench() {  # llama_bench N_PROMPT N_GEN -> best tokens/s, or n/a
  if "$tools/llama-bench" -m "$model" -t "$threads" -p "$1" -n "$2" -r "$repetitions" -o json \
       >"$work/llama-bench.json" 2>/dev/null; then
    jq ".[] | select(.n_prompt == $1 and .n_gen == $2) | .samples_ts | max" "$work/llama-bench.json"
  else
    echo "llama-bench -p $1 -n $2 failed (exit $?); see the in-process reference instead" >&2
    echo n/a
  fi
}
# The best sample of each, as engine_bench reports its best run: load from elsewhere only slows runs down.
pp512="$(llama_bench 512 0)"
tg128="$(llama_bench 0 128)"

# Mimir's figures.
"$engine_bench" --model "$model" --threads "$threads" --ctx "$ctx" --repetitions "$repetitions" >"$work/engine.txt"
value() { sed -n "s/^$1=//p" "$work/engine.txt"; }

# Peak RSS of both processes, measured the same way from outside.
peak_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
/usr/bin/time -v "$tools/llama-completion" -m "$model" -c "$ctx" -t "$threads" -n 16 -no-cnv --no-warmup \
  -p "I believe the meaning of life is" </dev/null >/dev/null 2>"$work/completion.time" || true
/usr/bin/time -v "$engine_bench" --model "$model" --threads "$threads" --ctx "$ctx" --rss-only \
  >/dev/null 2>"$work/engine.time"
completion_kb="$(peak_kb "$work/completion.time")"
engine_kb="$(peak_kb "$work/engine.time")"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
line() { printf "%-52s %12s %12s %8s  (%s)\n" "$1" "$2" "$3" "$4" "$5"; }
echo
line "figure" "mimir" "reference" "ratio" "target"
line "single-stream decode, tok/s (vs llama-bench tg128)" "$(value decode_tokens_per_s)" "$tg128" \
  "$(ratio "$(value decode_tokens_per_s)" "$tg128")" ">= 0.95"
line "  same, vs plain llama.cpp loop in this process" "$(value decode_tokens_per_s)" \
  "$(value plain_decode_tokens_per_s)" "$(ratio "$(value decode_tokens_per_s)" "$(value plain_decode_tokens_per_s)")" \
  "interleaved runs: less noisy on a busy machine"
line "prompt processing, tok/s (vs llama-bench pp512)" "$(value prompt_tokens_per_s)" "$pp512" \
  "$(ratio "$(value prompt_tokens_per_s)" "$pp512")" ">= 0.90"
line "  same, vs plain llama.cpp loop in this process" "$(value prompt_tokens_per_s)" \
  "$(value plain_prompt_tokens_per_s)" "$(ratio "$(value prompt_tokens_per_s)" "$(value plain_prompt_tokens_per_s)")" \
  "interleaved runs: less noisy on a busy machine"
line "4 streams aggregate, tok/s (vs Mimir 1 stream)" "$(value four_streams_tokens_per_s)" \
  "$(value one_stream_tokens_per_s)" \
  "$(ratio "$(value four_streams_tokens_per_s)" "$(value one_stream_tokens_per_s)")" "aim 2.0"
line "TTFT new conversation, ms (cached vs not)" "$(value ttft_new_conversation_cached_ms)" \
  "$(value ttft_new_conversation_uncached_ms)" \
  "$(ratio "$(value ttft_new_conversation_cached_ms)" "$(value ttft_new_conversation_uncached_ms)")" \
  "$(value system_prompt_tokens_cached) system tokens reused"
line "peak RSS, MiB (vs llama-completion)" "$((engine_kb / 1024))" "$((completion_kb / 1024))" \
  "$(ratio "$engine_kb" "$completion_kb")" "<= 1.0"
if [[ -x "$tools/llama-server" ]]; then
  echo "llama-server is built at $tools/llama-server, but this script does not drive it yet:" \
       "compare 4-stream rate and TTFT with it by hand (llama-server -np 4)."
else
  echo "llama-server: not built (scripts/llama.sh builds it only with LLAMA_BUILD_SERVER=ON);" \
       "the 4-stream and time-to-first-token comparisons against it are skipped."
fi
