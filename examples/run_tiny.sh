#!/usr/bin/env bash
# Compiles the tiny example model and generates text with it:
#   1. llamac compiles examples/tiny/config.json to build/examples/tiny.so;
#   2. llama-run generates from a prompt with the bundled tokenizer and the
#      weights in examples/tiny/trained/, which examples/train_tiny.sh trained
#      with llama-train on examples/tiny/corpus.txt (the project's own docs).
# The model is tiny (dim 64, 2 layers), so expect fragments of its corpus.
# Run scripts/build.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/examples
build/bin/llamac examples/tiny/config.json -o build/examples/tiny.so
build/bin/llama-run build/examples/tiny.so --weights examples/tiny/trained \
  --tokenizer examples/tiny/tokenizer.model \
  -p "${PROMPT:-The llama dialect}" -n "${STEPS:-64}" --temp 0.8 --seed 1
