#!/usr/bin/env bash
# Every check CI runs, in order: the release build and its whole test suite,
# the C++ formatting, then the same suite again in an ASan + UBSan build that
# also replays and briefly runs the libFuzzer targets (test/fuzz).
#
#   bash scripts/check.sh         everything (what .ci/run runs)
#   QUICK=1 bash scripts/check.sh the release build and its tests only
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo "check: $1 ($(( $(date +%s) - start )) s)"; }

step "release build"
bash scripts/build.sh
step "tests"
ctest --test-dir build --output-on-failure -j2
[ "${QUICK:-0}" = 1 ] && { step "done"; exit 0; }

step "clang-format"
git ls-files '*.cpp' '*.h' | xargs clang-format-22 --dry-run -Werror

step "ASan + UBSan build"
SANITIZE=1 BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo bash scripts/build.sh
step "tests under ASan + UBSan, fuzzers"
ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-22/bin/llvm-symbolizer \
  ctest --test-dir build-asan --output-on-failure -j2
step "done"
