#!/usr/bin/env python3
"""Checks 5 compiled training steps (llamac --train, entry llama_train_step:
gradients, global-norm clipping and AdamW, compiled together) against
transformers' LlamaForCausalLM with torch.nn.utils.clip_grad_norm_ and
torch.optim.AdamW under the same Llama 2 learning-rate schedule, in float64.

    check_train_step.py --bin BUILD/bin --work DIR
"""
import ctypes
import math

import numpy as np
import torch

from hf_llama import build_hf_model, labels_for
from llama2_optimizer import clipped_step, llama2_adamw
from train_artifacts import (compile_train_model, load_artifact, pointer_array,
                             run_variants)

BATCH, SEQ, STEPS, WARMUP, PEAK = 2, 8, 5, 2, 1e-2
TOLERANCE = 1e-4  # max |ours - torch| / max |torch weight|, per weight


def learning_rate(step, total=STEPS, warmup=WARMUP, peak=PEAK):
    """The Llama 2 schedule: linear warmup, then cosine down to 10 % of peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 * peak + 0.5 * (0.9 * peak) * (1 + math.cos(math.pi * progress))


def torch_training(config, weights, batches):
    model = build_hf_model(config, weights, torch.float64)
    optimizer = llama2_adamw(model, PEAK)
    history = []
    for step, (tokens, mask) in enumerate(batches):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        optimizer.zero_grad()
        loss = model(torch.from_numpy(tokens.astype(np.int64)),
                     labels=labels_for(tokens, mask)).loss
        loss.backward()
        norm = clipped_step(model, optimizer)
        history.append((float(loss), norm))
    params = {n: p.detach().numpy() for n, p in model.named_parameters()}
    if config.get("tie_word_embeddings"):
        params.pop("lm_head.weight", None)
    return history, params


def compiled_training(artifact, weights, batches):
    lib, manifest = load_artifact(artifact)
    assert "train_step" in {e["kind"] for e in manifest["entry_points"]}
    names = [w["name"] for w in manifest["weights"]]
    params = {n: weights[n].copy() for n in names}  # updated in place
    m = {n: np.zeros_like(params[n]) for n in names}
    v = {n: np.zeros_like(params[n]) for n in names}
    pointers = [pointer_array(params, names), pointer_array(m, names),
                pointer_array(v, names)]
    history = []
    for step, (tokens, mask) in enumerate(batches):
        step_params = np.array([learning_rate(step), step + 1], np.float32)
        loss, norm = np.zeros((), np.float32), np.zeros((), np.float32)
        lib.llama_train_step(tokens.ctypes.data_as(ctypes.c_void_p),
                             mask.ctypes.data_as(ctypes.c_void_p),
                             step_params.ctypes.data_as(ctypes.c_void_p), *pointers,
                             loss.ctypes.data_as(ctypes.c_void_p),
                             norm.ctypes.data_as(ctypes.c_void_p))
        history.append((float(loss), float(norm)))
    return history, params


def check(variant, args):
    config, weights, artifact = compile_train_model(args.bin, args.work, variant, 3, BATCH, SEQ,
                                                    "step")
    rng = np.random.default_rng(11)
    batches = [(rng.integers(0, config["vocab_size"], (BATCH, SEQ + 1)).astype(np.int32),
                (rng.random((BATCH, SEQ)) < 0.8).astype(np.float32)) for _ in range(STEPS)]
    ours, our_params = compiled_training(artifact, weights, batches)
    theirs, their_params = torch_training(config, weights, batches)
    errors = {n: float(np.abs(our_params[n] - their_params[n]).max()
                       / np.abs(their_params[n]).max()) for n in our_params}
    worst = max(errors, key=errors.get)
    moved = max(float(np.abs(their_params[n] - weights[n]).max()) for n in our_params)
    history_ok = all(abs(a[0] - b[0]) <= 1e-4 and abs(a[1] - b[1]) <= 1e-4 * max(1, b[1])
                     for a, b in zip(ours, theirs))
    print(f"{variant}: {STEPS} steps, losses {' '.join(f'{l:.4f}' for l, _ in ours)} "
          f"(torch {' '.join(f'{l:.4f}' for l, _ in theirs)})")
    print(f"{variant}: grad norms {' '.join(f'{n:.3f}' for _, n in ours)} "
          f"(torch {' '.join(f'{n:.3f}' for _, n in theirs)}); weights moved up to "
          f"{moved:.3f}, worst relative error {errors[worst]:.1e} ({worst})")
    return history_ok and errors[worst] <= TOLERANCE


if __name__ == "__main__":
    run_variants(check, ("gqa", "tied"))
