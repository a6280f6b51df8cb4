#!/usr/bin/env python3
"""Training step speed of compiled models against PyTorch on the same machine.

    .venv/bin/python bench/train_bench.py [--models tiny,stories110m] [--steps N] [--torch]

For each model: compile its training step with llamac --train (the issue's
shapes: tiny at batch 8 x 64 tokens, stories110M at 4 x 128), run llama-train
on random token rows from random weights and read its tokens/s per step (the
median of the steps after the first) at 1 thread and at all cores. With
--torch, also PyTorch eager — transformers' LlamaForCausalLM, forward,
backward, clip to 1.0 and AdamW (0.9/0.95/1e-5, weight decay 0.1), as
llama-train does — at 1 and 2 threads, and our ratio to its best. The GFLOP/s
column counts 6 x parameters x tokens/s (forward and backward matmuls; the
attention and our layer recomputation not counted), and its share of the f32
FMA peak of every core at once (bench/fmapeak). Prints a table; asserts
nothing.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "examples"))
from llama_weights import Config, weight_shapes, write_model  # noqa: E402

from bench import MODELS, at_once, median  # noqa: E402

SHAPES = {"tiny": (8, 64), "stories110m": (4, 128)}  # (batch, seq)


def parameters(hf):
    total = 0
    for shape in weight_shapes(Config(hf)).values():
        total += int(np.prod(shape))
    return total


def ours(args, work, name, hf, batch, seq, threads):
    """Median tokens/s of llama-train's steps after the first."""
    artifact = os.path.join(work, f"{name}-train.so")
    if not os.path.exists(artifact):
        subprocess.run([os.path.join(args.bin, "llamac"), os.path.join(work, name, "config.json"),
                        "--train", "--batch", str(batch), "--seq", str(seq), "-o", artifact],
                       check=True)
    out = subprocess.run(
        [os.path.join(args.bin, "llama-train"), artifact, "--weights", os.path.join(work, name),
         "--data", os.path.join(work, f"{name}-rows.npy"), "--steps", str(args.steps),
         "--out", os.path.join(work, f"{name}-out"), "-t", str(threads)],
        check=True, capture_output=True, text=True)
    speeds = [float(s) for s in re.findall(r"([0-9.]+) tok/s", out.stdout + out.stderr)]
    return median(speeds[1:])


def torch_speed(work, name, hf, batch, seq, steps, threads):
    """Median tokens/s of PyTorch training steps after the first."""
    import time
    import torch
    from safetensors.numpy import load_file
    sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
    from hf_llama import build_hf_model  # the tests' trusted reference model
    torch.set_num_threads(threads)
    model = build_hf_model(dict(hf, architectures=["LlamaForCausalLM"]),
                           load_file(os.path.join(work, name, "model.safetensors"))).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                                   {"params": rest, "weight_decay": 0.0}],
                                  lr=3e-4, betas=(0.9, 0.95), eps=1e-5)
    rows = torch.from_numpy(np.load(os.path.join(work, f"{name}-rows.npy")).astype(np.int64))
    speeds = []
    for step in range(steps):
        block = rows[(step * batch) % len(rows):][:batch]
        start = time.perf_counter()
        # HF shifts the labels itself (T - 1 targets of T inputs): the work
        # of T tokens, as ours.
        loss = model(block[:, :-1], labels=block[:, :-1].clone()).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        speeds.append(batch * seq / (time.perf_counter() - start))
    return median(speeds[1:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="tiny,stories110m")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--torch", action="store_true",
                        help="also measure PyTorch eager at 1 and 2 threads")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    peak = at_once(args.bin, "fmapeak", cores)
    print(f"f32 FMA peak, {cores} cores at once: {peak:.1f} GFLOP/s (bench/fmapeak)")
    header = (f"{'model':<12} {'batch x seq':>11} {'params M':>9} {'ours 1t tok/s':>14} "
              f"{f'ours {cores}t tok/s':>14} {'GFLOP/s':>8} {'FMA peak':>9}")
    if args.torch:
        header += f" {'torch 1t':>9} {'torch 2t':>9} {'ours/best':>10}"
    print(header, flush=True)
    # The models and artifacts (GBs for the larger ones) go with the run.
    with tempfile.TemporaryDirectory(prefix="llamac-train-bench-") as work:
        for name in args.models.split(","):
            batch, seq = SHAPES[name]
            hf = dict(MODELS[name], architectures=["LlamaForCausalLM"], rms_norm_eps=1e-5)
            write_model(os.path.join(work, name), hf, seed=0)
            rows = np.random.default_rng(0).integers(0, hf["vocab_size"], size=(64, seq + 1))
            np.save(os.path.join(work, f"{name}-rows.npy"), rows.astype(np.int32))
            one = ours(args, work, name, hf, batch, seq, 1)
            everything = ours(args, work, name, hf, batch, seq, cores)
            flops = 6 * parameters(hf) * max(one, everything) / 1e9
            line = (f"{name:<12} {f'{batch} x {seq}':>11} {parameters(hf) / 1e6:>9.1f} "
                    f"{one:>14.1f} {everything:>14.1f} {flops:>8.1f} "
                    f"{100 * flops / peak:>8.1f}%")
            if args.torch:
                peers = [torch_speed(work, name, hf, batch, seq, args.steps, t) for t in (1, 2)]
                line += (f" {peers[0]:>9.1f} {peers[1]:>9.1f}"
                         f" {max(one, everything) / max(peers):>10.2f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
