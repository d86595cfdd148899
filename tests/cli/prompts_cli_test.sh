#!/usr/bin/env bash
# `mimir prompts train` and the tutor-prompt checks of `mimir serve` at start, as a person runs them:
# training prints the held-out accuracy and writes the same file for the same seed; bad input exits 2;
# a bad snippet folder or classifier stops serve naming the file, or with --prompt-fallback serves the
# fixed prompt and says so in /metrics.
# Usage: prompts_cli_test.sh MIMIR WORK_DIR SOURCE_DIR
set -euo pipefail
mimir="$1"; work="$2"; source="$3"
rm -rf "$work"; mkdir -p "$work"
server=""
passed=0
fail() { echo "FAIL: $*"; [[ -n "$server" ]] && kill "$server" 2>/dev/null; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }

# Training: accuracy line, per-label figures, the file, determinism.
out="$("$mimir" prompts train --labels "$source/data/prompt_labels.csv" --out "$work/a.json" --seed 7)" \
  || fail "prompts train exited $?"
echo "$out"
grep -Eq '^held-out accuracy [0-9.]+ \([0-9]+/[0-9]+\), majority baseline [0-9.]+; ' <<<"$out" || fail "no accuracy line"
grep -q "math " <<<"$out" || fail "no per-label accuracy"
grep -q '"format":"mimir-snippet-classifier"' "$work/a.json" || fail "the file has no format name"
"$mimir" prompts train --labels "$source/data/prompt_labels.csv" --out "$work/b.json" --seed 7 >/dev/null
cmp -s "$work/a.json" "$work/b.json" || fail "the same seed wrote different files"
ok "train prints accuracy, writes the same file for the same seed"

suite_out="$("$mimir" prompts train --labels "$source/data/prompt_labels.csv" --out "$work/c.json" --test-share 0 \
  --suite "$source/data/eval_suite.jsonl")" || fail "prompts train --suite exited $?"
grep -q "^suite .*held-out accuracy" <<<"$suite_out" || fail "no suite accuracy: $suite_out"
ok "--test-share 0 --suite measures on the eval suite"

set +e
"$mimir" prompts train --labels "$work/none.csv" --out "$work/x.json" 2>"$work/err.txt"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "a missing labels file exited $rc, not 2"
grep -q "none.csv" "$work/err.txt" || fail "the error does not name the file: $(cat "$work/err.txt")"
printf 'prompt,label\nhello,\n' >"$work/bad.csv"
set +e
"$mimir" prompts train --labels "$work/bad.csv" --out "$work/x.json" 2>"$work/err.txt"; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "an empty label exited $rc, not 2"
grep -q "bad.csv:2" "$work/err.txt" || fail "the error does not name the line: $(cat "$work/err.txt")"
ok "bad labels files exit 2 naming the file and line"

# serve refuses to start on a bad snippet folder or classifier, naming the file.
cp -r "$source/data/prompts" "$work/prompts"
rm "$work/prompts/math_steps.txt"
set +e
"$mimir" serve --tutor-prompt snippets --port 0 --data "$work/f.db" --prompts "$work/prompts" >"$work/serve1.log" 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "serve with a missing snippet exited $rc, not 2"
grep -q "math_steps.txt" "$work/serve1.log" || fail "serve's error does not name the snippet: $(cat "$work/serve1.log")"
echo '{"format": "mimir-snippet-classifier", "version": 1, "labels": [' >"$work/corrupt.json"
set +e
"$mimir" serve --tutor-prompt snippets --port 0 --data "$work/f.db" --snippet-classifier "$work/corrupt.json" >"$work/serve2.log" 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "serve with a corrupt classifier exited $rc, not 2"
grep -q "corrupt.json" "$work/serve2.log" || fail "serve's error does not name the classifier"
ok "serve refuses to start on a missing snippet or a corrupt classifier"

# With --prompt-fallback it serves the fixed prompt, warns, and exposes the metric.
port=$((30000 + RANDOM % 20000))
"$mimir" serve --tutor-prompt snippets --port "$port" --data "$work/f.db" --snippet-classifier "$work/corrupt.json" --prompt-fallback \
  >"$work/serve3.log" 2>&1 &
server=$!
metrics=""
# Up to 60 s: under CI's parallel tests a start took over 20 s once.
for _ in $(seq 300); do
  metrics="$(curl -sf "http://127.0.0.1:$port/metrics" || true)"
  [[ -n "$metrics" ]] && break
  kill -0 "$server" 2>/dev/null || fail "serve exited: $(tail -5 "$work/serve3.log")"
  sleep 0.2
done
grep -q "^mimir_prompt_fallback 1$" <<<"$metrics" || fail "no mimir_prompt_fallback 1 in /metrics: $(tail -5 "$work/serve3.log")"
grep -q "event=prompt_fallback" "$work/serve3.log" || fail "no fallback warning in the log"
kill "$server"; wait "$server" 2>/dev/null || true
server=""
ok "--prompt-fallback serves the fixed prompt with a warning and a metric"
echo "$passed passed, 0 failed"
