#!/usr/bin/env bash
# Runs every libFuzzer target of the sanitizer build for SECONDS each (default
# 300), two at a time, from its seed corpus (test/fuzz/corpus/NAME) plus what
# earlier runs found (build-asan/fuzz-found/NAME); prints each target's
# executions and whether it crashed. Needs `SANITIZE=1 BUILD_DIR=build-asan
# bash scripts/build.sh` (scripts/check.sh makes it).
#
#   bash scripts/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
bin=build-asan/bin
targets=(safetensors safetensors_index npy sft_jsonl manifest model_config)
run() {
  local name=$1 found=build-asan/fuzz-found/$1
  mkdir -p "$found"
  "$bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="build-asan/fuzz-found/crash-$name-" \
    "$found" "test/fuzz/corpus/$name" > "build-asan/fuzz-$name.log" 2>&1
  local status=$?
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-asan/fuzz-$name.log" | grep -o '[0-9]*$')
  printf '%-18s %10s executions in %s s  %s\n' "$name" "${runs:-?}" "$seconds" \
    "$([ $status = 0 ] && echo 'no crash' || echo "CRASH (build-asan/fuzz-$name.log)")"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run "${targets[i]}" &
  [ -n "${targets[i + 1]:-}" ] && run "${targets[i + 1]}" &
  wait
done
