#!/usr/bin/env python3
"""Decode and prefill speed of compiled models, and the decode roofline share.

    .venv/bin/python bench/bench.py [--models tiny,stories110m] [--steps N]

For each model: compile with llamac, write random f32 weights, run llama-run
on a 32-token prompt, and read its tokens/s. The roofline share is
(decode tokens/s x bytes of weights read per token — all of them but the
untied embedding table, of which one row) / measured single-thread read
bandwidth (bench/membw): 100 % means decode streams the weights at memory
speed. Prints a table; asserts nothing.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from llama_weights import Config, weight_shapes, write_model  # noqa: E402

MODELS = {
    "tiny": {"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 512,
             "max_position_embeddings": 256, "tie_word_embeddings": True},
    # llama2.c's stories110M shape.
    "stories110m": {"hidden_size": 768, "intermediate_size": 2048,
                    "num_hidden_layers": 12, "num_attention_heads": 12,
                    "num_key_value_heads": 12, "vocab_size": 32000,
                    "max_position_embeddings": 256},
}


def weight_bytes(hf):
    """Bytes of f32 weights one decode step reads: all of them, except that
    an untied embedding table gives only the token's row."""
    config = Config(hf)
    total = 0
    for name, shape in weight_shapes(config).items():
        if name == "model.embed_tokens.weight" and not config.tie_embeddings:
            total += shape[1]
            continue
        n = 1
        for s in shape:
            n *= s
        total += n
    return 4 * total


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="tiny,stories110m")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    args = parser.parse_args()

    bandwidth = float(run([os.path.join(args.bin, "membw")]).stdout)
    print(f"single-thread read bandwidth: {bandwidth:.1f} GB/s (bench/membw)")
    print(f"{'model':<12} {'MB/token':>10} {'prefill tok/s':>14} "
          f"{'decode tok/s':>13} {'roofline tok/s':>15} {'share':>7}")
    work = tempfile.mkdtemp(prefix="llamac-bench-")
    for name in args.models.split(","):
        hf = dict(MODELS[name], architectures=["LlamaForCausalLM"], rms_norm_eps=1e-5)
        model_dir = os.path.join(work, name)
        write_model(model_dir, hf, seed=0)
        artifact = os.path.join(work, name + ".so")
        run([os.path.join(args.bin, "llamac"), os.path.join(model_dir, "config.json"),
             "-o", artifact])
        prompt = ",".join(str(1 + i % (hf["vocab_size"] - 1)) for i in range(32))
        out = run([os.path.join(args.bin, "llama-run"), artifact, "--weights", model_dir,
                   "--tokens", prompt, "-n", str(args.steps)]).stderr
        prefill, decode = map(float, re.findall(r"\(([0-9.]+) tok/s\)", out))
        size = weight_bytes(hf)
        roofline = bandwidth * 1e9 / size
        print(f"{name:<12} {size / 1e6:>10.1f} {prefill:>14.1f} {decode:>13.1f} "
              f"{roofline:>15.1f} {100 * decode / roofline:>6.1f}%")


if __name__ == "__main__":
    main()
