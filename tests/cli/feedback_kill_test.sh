#!/usr/bin/env bash
# `kill -9` of `mimir serve` while several clients submit feedback: after a restart on the same store, every
# submission the server acknowledged (201 with an id) is there exactly once with the content sent, and every
# row that is there is complete (one the server committed but could not acknowledge before dying may be
# there too, whole). The server serves a tiny random-weight model, whose tier each row must name.
# Usage: feedback_kill_test.sh MIMIR SOURCE_DIR WORK_DIR sqlite|postgresql
# Exits 77 (ctest: skipped) when the PostgreSQL variant has no server binaries to start.
set -euo pipefail
mimir="$1"; source_dir="$2"; work="$3"; backend="$4"
clients=4
wanted_acks=60
rm -rf "$work"; mkdir -p "$work"
server=""; pg_dir=""
cleanup() {
  [[ -n "$server" ]] && kill -9 "$server" 2>/dev/null || true
  touch "$work/stop"
  [[ -n "$pg_dir" ]] && "$source_dir/tests/support/postgres_server.sh" stop "$pg_dir" || true
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

if [[ "$backend" == postgresql ]]; then
  pg_dir="$(mktemp -d /tmp/mimir-pg.XXXXXX)"
  set +e
  data="$("$source_dir/tests/support/postgres_server.sh" start "$pg_dir" 2>"$work/pg.err")"
  code=$?
  set -e
  if [[ $code -eq 77 ]]; then echo "SKIP: $(cat "$work/pg.err")"; exit 77; fi
  [[ $code -eq 0 ]] || fail "the PostgreSQL server did not start: $(cat "$work/pg.err")"
else
  data="$work/store/feedback.db"
fi

"$mimir" model tiny --out "$work/tiny.gguf" --layers 2 --embd 64 >/dev/null 2>&1 || fail "mimir model tiny failed"
port=$((30000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
start() {
  "$mimir" serve --port "$port" --base "$work/tiny.gguf" --data "$data" --phrases "$source_dir/data/checks" --api-key test-key \
    --feedback-rate-limit 0 --threads 1 >>"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 300); do
    curl -sf -o /dev/null "$url/health" && return 0
    kill -0 "$server" 2>/dev/null || fail "the server exited at start: $(tail -5 "$work/serve.log")"
    sleep 0.1
  done
  fail "the server did not answer within 30 s"
}

# The content of a submission follows from its prompt, so any stored row can be checked against it.
body_for() {
  local prompt="$1"
  printf '{"prompt":"%s","model_response":"reply to %s :D","issues":["Tone"],"notes":"notes <b>%s</b> é","ideal_response":"ideal for %s","rating":"down"}' \
    "$prompt" "$prompt" "$prompt" "$prompt"
}

client() {
  local c="$1" n=0 prompt code id
  while [[ ! -e "$work/stop" ]]; do
    n=$((n + 1))
    prompt="client $c request $n"
    echo "$prompt" >>"$work/sent.$c"
    code="$(curl -s -o "$work/reply.$c" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
      --data-binary "$(body_for "$prompt")" "$url/api/feedback" || true)"
    if [[ "$code" == 201 ]]; then
      id="$(grep -o '"id":[0-9]*' "$work/reply.$c" | cut -d: -f2 || true)"
      [[ -n "$id" ]] && printf '%s\t%s\n' "$id" "$prompt" >>"$work/acks.$c"
    elif [[ "$code" == 000 ]]; then
      sleep 0.05  # the server is gone; keep trying until told to stop
    fi
  done
}

start
for c in $(seq "$clients"); do client "$c" & done
for _ in $(seq 600); do
  acked="$(cat "$work"/acks.* 2>/dev/null | wc -l || true)"
  ((acked >= wanted_acks)) && break
  sleep 0.1
done
kill -9 "$server"
wait "$server" 2>/dev/null || true
server=""
touch "$work/stop"
wait
cat "$work"/acks.* >"$work/acks" 2>/dev/null || true
echo "acknowledged before kill -9: $(wc -l <"$work/acks")"
(($(wc -l <"$work/acks") >= wanted_acks)) || fail "too few acknowledged submissions before the kill"

start
# Every stored row, a page at a time.
: >"$work/rows"
before=""
for _ in $(seq 100); do
  page="$(curl -sf -H 'Authorization: Bearer test-key' "$url/api/feedback?limit=200${before:+&before=$before}")" \
    || fail "listing failed"
  # One item per line: records are flat objects apart from their arrays.
  printf '%s' "$page" | sed 's/},{"checks"/}\n{"checks"/g' >>"$work/rows"
  echo >>"$work/rows"
  next="$(printf '%s' "$page" | grep -o '"next_before":[0-9null]*' | cut -d: -f2)"
  [[ "$next" == null ]] && break
  before="$next"
done
grep -c '"prompt":"client ' "$work/rows" >/dev/null || fail "no rows after the restart"

failures=0
while IFS=$'\t' read -r id prompt; do
  record="$(curl -sf -H 'Authorization: Bearer test-key' "$url/api/feedback/$id")" \
    || { echo "acknowledged id $id ($prompt) is missing"; failures=$((failures + 1)); continue; }
  for part in "\"prompt\":\"$prompt\"" "\"model_response\":\"reply to $prompt :D\"" \
    "\"notes\":\"notes <b>$prompt</b> é\"" "\"ideal_response\":\"ideal for $prompt\"" '"rating":"down"' \
    '"issues":["Tone"]' '"tier":"base"'; do
    [[ "$record" == *"$part"* ]] || { echo "id $id lacks $part: $record"; failures=$((failures + 1)); }
  done
  count="$(grep -cF "\"prompt\":\"$prompt\"" "$work/rows" || true)"
  [[ "$count" == 1 ]] || { echo "\"$prompt\" is stored $count times"; failures=$((failures + 1)); }
done <"$work/acks"

# Every stored row, acknowledged or not, is one that was sent, whole.
stored=0
while read -r prompt; do
  stored=$((stored + 1))
  grep -qxF "$prompt" "$work"/sent.* || { echo "stored \"$prompt\" was never sent"; failures=$((failures + 1)); }
  row="$(grep -F "\"prompt\":\"$prompt\"" "$work/rows")"
  [[ "$row" == *"\"ideal_response\":\"ideal for $prompt\""* && "$row" == *"\"notes\":\"notes <b>$prompt</b> é\""* ]] \
    || { echo "stored \"$prompt\" is incomplete: $row"; failures=$((failures + 1)); }
done < <(grep -o '"prompt":"client [0-9]* request [0-9]*"' "$work/rows" | cut -d'"' -f4)
(($(grep -o '"id":' "$work/rows" | wc -l) == stored)) || { echo "rows without a client prompt exist"; failures=$((failures + 1)); }
echo "stored after restart: $stored (acknowledged: $(wc -l <"$work/acks"))"
((failures == 0)) || fail "$failures problems"
echo "1 passed, 0 failed"
