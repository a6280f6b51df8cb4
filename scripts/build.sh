#!/usr/bin/env bash
# Installs what llamac needs on a fresh Debian 12 machine (only the packages
# that are missing, and a .venv for the tests' Python), configures the
# build once (Ninja, Release, clang-22 + lld) and builds it. Safe to run
# again: each step is skipped when already done.
#
#   BUILD_DIR=build  where to build (default: build)
#   BUILD_TYPE=Release
#   SANITIZE=1       instrument the project's code with ASan + UBSan and
#                    build the libFuzzer targets (scripts/check.sh's
#                    build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build ccache
  clang-22 lld-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libclang-rt-22-dev clang-format-22 libomp-22-dev
  libgtest-dev libsentencepiece-dev sentencepiece
  python3-venv python3-torch gnuplot-nox
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "build.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# The tests' Python: Debian's python3 with its numpy and (CPU) torch, plus
# transformers from PyPI, to check the numpy reference against HF's
# LlamaForCausalLM. transformers 4.45 is the last release for torch 1.13.
if ! .venv/bin/python -c "import numpy, torch, transformers" 2>/dev/null; then
  echo "build.sh: creating .venv (numpy, torch, transformers)"
  rm -rf .venv
  /usr/bin/python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q --disable-pip-version-check \
    "transformers==4.45.2" "safetensors<0.5"
fi

build_dir=${BUILD_DIR:-build}
sanitize=()
if [ "${SANITIZE:-0}" = 1 ]; then
  sanitize=(-DLLAMAC_SANITIZERS=address,undefined -DLLAMAC_FUZZERS=ON)
fi
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja "${sanitize[@]}" \
    -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
cmake --build "$build_dir" -j2
