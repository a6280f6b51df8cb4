#!/usr/bin/env bash
# Trains the tiny example model on the bundled corpus with the compiled
# training step, from HF's random initialisation (seed 0). This is how
# examples/tiny/trained/ was made; it takes a few minutes on two cores.
# Run scripts/build.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-examples/tiny/trained}
mkdir -p build/examples
build/bin/llamac examples/tiny/config.json --train --batch 8 --seq 64 -O2 \
  -o build/examples/tiny-train.so
build/bin/llama-train build/examples/tiny-train.so --init-random 0 \
  --data examples/tiny/corpus.txt --tokenizer examples/tiny/tokenizer.model \
  --steps 800 --lr 3e-3 --warmup 50 --out "$out"
