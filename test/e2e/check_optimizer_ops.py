#!/usr/bin/env python3
"""Runs llama.global_norm and llama.adamw (lowered, with mlir-runner) and
compares with torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW on the same
state: a 2-D weight with weight decay and a 1-D gain without, at step 3,
once with gradients clipped and once not.

    check_optimizer_ops.py --bin BUILD/bin --llvm-tools LLVM/bin --llvm-lib LLVM/lib
"""
import sys

import numpy as np
import torch

from check_ops import mlir_type, run_many, runner_args

BETAS, EPS, MAX_NORM, LR, STEP = (0.9, 0.95), 1e-5, 1.0, 3e-3, 3


def torch_step(params, grads, ms, vs, decays):
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    norm = torch.nn.utils.clip_grad_norm_(tensors, MAX_NORM)
    groups = [{"params": [t], "weight_decay": d} for t, d in zip(tensors, decays)]
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS)
    for t, m, v in zip(tensors, ms, vs):
        opt.state[t] = {"step": torch.tensor(float(STEP - 1)),
                        "exp_avg": torch.tensor(m), "exp_avg_sq": torch.tensor(v)}
    opt.step()
    return float(norm), [(t.detach().numpy(), opt.state[t]["exp_avg"].numpy(),
                          opt.state[t]["exp_avg_sq"].numpy()) for t in tensors]


def check(args, grad_scale, rng):
    shapes, decays = [(6, 5), (5,)], [0.1, 0.0]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [(grad_scale * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    ms = [(0.01 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    vs = [(0.001 * rng.random(s)).astype(np.float32) for s in shapes]
    hyper = np.array([LR, STEP], np.float32)
    inputs = {"hyper": (hyper, "f32")}
    for i in range(2):
        inputs.update({f"p{i}": (params[i], "f32"), f"g{i}": (grads[i], "f32"),
                       f"m{i}": (ms[i], "f32"), f"v{i}": (vs[i], "f32")})
    t = [mlir_type(p) for p in params]
    body = f"  %norm = llama.global_norm %g0_s, %g1_s : {t[0]}, {t[1]} -> tensor<f32>\n"
    results = [("norm", "tensor<f32>")]
    for i in range(2):
        body += (f"  %np{i}, %nm{i}, %nv{i} = llama.adamw %p{i}_s, %g{i}_s, %m{i}_s, %v{i}_s, "
                 f"%hyper_s, %norm {{beta1 = {BETAS[0]}, beta2 = {BETAS[1]}, eps = {EPS:.6e}, "
                 f"weight_decay = {decays[i]:.6e}, max_grad_norm = {MAX_NORM:.6e}}} : "
                 f"{t[i]}, tensor<2xf32>, tensor<f32>\n")
        results += [(f"np{i}", t[i]), (f"nm{i}", t[i]), (f"nv{i}", t[i])]
    got = run_many(args, body, inputs, results)
    norm, expected = torch_step(params, grads, ms, vs, decays)
    worst = abs(float(got[0][0]) - norm) / norm
    for i, triple in enumerate(expected):
        for j, e in enumerate(triple):
            scale = max(np.abs(e).max(), 1e-30)
            worst = max(worst, float(np.abs(got[1 + 3 * i + j] - e.ravel()).max() / scale))
    clipped = "clipped" if norm > MAX_NORM else "not clipped"
    print(f"adamw step {STEP}, grad norm {norm:.3f} ({clipped}): max relative |diff| = {worst:.1e}")
    return worst <= 2e-5


def main():
    args = runner_args()
    rng = np.random.default_rng(3)
    results = [check(args, 1.0, rng), check(args, 0.05, rng)]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
