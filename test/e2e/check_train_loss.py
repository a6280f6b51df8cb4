#!/usr/bin/env python3
"""Checks the compiled training loss (llamac --train, entry llama_train_loss)
against the numpy reference and against transformers' LlamaForCausalLM loss
with labels (masked positions as -100), for MHA, GQA and tied models.

    check_train_loss.py --bin BUILD/bin --work DIR
"""
import ctypes

import numpy as np
import torch

import llama_reference as ref
from hf_llama import build_hf_model, labels_for
from train_artifacts import (compile_train_model, load_artifact, pointer_array,
                             run_variants)

BATCH, SEQ = 3, 12
TOLERANCE = 1e-5  # the loss is of order log(vocab) ~ 5


def reference_loss(c, weights, tokens, mask):
    total = 0.0
    for row, row_mask in zip(tokens, mask):
        logits = ref.forward(c, weights, row[:-1], 0, ref.KVCache(c)).astype(np.float64)
        m = logits.max(-1, keepdims=True)
        lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
        picked = logits[np.arange(SEQ), row[1:]]
        total += (row_mask * (lse - picked)).sum()
    return total / mask.sum()


def hf_loss(config, weights, tokens, mask):
    model = build_hf_model(config, weights)
    with torch.no_grad():
        out = model(torch.from_numpy(tokens.astype(np.int64)),
                    labels=labels_for(tokens, mask))
    return float(out.loss)


def check(variant, args):
    config, weights, artifact = compile_train_model(args.bin, args.work, variant, 4, BATCH, SEQ,
                                                    "train")
    lib, manifest = load_artifact(artifact)
    names = [w["name"] for w in manifest["weights"]]
    train = [e for e in manifest["entry_points"] if e["kind"] == "train_loss"][0]
    assert (train["batch"], train["seq"]) == (BATCH, SEQ), train

    rng = np.random.default_rng(len(variant))
    tokens = rng.integers(0, config["vocab_size"], (BATCH, SEQ + 1)).astype(np.int32)
    mask = (rng.random((BATCH, SEQ)) < 0.7).astype(np.float32)
    pointers = pointer_array(weights, names)
    loss = np.zeros((), np.float32)
    lib.llama_train_loss(tokens.ctypes.data_as(ctypes.c_void_p),
                         mask.ctypes.data_as(ctypes.c_void_p), pointers,
                         loss.ctypes.data_as(ctypes.c_void_p))
    expected, theirs = reference_loss(ref.Config(config), weights, tokens, mask), \
        hf_loss(config, weights, tokens, mask)
    print(f"{variant}: loss {float(loss):.6f}, reference {expected:.6f} "
          f"(|diff| {abs(loss - expected):.1e}), transformers {theirs:.6f} "
          f"(|diff| {abs(loss - theirs):.1e})")
    return abs(loss - expected) <= TOLERANCE and abs(loss - theirs) <= TOLERANCE


if __name__ == "__main__":
    run_variants(check, ("mha", "gqa", "tied"))
