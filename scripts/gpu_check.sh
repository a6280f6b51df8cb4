#!/usr/bin/env bash
# The NVIDIA target's checks on a machine with a GPU (issue 10), in halves:
#
#   bash scripts/gpu_check.sh prepare   here: llamac and the CUDA toolkit make
#                                       gpu-check/ (artifacts, llama-run and
#                                       the libraries they load; ~12 MB)
#   bash scripts/gpu_check.sh run       on the GPU machine (no MLIR needed;
#                                       python3 with numpy and PyTorch):
#                                       correctness, then speed
#
# Correctness: tiny MHA, GQA, MQA and tied-embedding configs with random BF16
# weights, each compiled for the CPU and for the GPU, run on a 12-token
# prompt and on a 50-token one (decode then attends over 51..66 keys: two and
# three key ranges of flash-decoding, the last one partial, merged), with 16
# greedy decode steps each; every logits row compared (max |gpu - cpu| <=
# 2e-2) and the tokens; PASS or FAIL per config and prompt, non-zero exit on
# any FAIL. Speed: TinyLlama-1.1B- and Llama-2-7B-shaped GPU artifacts (BF16
# weights drawn on the device) against PyTorch eager and torch.compile on the
# same GPU, and decode's share of the HBM roofline (bench/gpu_bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu-check

prepare() {
  rm -rf "$out" && mkdir -p "$out/bin" "$out/lib"
  for variant in mha:4:false gqa:2:false mqa:1:false tied:2:true; do
    IFS=: read -r name kv_heads tied <<<"$variant"
    mkdir -p "$out/$name"
    cat >"$out/$name/config.json" <<EOF
{"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": $kv_heads,
 "vocab_size": 512, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
 "tie_word_embeddings": $tied}
EOF
    .venv/bin/python examples/llama_weights.py "$out/$name/config.json" "$out/$name" \
      --dtype bf16 --seed 1
    build/bin/llamac "$out/$name/config.json" --weight-type bf16 -o "$out/$name/cpu.so"
    build/bin/llamac "$out/$name/config.json" --weight-type bf16 --target=nvidia \
      -o "$out/$name/gpu.so"
  done
  # The speed half's models: the weights are drawn on the GPU machine.
  mkdir -p "$out/speed"
  build/bin/llamac tinyllama-1.1b --target=nvidia --weight-type bf16 \
    --max-seq-len 1024 -o "$out/speed/tinyllama.so"
  build/bin/llamac llama2-7b --target=nvidia --weight-type bf16 \
    --max-seq-len 1024 -o "$out/speed/llama2-7b.so"
  cp build/bin/llama-run "$out/bin/"
  cp build/lib/libllama_cuda.so "$out/lib/"
  # What llama-run and the CPU artifacts load besides glibc (the GPU machine
  # has no sentencepiece, protobuf or LLVM's libomp).
  ldd build/bin/llama-run "$out/mha/cpu.so" | awk '/=> \// {print $3}' |
    grep -vE '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so' |
    grep -v libllama_cuda | sort -u | xargs -r cp -L -t "$out/lib/"
  du -sh "$out"
}

run() {
  export LD_LIBRARY_PATH="$PWD/$out/lib"
  local short=1,17,33,5,9,200,101,7,64,3,88,12 status=0
  local long=$short,$short,$short,$short,2,4
  for name in mha gqa mqa tied; do
    for prompt in short long; do
      for target in cpu gpu; do
        "$out/bin/llama-run" "$out/$name/$target.so" --weights "$out/$name" \
          --tokens "${!prompt}" -n 16 --dump-logits "$out/$name/$prompt-$target.npy" \
          >"$out/$name/$prompt-$target.tokens"
      done
      python3 - "$out/$name" "$prompt" <<'PY' || status=1
import os, sys
import numpy as np
d, prompt = sys.argv[1:3]
cpu, gpu = (np.load(os.path.join(d, f"{prompt}-{t}.npy")) for t in ("cpu", "gpu"))
tokens = [open(os.path.join(d, f"{prompt}-{t}.tokens")).read() for t in ("cpu", "gpu")]
diff = float(np.abs(cpu - gpu).max()) if cpu.shape == gpu.shape else float("inf")
ok = tokens[0] == tokens[1] and diff <= 2e-2
print(f"{os.path.basename(d)}, {prompt} prompt: logits {cpu.shape}, "
      f"max |gpu - cpu| = {diff:.2e}, "
      f"greedy tokens {'equal' if tokens[0] == tokens[1] else 'differ'}: "
      f"{'PASS' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
    done
  done
  timeout 420 python3 bench/gpu_bench.py --artifacts "$out/speed" \
    --llama-run "$out/bin/llama-run" --seq 1024 || status=1
  return $status
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) echo "usage: bash scripts/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
