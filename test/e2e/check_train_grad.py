#!/usr/bin/env python3
"""Checks the compiled gradients (llamac --train, entry llama_train_loss_grad,
derived by the llama-autodiff pass) against torch autograd of transformers'
LlamaForCausalLM in float64, for every parameter of MHA, GQA and tied
models with masked positions; and that a masked position contributes
nothing: changing its target leaves the loss and every gradient unchanged.

    check_train_grad.py --bin BUILD/bin --work DIR
"""
import ctypes

import numpy as np
import torch

from hf_llama import build_hf_model, labels_for
from train_artifacts import (compile_train_model, load_artifact, pointer_array,
                             run_variants)

BATCH, SEQ = 2, 10
TOLERANCE = 1e-4  # per parameter: max |ours - torch| / max |torch|


class TrainGrad:
    """The compiled loss-and-gradients entry point of one artifact."""

    def __init__(self, artifact):
        self.lib, manifest = load_artifact(artifact)
        self.weights = manifest["weights"]
        kinds = {e["kind"] for e in manifest["entry_points"]}
        assert "train_grad" in kinds, kinds

    def __call__(self, weights, tokens, mask):
        names = [w["name"] for w in self.weights]
        grads = {w["name"]: np.zeros(w["shape"], np.float32) for w in self.weights}
        loss = np.zeros((), np.float32)
        self.lib.llama_train_loss_grad(
            tokens.ctypes.data_as(ctypes.c_void_p), mask.ctypes.data_as(ctypes.c_void_p),
            pointer_array(weights, names), pointer_array(grads, names),
            loss.ctypes.data_as(ctypes.c_void_p))
        return float(loss), grads


def torch_grads(config, weights, tokens, mask):
    model = build_hf_model(config, weights, torch.float64)
    out = model(torch.from_numpy(tokens.astype(np.int64)), labels=labels_for(tokens, mask))
    out.loss.backward()
    grads = {name: p.grad.numpy() for name, p in model.named_parameters()}
    if config.get("tie_word_embeddings"):
        grads.pop("lm_head.weight", None)
    return float(out.loss), grads


def check(variant, args):
    config, weights, artifact = compile_train_model(args.bin, args.work, variant, 7, BATCH, SEQ,
                                                    "grad")
    step = TrainGrad(artifact)
    rng = np.random.default_rng(len(variant) + 1)
    tokens = rng.integers(0, config["vocab_size"], (BATCH, SEQ + 1)).astype(np.int32)
    mask = (rng.random((BATCH, SEQ)) < 0.7).astype(np.float32)
    mask[0, 0], mask[0, SEQ - 1] = 1, 0

    loss, grads = step(weights, tokens, mask)
    ref_loss, ref_grads = torch_grads(config, weights, tokens, mask)
    assert set(grads) == set(ref_grads), set(grads) ^ set(ref_grads)
    errors = {n: float(np.abs(grads[n] - ref_grads[n]).max() / np.abs(ref_grads[n]).max())
              for n in grads}
    worst = max(errors, key=errors.get)
    print(f"{variant}: loss {loss:.6f} vs torch float64 {ref_loss:.6f}; {len(grads)} gradients, "
          f"worst relative error {errors[worst]:.1e} ({worst})")
    ok = errors[worst] <= TOLERANCE and abs(loss - ref_loss) <= 1e-5

    # A masked position contributes exactly nothing: the last position of
    # row 0 is masked, and its target (the row's last token) is no position's
    # input, so changing it must leave everything bit-identical.
    changed = tokens.copy()
    changed[0, SEQ] = (changed[0, SEQ] + 1) % config["vocab_size"]
    changed_loss, changed_grads = step(weights, changed, mask)
    same = changed_loss == loss and all(np.array_equal(changed_grads[n], grads[n])
                                        for n in grads)
    print(f"{variant}: changing a masked target leaves loss and gradients unchanged: {same}")
    return ok and same


if __name__ == "__main__":
    run_variants(check, ("mha", "gqa", "tied"))
