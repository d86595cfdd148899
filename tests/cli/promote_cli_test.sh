#!/usr/bin/env bash
# `mimir promote` with a running `mimir serve --models`: the first promotion is served, a second one reloads
# the server (its /api/status reports the new generation's SHA-256), a rollback puts the first back, a
# server that does not answer is recorded as a failed reload while the promotion stands, and --history
# lists every record.
# Usage: promote_cli_test.sh MIMIR WORK_DIR SOURCE_DIR
set -euo pipefail
mimir="$1"; work="$2"; source_dir="$3"
rm -rf "$work"; mkdir -p "$work"
cat >"$work/rows.csv" <<'CSV'
Prompt,Model Response,Issues,Ideal Response
Hello!,"Greetings, dear seeker of wisdom :)",Tone: emoticon,Hello! I am Mimir. What shall we study?
Thanks!,"You're SO welcome!!!",Tone: filler,You are welcome. Good luck with your studies.
Bye,"Farewell, brave learner!!!",Tone: flowery,Goodbye. Come back any time.
CSV
"$mimir" model tiny --out "$work/base.gguf" --layers 2 --embd 64 --ff 256 --ctx 512 2>>"$work/mimir.log"
models="$work/models"
port=$((30000 + RANDOM % 20000))
server=""
fail() { echo "FAIL: $*"; [[ -n "$server" ]] && kill "$server" 2>/dev/null; exit 1; }
promote() {
  "$mimir" promote --models "$models" --data "$work/rows.csv" --base "$work/base.gguf" \
    --suite-from-csv "$work/rows.csv" --phrases "$source_dir/data/checks" --min-accuracy 0 --epochs 1 \
    --grad-accumulation 3 --eval-fraction 0 --threads 1 --ctx 512 --system-prompt none --samples 1 \
    --max-tokens 16 --eval-ctx 512 "$@" 2>>"$work/mimir.log"
}
served_sha() { curl -sf "http://127.0.0.1:$port/api/status" | grep -o '"file_sha256":"[^"]*"' | cut -d'"' -f4; }
sha_of() { sha256sum "$models/generations/$1/fine-tuned.gguf" | cut -d' ' -f1; }
wait_for_sha() {
  for _ in $(seq 100); do [[ "$(served_sha || true)" == "$1" ]] && return 0; sleep 0.2; done
  return 1
}

promote >"$work/out1.txt" || fail "the first promotion did not promote: $(cat "$work/out1.txt")"
grep -q "^promoted" "$work/out1.txt" || fail "no decision printed"
status=0; "$mimir" promote --rollback --models "$models" >/dev/null 2>"$work/rollback0.txt" || status=$?
[[ $status == 1 ]] || fail "a rollback with nothing before the first generation exited $status"
grep -q "nothing_to_roll_back" "$work/rollback0.txt" || fail "no clear error: $(cat "$work/rollback0.txt")"

"$mimir" serve --models "$models" --base "$work/base.gguf" --api-key secret --port "$port" --threads 1 \
  --ctx 512 --parallel 1 --system-prompt none --rate-limit 0 --data "$work/feedback.db" >>"$work/serve.log" 2>&1 &
server=$!
wait_for_sha "$(sha_of 0001)" || fail "the server does not serve generation 0001 ($(served_sha || true))"

promote --server "http://127.0.0.1:$port" --api-key secret >"$work/out2.txt" || fail "second promotion"
grep -q "server reloaded" "$work/out2.txt" || fail "the server was not reloaded: $(cat "$work/out2.txt")"
wait_for_sha "$(sha_of 0002)" || fail "after the reload the server does not serve generation 0002"

"$mimir" promote --rollback --models "$models" --server "http://127.0.0.1:$port" --api-key secret \
  >"$work/rollback.txt" 2>>"$work/mimir.log" || fail "rollback: $(cat "$work/rollback.txt")"
wait_for_sha "$(sha_of 0001)" || fail "after the rollback the server does not serve generation 0001"
kill "$server"; wait "$server" 2>/dev/null || true; server=""

promote --server "http://127.0.0.1:$port" --api-key secret >"$work/out3.txt" || fail "promotion with no server"
grep -q "NOT reloaded" "$work/out3.txt" || fail "a server that does not answer was not reported"
[[ "$(readlink "$models/current")" == "generations/0003" ]] || fail "the promotion did not stand"

"$mimir" promote --history --models "$models" >"$work/history.txt" || fail "history"
[[ $(grep -c "promoted" "$work/history.txt") == 3 ]] || fail "history: $(cat "$work/history.txt")"
grep -q "rolled_back" "$work/history.txt" || fail "history has no rollback"
"$mimir" promote --history --json --models "$models" >"$work/history.json" || fail "history --json"
[[ $(grep -c '"decision"' "$work/history.json") == 4 ]] || fail "history --json: $(cat "$work/history.json")"
grep -q '"reload": "failed"' "$work/history.json" || fail "the failed reload is not recorded"
echo "1 passed, 0 failed"
