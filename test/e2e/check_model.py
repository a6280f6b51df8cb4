#!/usr/bin/env python3
"""End-to-end check of one model variant: llamac compiles it, llama-run runs
it on random weights, and every logits row (prefill and each decode step)
must match the numpy reference, with identical greedy tokens.

With --nvidia-form, the model is the NVIDIA target's tensor-level IR (its
fusions, attention lowering, KV-cache writes; llamac --target=nvidia
--emit=linalg) compiled for the CPU instead, with the kernel stage's loop
rewrites that need no GPU (forwarded fills, serial reductions): the
target's choices above the warp and tensor-core kernels, checked without a
GPU.

    check_model.py --bin BUILD/bin --work DIR [--variant NAME]...
                   [--nvidia-form --llvm-tools DIR --llvm-lib DIR]
"""
import argparse
import os
import subprocess
import sys

import numpy as np

import llama_reference as ref

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import from_bf16_bits, to_bf16_bits, write_model  # noqa: E402

BASE = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 256,
    "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "torch_dtype": "float32",
}

WIDE = {"hidden_size": 256, "intermediate_size": 688, "num_key_value_heads": 2,
        "vocab_size": 512}

# name: (config changes, stored weight dtype, shards, llamac --weight-type)
VARIANTS = {
    "mha": ({}, "f32", 1, "f32"),
    "gqa": ({"num_key_value_heads": 2}, "f32", 1, "f32"),
    "mqa": ({"num_key_value_heads": 1}, "f32", 1, "f32"),
    "tied": ({"tie_word_embeddings": True}, "f32", 1, "f32"),
    "rope-theta": ({"rope_theta": 500000.0, "num_key_value_heads": 2}, "f32", 1, "f32"),
    "norm-eps": ({"rms_norm_eps": 1e-6}, "f32", 1, "f32"),
    "odd-vocab": ({"vocab_size": 251, "intermediate_size": 100}, "f32", 1, "f32"),
    "bf16": ({"num_key_value_heads": 2}, "bf16", 1, "f32"),
    "f16": ({"num_key_value_heads": 2}, "f16", 1, "f32"),
    "sharded": ({"num_key_value_heads": 2}, "f32", 3, "f32"),
    # Weights used in place as stored (the generated code widens them).
    "bf16-in-place": ({"num_key_value_heads": 2}, "bf16", 1, "bf16"),
    "f16-in-place": ({"num_key_value_heads": 2}, "f16", 1, "f16"),
    "bf16-in-place-tied": ({"tie_word_embeddings": True}, "bf16", 1, "bf16"),
    # An f32 checkpoint the runtime rounds to the artifact's bf16 at load.
    "bf16-from-f32": ({"num_key_value_heads": 1}, "f32", 1, "bf16"),
    # Wide enough for every tiled path of the generated code: register tiles
    # and a leftover row in prefill, contractions on threads (weights of
    # >= 64K values), decode's GEMVs in chunks of 64 columns.
    "wide": (WIDE, "f32", 1, "f32"),
    "wide-bf16-in-place": (WIDE, "bf16", 1, "bf16"),
}
# Prompts longer than PROMPT, by variant.
PROMPT_LENGTHS = {"wide": 13, "wide-bf16-in-place": 13}


PROMPT = [1, 17, 42, 3, 99, 5, 250, 7]
DECODE_STEPS = 20
TOLERANCE = 1e-4  # max abs logits difference; logits are of order one


def build_nvidia_form(llamac, bin_dir, llvm, stem, artifact, bf16_weights):
    """The NVIDIA target's linalg, lowered by the CPU target's target-level
    pipeline (plain loops, OpenMP) into a library llama-run loads."""
    tools, lib = llvm
    run = lambda *cmd: subprocess.run(cmd, check=True)  # noqa: E731
    run(*llamac, "--target=nvidia", "--emit=linalg", "-o", stem + ".linalg.mlir")
    # The kernel stage's generators but the tensor cores' (mma.sync has no
    # CPU lowering): fills forwarded, flash-decoding, the warp reductions
    # and chains (folded norms included), reductions summed in registers.
    # Warps of one lane: no shuffles, sequential code whose arithmetic
    # (ranges and their merge, online softmax, lane walks, factors) the CPU
    # runs; what lanes > 1 add (the shuffles, a lane's elements) it does not.
    # Key ranges of 8: decode's 9..28 keys are one to four ranges, merged.
    # BF16 weights used in place are aligned to their element only: scalar
    # loads (a GPU's buffers are 256-byte aligned).
    loads = "1" if bf16_weights else "16"
    run(os.path.join(bin_dir, "llama-opt"), stem + ".linalg.mlir", "--pass-pipeline="
        "builtin.module(llama-bufferize,func.func(llama-forward-fills,"
        "llama-flash-decoding{warp-size=1 min-keys-per-range=8},"
        "llama-warp-contractions{warp-size=1 max-load-bytes=" + loads + "},"
        "llama-serial-reductions),llama-target-lowering)", "-o", stem + ".llvm.mlir")
    run(os.path.join(tools, "mlir-translate"), "--mlir-to-llvmir", stem + ".llvm.mlir",
        "-o", stem + ".ll")
    run(os.path.join(tools, "llc"), "-O2", "-filetype=obj", "-relocation-model=pic",
        stem + ".ll", "-o", stem + ".o")
    run(os.path.join(tools, "clang"), "-shared", stem + ".o", "-o", artifact,
        os.path.join(lib, "libomp.so"), "-Wl,-rpath," + lib, "-lmvec", "-lm")


def check(variant, bin_dir, work, nvidia_form=None):
    changes, dtype, shards, weight_type = VARIANTS[variant]
    config = dict(BASE, **changes)
    model_dir = os.path.join(work, variant)
    stored = write_model(model_dir, config, seed=len(variant), dtype=dtype, shards=shards)
    if weight_type == "bf16" and dtype == "f32":
        # What the runtime's rounding at load gives (nearest even).
        stored = {name: from_bf16_bits(to_bf16_bits(value)) for name, value in stored.items()}
    artifact = os.path.join(work, variant + ".so")
    llamac = [os.path.join(bin_dir, "llamac"), os.path.join(model_dir, "config.json"),
              "--weight-type", weight_type]
    if nvidia_form:
        build_nvidia_form(llamac, bin_dir, nvidia_form, os.path.join(work, variant), artifact,
                          weight_type == "bf16")
    else:
        subprocess.run(llamac + ["-o", artifact], check=True)
    logits_file = os.path.join(work, variant + ".npy")
    length = PROMPT_LENGTHS.get(variant, len(PROMPT))
    prompt = [(PROMPT[i % len(PROMPT)] + i // len(PROMPT)) % config["vocab_size"]
              for i in range(length)]
    run = subprocess.run(
        [os.path.join(bin_dir, "llama-run"), artifact, "--weights", model_dir,
         "--tokens", ",".join(map(str, prompt)), "-n", str(DECODE_STEPS),
         "--dump-logits", logits_file],
        check=True, capture_output=True, text=True)
    tokens = [int(t) for t in run.stdout.split()]
    logits = np.load(logits_file)

    c = ref.Config(config)
    cache = ref.KVCache(c)
    expected = [ref.forward(c, stored, prompt, 0, cache)]
    position, greedy = len(prompt), []
    for _ in range(DECODE_STEPS):
        greedy.append(int(expected[-1][-1].argmax()))
        expected.append(ref.forward(c, stored, [greedy[-1]], position, cache))
        position += 1
    expected = np.concatenate(expected)

    rows = len(prompt) + DECODE_STEPS
    assert logits.shape == (rows, c.vocab_size), f"{variant}: logits shape {logits.shape}"
    diff = np.abs(logits - expected).max(axis=1)
    worst = int(diff.argmax())
    print(f"{variant}: {rows} rows, max |logits - reference| = {diff.max():.2e} "
          f"(row {worst}), logits scale {np.abs(expected).max():.2f}")
    ok = True
    if not diff.max() <= TOLERANCE:  # NaN fails too
        print(f"  FAIL: row {worst} differs by {diff[worst]:.3e} > {TOLERANCE}")
        ok = False
    if tokens != greedy:
        print(f"  FAIL: greedy tokens differ\n  llama-run: {tokens}\n  reference: {greedy}")
        ok = False
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac and llama-run")
    parser.add_argument("--work", required=True, help="scratch directory")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--nvidia-form", action="store_true",
                        help="run the NVIDIA target's tensor-level form on the CPU")
    parser.add_argument("--llvm-tools", help="with --nvidia-form: mlir-translate, llc, clang")
    parser.add_argument("--llvm-lib", help="with --nvidia-form: where libomp.so is")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    form = (args.llvm_tools, args.llvm_lib) if args.nvidia_form else None
    results = [check(v, args.bin, args.work, form) for v in (args.variant or VARIANTS)]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
