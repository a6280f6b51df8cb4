#!/usr/bin/env bash
# Compiles the tiny example model and generates text with it:
#   1. llamac compiles examples/tiny/config.json to build/examples/tiny.so;
#   2. examples/llama_weights.py writes deterministic random weights;
#   3. llama-run generates from a prompt with the bundled tokenizer.
# The weights are random, so the text is gibberish made of the tokenizer's
# pieces; a trained example comes with the training work.
# Run scripts/build.sh first (it builds the tools and the Python venv).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/examples
mkdir -p "$out"
build/bin/llamac examples/tiny/config.json -o "$out/tiny.so"
.venv/bin/python examples/llama_weights.py examples/tiny/config.json "$out/tiny-weights" --seed 0
build/bin/llama-run "$out/tiny.so" --weights "$out/tiny-weights" \
  --tokenizer examples/tiny/tokenizer.model \
  -p "${PROMPT:-The llama dialect}" -n "${STEPS:-48}" --temp 0.8 --seed 1
