#!/usr/bin/env python3
"""Checks the numpy reference (llama_reference.py) against Hugging Face
transformers' LlamaForCausalLM (PyTorch, eager attention, float32) on random
weights: prefill logits, then greedy decode with HF's own KV cache, for MHA,
GQA, MQA, tied embeddings, rope_theta != 10000 and rms_norm_eps != 1e-5.

Runs in CI as test/e2e/hf-reference.test, with the .venv scripts/build.sh
makes (Debian's torch 1.13 + transformers 4.45.2 from PyPI).
"""
import sys

import numpy as np
import torch
import transformers

import llama_reference as ref
from hf_llama import build_hf_model
from check_model import BASE, VARIANTS

sys.path.insert(0, ref.os.path.join(ref.os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import random_weights  # noqa: E402

TOLERANCE = 1e-4
PROMPT = [1, 17, 42, 3, 99, 5, 250, 7]


def check(variant):
    changes = VARIANTS[variant][0]
    config = dict(BASE, **changes)
    weights = random_weights(ref.Config(config), seed=11)
    model = build_hf_model(config, weights)
    prompt = [t % config["vocab_size"] for t in PROMPT]

    c = ref.Config(config)
    cache = ref.KVCache(c)
    ours = [ref.forward(c, weights, prompt, 0, cache)]
    with torch.no_grad():
        out = model(torch.tensor([prompt]), use_cache=True)
        theirs = [out.logits[0].numpy()]
        past = out.past_key_values
        position = len(prompt)
        for _ in range(16):
            token = int(theirs[-1][-1].argmax())
            ours.append(ref.forward(c, weights, [token], position, cache))
            out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            theirs.append(out.logits[0].numpy())
            past = out.past_key_values
            position += 1
    diff = np.abs(np.concatenate(ours) - np.concatenate(theirs)).max()
    print(f"{variant}: max |reference - transformers| = {diff:.2e}")
    return diff <= TOLERANCE


def main():
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    variants = ["mha", "gqa", "mqa", "tied", "rope-theta", "norm-eps", "odd-vocab"]
    results = [check(v) for v in variants]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
