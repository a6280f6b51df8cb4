#!/usr/bin/env bash
# Builds llama.cpp's llama-bench, the peer bench/bench.py --llama-cpp times:
# the llama.cpp source that PyPI's llama-cpp-python ships (pip download, no
# git), configured for this machine's CPU (GGML_NATIVE). llama.cpp is not a
# dependency of llamac and is not part of its tree; this only runs for
# benchmarks. Prints the path of llama-bench.
#
#   LLAMA_CPP_DIR=.cache/llama.cpp  where to download and build
#   LLAMA_CPP_PYTHON=0.3.36         the llama-cpp-python release
set -euo pipefail
cd "$(dirname "$0")/.."

version=${LLAMA_CPP_PYTHON:-0.3.36}
dir=${LLAMA_CPP_DIR:-.cache/llama.cpp}
source_dir="$dir/llama_cpp_python-$version/vendor/llama.cpp"
if [ ! -d "$source_dir" ]; then
  mkdir -p "$dir"
  # The sdist straight from the package index (its sha256 checked): `pip
  # download --no-binary` would first build the sdist's build backend and
  # its dependencies from source, which took over 6 minutes on a fresh
  # machine.
  .venv/bin/python - "$version" "$dir" <<'PY'
import hashlib, re, sys, urllib.request
version, dest = sys.argv[1], sys.argv[2]
name = f"llama_cpp_python-{version}.tar.gz"
index = urllib.request.urlopen("https://pypi.org/simple/llama-cpp-python/", timeout=120).read().decode()
match = re.search(r'href="([^"#]*/' + re.escape(name) + r')#sha256=([0-9a-f]+)"', index)
if not match:
    sys.exit(f"build_llama_cpp.sh: {name} is not on the package index")
data = urllib.request.urlopen(match.group(1), timeout=600).read()
if hashlib.sha256(data).hexdigest() != match.group(2):
    sys.exit(f"build_llama_cpp.sh: {name}: sha256 mismatch")
open(f"{dest}/{name}", "wb").write(data)
PY
  tar xzf "$dir/llama_cpp_python-$version.tar.gz" -C "$dir"
fi
# The GGUF writer bench/llama_cpp_peer.py uses.
.venv/bin/pip install -q "gguf>=0.10" >&2
cmake -S "$source_dir" -B "$source_dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_SERVER=OFF >&2
ninja -C "$source_dir/build" -j"$(nproc)" llama-bench >&2
echo "$source_dir/build/bin/llama-bench"
