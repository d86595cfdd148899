#!/usr/bin/env bash
# `mimir eval --variants`: each tier asked each way appears in the reports under its own name, the raw and
# guarded variants of one prompt share each generation, and an unknown variant is refused.
# Usage: eval_variants_test.sh MIMIR WORK_DIR SOURCE_DIR
set -euo pipefail
mimir="$1"; work="$2"; source="$3"
rm -rf "$work"; mkdir -p "$work"
passed=0
fail() { echo "FAIL: $*"; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }

"$mimir" model tiny --out "$work/base.gguf" --layers 1 --embd 64 --ff 128 >/dev/null || fail "model tiny exited $?"
head -n 3 "$source/data/eval_suite.jsonl" >"$work/suite.jsonl"

"$mimir" eval --base "$work/base.gguf" --suite "$work/suite.jsonl" --samples 1 --max-tokens 16 --threads 1 \
  --phrases "$source/data/checks" --prompts "$source/data/prompts" \
  --prompt-labels "$source/data/prompt_labels.csv" \
  --variants fixed,fixed+guarded,snippets,snippets+guarded --out "$work/report" \
  >"$work/out.txt" 2>"$work/err.txt" || fail "eval exited $?: $(tail -3 "$work/err.txt")"
for name in "base" "base guarded" "base snippets" "base snippets guarded"; do
  grep -q "\"name\": \"$name\"" "$work/report/report.json" || fail "report.json has no tier \"$name\""
done
head -n 2 "$work/out.txt" | grep -q "base snippets guarded" || fail "the table has no column per variant"
ok "every variant is a tier of its own in report.json and the table"

# 3 cases x 1 sample x 2 prompts (fixed, snippets): the guarded variants reuse those generations.
generations="$(grep -c "event=generation " "$work/err.txt" || true)"
[[ "$generations" -eq 6 ]] || fail "expected 6 generations for 4 variants of 3 cases, saw $generations"
ok "raw and guarded variants share each generation"

if "$mimir" eval --base "$work/base.gguf" --suite "$work/suite.jsonl" --variants fixed,bogus \
     --out "$work/bad" >"$work/bad.txt" 2>&1; then
  fail "an unknown variant was accepted"
fi
grep -qi "bogus" "$work/bad.txt" || fail "the refusal does not name the variant: $(cat "$work/bad.txt")"
ok "an unknown variant is refused, named"

echo "passed=$passed failed=0"
