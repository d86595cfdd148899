#!/usr/bin/env bash
# `mimir train --kernels` and MIMIR_KERNELS: the run logs the path it uses (event=kernels path=...), the
# flag forces a path (avx2 here, the F32 fallback), the environment variable forces one when the flag is
# absent and the flag wins over it, a misspelt name is refused while parsing, and a path this CPU cannot
# run stops the run with kernels_unavailable and the reason (skipped where every path runs).
# Usage: train_kernels_cli_test.sh MIMIR WORK_DIR
set -euo pipefail
mimir="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
cat >"$work/rows.csv" <<'CSV'
Prompt,Model Response,Issues,Ideal Response
Hello!,"Greetings, dear seeker of wisdom :)",Tone: emoticon,Hello! I am Mimir. What shall we study?
Thanks!,"You're SO welcome!!!",Tone: filler,You are welcome. Good luck with your studies.
CSV
fail() { echo "FAIL: $*"; exit 1; }
"$mimir" model tiny --out "$work/base.gguf" --layers 1 --embd 64 --ff 128 --ctx 256 2>>"$work/mimir.log"
train() {  # train LOG ARGS...: a one-step run; its stderr (the log) into LOG
  local log="$1"; shift
  "$mimir" train --data "$work/rows.csv" --base "$work/base.gguf" --out "$work/run" --epochs 1 \
    --grad-accumulation 2 --eval-fraction 0 --threads 1 --ctx 256 --system-prompt none "$@" >/dev/null 2>"$log"
}
logged_path() { sed -n 's/.*event=kernels path=\([a-z0-9]*\).*/\1/p' "$1"; }

train "$work/auto.log" || fail "auto: $(cat "$work/auto.log")"
[[ -n "$(logged_path "$work/auto.log")" ]] || fail "no event=kernels line: $(cat "$work/auto.log")"
if grep -q avx2 /proc/cpuinfo; then
  train "$work/avx2.log" --kernels avx2 || fail "--kernels avx2: $(cat "$work/avx2.log")"
  [[ "$(logged_path "$work/avx2.log")" == avx2 ]] || fail "--kernels avx2 logged $(logged_path "$work/avx2.log")"
fi
MIMIR_KERNELS=generic train "$work/env.log" || fail "MIMIR_KERNELS=generic: $(cat "$work/env.log")"
[[ "$(logged_path "$work/env.log")" == generic ]] || fail "MIMIR_KERNELS=generic logged $(logged_path "$work/env.log")"
if grep -q avx2 /proc/cpuinfo; then
  MIMIR_KERNELS=generic train "$work/both.log" --kernels avx2 || fail "flag and env: $(cat "$work/both.log")"
  [[ "$(logged_path "$work/both.log")" == avx2 ]] || fail "the flag did not win over MIMIR_KERNELS"
fi
status=0; train "$work/bogus.log" --kernels avx9000 || status=$?
[[ $status != 0 ]] || fail "--kernels avx9000 was accepted"
grep -q "avx9000" "$work/bogus.log" || fail "no message naming the bad value: $(cat "$work/bogus.log")"

for path in amx avx512bf16 avx512 avx2; do
  status=0; train "$work/$path-forced.log" --kernels "$path" || status=$?
  if [[ $status != 0 ]]; then
    [[ $status == 1 ]] || fail "--kernels $path exited $status"
    grep -q "kernels_unavailable: kernels $path cannot run here: " "$work/$path-forced.log" \
      || fail "no clear error for $path: $(cat "$work/$path-forced.log")"
    echo "checked: --kernels $path refused here: $(grep -o 'cannot run here: .*' "$work/$path-forced.log")"
    exit 0
  fi
done
echo "every kernel path runs on this CPU: the refusal of an unavailable one was not exercised"
exit 0
