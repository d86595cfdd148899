#!/usr/bin/env bash
# `mimir serve --demo` end to end on a 6-row data set: the server answers at once, the status button goes
# Loading -> Base model -> Adapter -> Fine-tuned as the build finishes each model (no restart), the chat
# endpoint answers with the fine-tuned model, and a second start reuses the cached build at once.
# Usage: serve_demo_test.sh MIMIR WORK_DIR
set -euo pipefail
mimir="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
cat >"$work/rows.csv" <<'CSV'
Prompt,Model Response,Issues,Ideal Response
Hello!,"Greetings, dear seeker of wisdom :)",Tone: emoticon,Hello! I am Mimir. What shall we study?
What is 2 + 2?,"Oh, the dance of numbers!!! It is 4 :D",Tone: emoticon,What do you get when you count on by two?
Define a noun.,"A noun, like a star, names things ;)",Tone: metaphor,"A noun names a person, place or thing."
Thanks!,"You're SO welcome!!!",Tone: filler,You are welcome. Good luck with your studies.
Solve x + 1 = 3.,"x = 2, easy peasy :)",Pedagogy: answer given,What can you subtract from both sides?
Bye,"Farewell, brave learner!!!",Tone: flowery,Goodbye. Come back any time.
CSV
port=$((30000 + RANDOM % 20000))
server=""
fail() { echo "FAIL: $*"; [[ -n "$server" ]] && kill "$server" 2>/dev/null; exit 1; }
label() { curl -sf "http://127.0.0.1:$port/api/status" | grep -o '"label":"[^"]*"' | cut -d'"' -f4; }
start() {
  "$mimir" serve --demo --demo-data "$work/rows.csv" --demo-cache "$work/cache" --demo-threads 1 --threads 1 \
    --port "$port" --rate-limit 0 --data "$work/feedback.db" --phrases "$(dirname "$0")/../../data/checks" >>"$work/serve.log" 2>&1 &
  server=$!
}

start
seen=""
for _ in $(seq 600); do  # 0.2 s polls, 120 s at most
  current="$(label || true)"
  [[ -n "$current" && "$current" != "${seen##*,}" ]] && seen="$seen,$current"
  [[ "$current" == "Fine-tuned" ]] && break
  sleep 0.2
done
echo "labels seen: ${seen#,}"
[[ "$seen" == *Loading* ]] || fail "the page did not open in the loading state"
[[ "$seen" == *",Base model"* ]] || fail "the demo base was never served"
[[ "$seen" == *",Adapter"* ]] || fail "the demo adapter was never served"
[[ "${seen##*,}" == "Fine-tuned" ]] || fail "the fine-tuned model was not served within 120 s"
reply="$(curl -sf "http://127.0.0.1:$port/v1/chat/completions" \
  -d '{"messages":[{"role":"user","content":"Hello!"}],"max_tokens":8,"temperature":0}')" || fail "no chat reply"
[[ "$reply" == *'"model":"mimir-fine-tuned"'* ]] || fail "the reply did not come from the fine-tuned tier: $reply"
kill "$server"; wait "$server" 2>/dev/null || true

start
for _ in $(seq 100); do
  [[ "$(label || true)" == "Fine-tuned" ]] && break
  sleep 0.2
done
[[ "$(label || true)" == "Fine-tuned" ]] || fail "a second start did not reuse the cached build within 20 s"
grep -q "reused=true" "$work/serve.log" || fail "the second start rebuilt the models"
kill "$server"; wait "$server" 2>/dev/null || true
echo "1 passed, 0 failed"
