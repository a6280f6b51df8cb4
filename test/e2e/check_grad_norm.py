#!/usr/bin/env python3
"""Checks the gradient norm llama-train prints (llama.global_norm: one
reduction over every gradient of the model) at realistic sizes, where a single
f32 accumulator drifts: against the float64 norm of the gradients llama-train
saves (--save-grads) to 1e-6 relative, and against torch float64 autograd of
transformers' LlamaForCausalLM on the same weights and batch to 1e-4.

    check_grad_norm.py --bin BUILD/bin --work DIR SHAPE...
"""
import argparse
import csv
import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.numpy import load_file

from hf_llama import build_hf_model, labels_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import write_model  # noqa: E402

SAVED_TOLERANCE = 1e-6  # printed norm vs float64 norm of the saved gradients
TORCH_TOLERANCE = 1e-4  # printed norm vs torch float64

BASE = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "tie_word_embeddings": False}
# name: (config, batch, seq)
SHAPES = {
    # 18M parameters, 16M of them in the two vocabulary matrices.
    "18m": ({"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 32000,
             "max_position_embeddings": 64}, 2, 32),
    # The stories110M shape (llama2.c, tied embeddings), 110M parameters.
    "stories110m": ({"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "num_key_value_heads": 12,
                     "vocab_size": 32000, "max_position_embeddings": 256,
                     "tie_word_embeddings": True}, 1, 16),
}


def torch_norm(config, weights, tokens):
    """The float64 global gradient norm of HF's model on tokens [B, T + 1]."""
    model = build_hf_model(config, weights, torch.float64)
    mask = np.ones((tokens.shape[0], tokens.shape[1] - 1), np.float32)
    model(torch.from_numpy(tokens.astype(np.int64)), labels=labels_for(tokens, mask)).loss.backward()
    return float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())))


def check(shape, bin_dir, work):
    changes, batch, seq = SHAPES[shape]
    config = dict(BASE, **changes)
    model_dir = os.path.join(work, shape)
    weights = write_model(model_dir, config, seed=3)
    artifact = os.path.join(work, f"{shape}.so")
    subprocess.run([os.path.join(bin_dir, "llamac"), os.path.join(model_dir, "config.json"),
                    "--train", "--batch", str(batch), "--seq", str(seq), "-O1",
                    "-o", artifact], check=True)
    tokens = np.random.default_rng(5).integers(
        0, config["vocab_size"], (batch, seq + 1)).astype(np.int32)
    data = os.path.join(work, f"{shape}-tokens.npy")
    np.save(data, tokens)
    grads_file = os.path.join(work, f"{shape}-grads.safetensors")
    out = os.path.join(work, f"{shape}-out")
    subprocess.run([os.path.join(bin_dir, "llama-train"), artifact, "--weights", model_dir,
                    "--data", data, "--steps", "1", "--save-grads", grads_file, "--out", out],
                   check=True, stderr=subprocess.DEVNULL)
    with open(os.path.join(out, "loss.csv")) as f:
        printed = float(next(csv.DictReader(f))["grad_norm"])

    grads = load_file(grads_file)
    saved = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads.values())))
    reference = torch_norm(config, weights, tokens)
    parameters = sum(w.size for w in weights.values())
    saved_error = abs(printed - saved) / saved
    torch_error = abs(printed - reference) / reference
    print(f"{shape}: {parameters / 1e6:.1f}M parameters; grad_norm {printed:.7g}; "
          f"float64 norm of the saved gradients {saved:.7g} (relative difference "
          f"{saved_error:.1e}); torch float64 {reference:.7g} ({torch_error:.1e})")
    return saved_error <= SAVED_TOLERANCE and torch_error <= TORCH_TOLERANCE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac and llama-train")
    parser.add_argument("--work", required=True, help="scratch directory")
    parser.add_argument("shapes", nargs="+", choices=sorted(SHAPES))
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = [check(shape, args.bin, args.work) for shape in args.shapes]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
