#!/usr/bin/env bash
# Trains the tiny model's tokenizer the way Llama 2's was made: sentencepiece
# BPE with digits split and byte fallback, on text this project ships
# (examples/tiny/corpus.txt, a snapshot of the project's own docs).
set -euo pipefail
cd "$(dirname "$0")/tiny"
spm_train --input=corpus.txt --model_prefix=tokenizer --model_type=bpe \
  --vocab_size=512 --split_digits=true --byte_fallback=true \
  --character_coverage=1.0 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
  --normalization_rule_name=identity --remove_extra_whitespaces=false \
  --allow_whitespace_only_pieces=true --minloglevel=2
rm -f tokenizer.vocab
