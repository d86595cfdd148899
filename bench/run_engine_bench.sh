#!/usr/bin/env bash
# Compares Mimir with llama.cpp's own tools on the same model, thread count and context, in one run, and
# prints the ratios the issue asks for: the engine (engine_bench) against llama-bench and llama-completion,
# and `mimir serve` against `llama-server -np 4` over HTTP (chat_server_bench, the same client for both).
# Run by hand (never in CI), under `flock /tmp/mimir-bench.lock` on a shared machine; machines are noisy,
# so compare ratios, not absolute numbers.
# The tutor prompt built from snippets is measured against the fixed one with the shipped snippets in
# data/prompts/ (identity_tone.txt the always-present prefix, the others chosen) unless --prompt-prefix FILE
# and --snippet FILE (each repeatable) name others.
# Usage: bench/run_engine_bench.sh MODEL.gguf [--threads N] [--ctx N] [--repetitions N] [--build-dir DIR]
#        [--prompt-prefix FILE]... [--snippet FILE]...
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 1 ]] || { echo "usage: $0 MODEL.gguf [--threads N] [--ctx N] [--repetitions N] [--build-dir DIR]" >&2; exit 2; }
model="$1"; shift
threads="$(nproc)"; ctx=4096; repetitions=3; build_dir=build
prompt_flags=(); snippet_flags=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prompt-prefix) prompt_flags+=(--prompt-prefix "$2"); shift 2 ;;
    --snippet) snippet_flags+=(--snippet "$2"); shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --ctx) ctx="$2"; shift 2 ;;
    --repetitions) repetitions="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -f "$model" ]] || { echo "no model file $model" >&2; exit 1; }
[[ ${#prompt_flags[@]} -gt 0 ]] || prompt_flags=(--prompt-prefix data/prompts/identity_tone.txt)
if [[ ${#snippet_flags[@]} -eq 0 ]]; then
  for snippet in data/prompts/*.txt; do
    [[ "$snippet" == data/prompts/identity_tone.txt ]] || snippet_flags+=(--snippet "$snippet")
  done
fi
engine_bench="$build_dir/bench/engine_bench"
chat_server_bench="$build_dir/bench/chat_server_bench"
for program in "$engine_bench" "$chat_server_bench" "$build_dir/src/cli/mimir"; do
  [[ -x "$program" ]] || { echo "$program not built: cmake --build $build_dir --target engine_bench chat_server_bench mimir" >&2; exit 1; }
done
tools="$(sed -n 's/^MIMIR_LLAMA_TOOLS_DIR:PATH=//p' "$build_dir/CMakeCache.txt")"
for tool in llama-bench llama-completion llama-server; do
  [[ -x "$tools/$tool" ]] || { echo "$tools/$tool not found (MIMIR_LLAMA_SERVER=1 scripts/llama.sh builds all three)" >&2; exit 1; }
done
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

echo "model=$model threads=$threads ctx=$ctx repetitions=$repetitions"

# llama.cpp's own figures, one test per run, so that a crash of one does not hide the other.
llama_bench() {  # llama_bench N_PROMPT N_GEN -> best tokens/s, or n/a
  if "$tools/llama-bench" -m "$model" -t "$threads" -p "$1" -n "$2" -r "$repetitions" -o json \
       >"$work/llama-bench.json" 2>/dev/null; then
    jq ".[] | select(.n_prompt == $1 and .n_gen == $2) | .samples_ts | max" "$work/llama-bench.json"
  else
    echo "llama-bench -p $1 -n $2 failed (exit $?)" >&2
    echo n/a
  fi
}
# The best sample of each, as engine_bench reports its best run: load from elsewhere only slows runs down.
pp512="$(llama_bench 512 0)"
tg128="$(llama_bench 0 128)"

# Mimir's engine alone in its process (see the note at the top of engine_bench.cpp).
"$engine_bench" --model "$model" --threads "$threads" --ctx "$ctx" --repetitions "$repetitions" \
  "${prompt_flags[@]}" "${snippet_flags[@]}" >"$work/engine.txt"
value() { sed -n "s/^$2=//p" "$work/$1.txt"; }

# Peak RSS of both processes, measured the same way from outside.
peak_kb() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }
/usr/bin/time -v "$tools/llama-completion" -m "$model" -c "$ctx" -t "$threads" -n 16 -no-cnv --no-warmup \
  -p "I believe the meaning of life is" </dev/null >/dev/null 2>"$work/completion.time" || true
/usr/bin/time -v "$engine_bench" --model "$model" --threads "$threads" --ctx "$ctx" --rss-only \
  >/dev/null 2>"$work/engine.time"
completion_kb="$(peak_kb "$work/completion.time")"
engine_kb="$(peak_kb "$work/engine.time")"

# Both servers over HTTP with the same client: 4 slots, the same threads, and the same KV memory (llama-server
# splits -c among its slots: ctx/4 tokens each; Mimir shares ctx among its slots). Everything else is each
# server's default, including llama-server's prompt cache in RAM (--cache-ram) and its slot choice by prompt
# similarity. llama-server parses every reply against the chat format, and ends the stream with a 500 when
# a random-weight model's output does not parse, which happens when 128 tokens end inside a UTF-8 sequence
# built from byte tokens. So llama-server's requests never sample byte tokens (a logit_bias: other tokens,
# the same work per token), and go as Phi-3 chat-template text to /v1/completions (the same prompt tokens;
# its Jinja chat path also failed mid-stream).
server_bench() {  # server_bench NAME PORT CLIENT_FLAGS COMMAND... -> $work/NAME.txt
  local name="$1" port="$2" client_flags="$3"; shift 3
  "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
  "$chat_server_bench" --port "$port" --streams 4 --max-tokens 128 --repetitions "$repetitions" $client_flags \
    >"$work/$name.txt" \
    || { echo "chat_server_bench against $name failed; its log:" >&2; tail -20 "$work/$name.log" >&2; }
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
port=$((20000 + RANDOM % 20000))
server_bench mimir "$port" "" "$build_dir/src/cli/mimir" serve --base "$model" --port "$port" --threads "$threads" \
  --ctx "$ctx" --parallel 4 --rate-limit 0
server_bench llama "$((port + 1))" "--phi3-text-completions --ban-byte-tokens" "$tools/llama-server" -m "$model" --port "$((port + 1))" -t "$threads" \
  -c "$ctx" -np 4

# The first student after a start: each server starts afresh with the deployment's tutor prompt (Mimir
# from --system-prompt-file, computed as it loads; llama-server has no such setting, so the client sends
# it), then one new conversation. Repeated with a restart each time; the best is kept.
"$chat_server_bench" --write-system-prompt "$work/tutor.txt"
for r in $(seq "$repetitions"); do
  server_bench "mimir-first-$r" "$((port + 2))" "--first-student --system-from-server" "$build_dir/src/cli/mimir" serve \
    --base "$model" --port "$((port + 2))" --threads "$threads" --ctx "$ctx" --parallel 4 --rate-limit 0 \
    --system-prompt-file "$work/tutor.txt"
  server_bench "llama-first-$r" "$((port + 3))" "--first-student --phi3-text-completions --ban-byte-tokens" \
    "$tools/llama-server" -m "$model" --port "$((port + 3))" -t "$threads" -c "$ctx" -np 4
done
best() {  # best PREFIX KEY -> the smallest value of KEY over $work/PREFIX-*.txt
  cat "$work/$1"-*.txt | sed -n "s/^$2=//p" | sort -g | head -n 1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
line() { printf "%-58s %10s %10s %6s  (%s)\n" "$1" "$2" "$3" "$4" "$5"; }
compare() {  # compare LABEL MIMIR REFERENCE TARGET
  line "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4"
}
echo
line "figure" "mimir" "reference" "ratio" "target"
compare "single-stream decode, tok/s (vs llama-bench tg128)" "$(value engine decode_tokens_per_s)" "$tg128" ">= 0.95"
compare "prompt processing, tok/s (vs llama-bench pp512)" "$(value engine prompt_tokens_per_s)" "$pp512" ">= 0.90"
compare "4 streams aggregate, tok/s, engine (vs engine 1 stream)" "$(value engine four_streams_tokens_per_s)" \
  "$(value engine one_stream_tokens_per_s)" "aim 2.0"
compare "TTFT new conversation, ms, engine (cached vs not)" "$(value engine ttft_new_conversation_cached_ms)" \
  "$(value engine ttft_new_conversation_uncached_ms)" "$(value engine system_prompt_tokens_cached) system tokens reused"
compare "TTFT new conversation, ms, snippet prompt seen vs fixed" "$(value engine ttft_snippets_seen_ms)" \
  "$(value engine ttft_fixed_ms)" "<= 1.2"
compare "  every new conversation (first sights too) vs fixed" "$(value engine ttft_snippets_all_ms)" \
  "$(value engine ttft_fixed_ms)" "$(value engine snippet_combinations) combinations"
compare "  only the pinned prefix shared vs fixed" "$(value engine ttft_snippets_pinned_only_ms)" \
  "$(value engine ttft_fixed_ms)" ""
compare "peak RSS, MiB (vs llama-completion)" "$((engine_kb / 1024))" "$((completion_kb / 1024))" "<= 1.0"
echo "Over HTTP, mimir serve vs llama-server -np 4 (streaming, greedy, ignore_eos, 128 tokens a stream):"
compare "1 stream, tok/s" "$(value mimir one_stream_tokens_per_s)" "$(value llama one_stream_tokens_per_s)" ""
compare "4 streams aggregate, tok/s" "$(value mimir streams_tokens_per_s)" "$(value llama streams_tokens_per_s)" \
  ">= 1.0"
compare "  mimir serve 4 streams vs its 1 stream" "$(value mimir streams_tokens_per_s)" \
  "$(value mimir one_stream_tokens_per_s)" "aim 2.0"
echo "Time to first token, $(value mimir ttft_prompt_tokens) prompt tokens (mimir; llama-server $(value llama ttft_prompt_tokens)):"
compare "TTFT new conversation, ms, server idle" "$(value mimir ttft_new_conversation_idle_ms)" \
  "$(value llama ttft_new_conversation_idle_ms)" "<= 0.5"
compare "TTFT new conversation, ms, other conversation streaming" "$(value mimir ttft_new_conversation_busy_ms)" \
  "$(value llama ttft_new_conversation_busy_ms)" "<= 0.5"
compare "TTFT system prompt never seen, ms" "$(value mimir ttft_cold_ms)" "$(value llama ttft_cold_ms)" ""
echo "First student after a start with the tutor prompt, $(best mimir-first first_student_prompt_tokens) prompt tokens (llama-server $(best llama-first first_student_prompt_tokens)):"
compare "TTFT first conversation after start, ms" "$(best mimir-first ttft_first_student_ms)" \
  "$(best llama-first ttft_first_student_ms)" "<= 0.5"
