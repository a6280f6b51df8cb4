#!/usr/bin/env python3
"""Runs each llama gradient op (lowered and executed with mlir-runner) on
random inputs and compares it with torch autograd of the forward op, written
as HF LlamaForCausalLM computes it, in float64.

    check_grad_ops.py --bin BUILD/bin --llvm-tools LLVM/bin --llvm-lib LLVM/lib
"""
import itertools
import sys

import numpy as np
import torch

from check_ops import mlir_type, run_many, runner_args

TOLERANCE = 2e-5  # relative to the largest gradient; printing keeps ~7 digits


def compare(name, got, expected):
    ok = True
    for i, (g, e) in enumerate(zip(got, expected)):
        e = e.detach().numpy().astype(np.float32).ravel()
        scale = max(1.0, float(np.abs(e).max()))
        diff = float(np.abs(g.ravel() - e).max()) / scale
        print(f"{name} output {i}: max relative |diff| = {diff:.1e}")
        ok &= diff <= TOLERANCE
    return ok


def grads(forward, inputs, dy):
    """torch autograd of forward(*inputs) · dy with respect to float inputs."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=x.dtype == np.float32)
              for x in inputs]
    out = forward(*leaves)
    out.backward(torch.tensor(dy, dtype=torch.float64))
    return [leaf.grad for leaf in leaves if leaf.requires_grad]


def rope_torch(x, positions, theta):
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    freqs = positions.to(torch.float64)[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], -1)
    rotated = torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1)
    return x * emb.cos()[:, None, :] + rotated * emb.sin()[:, None, :]


def attention_torch(q, k, v, scale):
    group = q.shape[2] // k.shape[2]
    k, v = k.repeat_interleave(group, 2), v.repeat_interleave(group, 2)
    scores = torch.einsum("bshd,bthd->bhst", q, k) * scale
    s = q.shape[1]
    scores = scores.masked_fill(torch.triu(torch.ones(s, s, dtype=torch.bool), 1), float("-inf"))
    return torch.einsum("bhst,bthd->bshd", scores.softmax(-1), v)


def main():
    args = runner_args()
    rng = np.random.default_rng(9)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    results = []

    x, w, dy = f(2, 3, 8), f(5, 8), f(2, 3, 5)
    body = (f"  %dx, %dw = llama.linear_grad %x_s, %w_s, %dy_s : ({mlir_type(x)}, {mlir_type(w)}, "
            f"{mlir_type(dy)}) -> ({mlir_type(x)}, {mlir_type(w)})\n")
    got = run_many(args, body, {"x": (x, "f32"), "w": (w, "f32"), "dy": (dy, "f32")},
                   [("dx", mlir_type(x)), ("dw", mlir_type(w))])
    results.append(compare("linear_grad", got, grads(lambda x, w: x @ w.T, [x, w], dy)))

    x, w, dy, eps = f(2, 3, 8), 1 + 0.1 * f(8), f(2, 3, 8), 1e-5
    body = (f"  %dx, %dw = llama.rms_norm_grad %x_s, %w_s, %dy_s eps({eps:.6e}) : ({mlir_type(x)}, "
            f"{mlir_type(w)}, {mlir_type(dy)}) -> ({mlir_type(x)}, {mlir_type(w)})\n")
    got = run_many(args, body, {"x": (x, "f32"), "w": (w, "f32"), "dy": (dy, "f32")},
                   [("dx", mlir_type(x)), ("dw", mlir_type(w))])
    norm = lambda x, w: w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))  # noqa: E731
    results.append(compare("rms_norm_grad", got, grads(norm, [x, w], dy)))

    dy, positions, theta = f(2, 4, 2, 8), np.array([3, 4, 5, 6], np.int32), 10000.0
    body = (f"  %dx = llama.rope_grad %dy_s, %p_s theta({theta:.6e}) : ({mlir_type(dy)}, "
            f"{mlir_type(positions, 'i32')}) -> {mlir_type(dy)}\n")
    got = run_many(args, body, {"dy": (dy, "f32"), "p": (positions, "i32")},
                   [("dx", mlir_type(dy))])
    x = f(2, 4, 2, 8)
    expected = grads(lambda x: rope_torch(x, torch.tensor(positions), theta), [x], dy)
    results.append(compare("rope_grad", got, expected))

    # 5 rows: keys in part of one block; 21: several blocks and a partial
    # one; both serial loops. 33 rows of 64 dims: enough work for threads.
    for kv_heads, (s, d) in itertools.product((4, 2, 1), ((5, 8), (21, 8), (33, 64))):
        q, k, v, dy = f(2, s, 4, d), f(2, s, kv_heads, d), f(2, s, kv_heads, d), f(2, s, 4, d)
        scale = 1 / np.sqrt(d)
        qt, kt = mlir_type(q), mlir_type(k)
        body = (f"  %dq, %dk, %dv = llama.attention_grad %q_s, %k_s, %v_s, %dy_s scale({scale!r}) : "
                f"({qt}, {kt}, {kt}, {qt}) -> ({qt}, {kt}, {kt})\n")
        got = run_many(args, body, {"q": (q, "f32"), "k": (k, "f32"), "v": (v, "f32"),
                                    "dy": (dy, "f32")},
                       [("dq", qt), ("dk", kt), ("dv", kt)])
        expected = grads(lambda q, k, v: attention_torch(q, k, v, scale), [q, k, v], dy)
        results.append(compare(f"attention_grad (n_kv_heads {kv_heads}, {s} rows, {d} dims)", got,
                               expected))

    g, u, dy = f(2, 3, 7), f(2, 3, 7), f(2, 3, 7)
    t = mlir_type(g)
    body = f"  %dg, %du = llama.swiglu_grad %g_s, %u_s, %dy_s : {t}\n"
    got = run_many(args, body, {"g": (g, "f32"), "u": (u, "f32"), "dy": (dy, "f32")},
                   [("dg", t), ("du", t)])
    results.append(compare("swiglu_grad", got,
                           grads(lambda g, u: torch.nn.functional.silu(g) * u, [g, u], dy)))

    tokens = np.array([[1, 3, 3, 0, 6], [3, 1, 2, 2, 5]], np.int32)
    table, dy = f(7, 4), f(2, 5, 4)
    body = (f"  %dt = llama.embedding_grad %t_s, %dy_s : ({mlir_type(tokens, 'i32')}, "
            f"{mlir_type(dy)}) -> {mlir_type(table)}\n")
    got = run_many(args, body, {"t": (tokens, "i32"), "dy": (dy, "f32")},
                   [("dt", mlir_type(table))])
    expected = grads(lambda table: table[torch.tensor(tokens, dtype=torch.long)], [table], dy)
    results.append(compare("embedding_grad", got, expected))

    logits, mask = 3 * f(3, 6, 11), (rng.random((3, 6)) < 0.6).astype(np.float32)
    mask[0, 0] = 1
    targets = rng.integers(0, 11, (3, 6)).astype(np.int32)
    dloss = np.array(1.3, np.float32)
    lt = mlir_type(logits)
    body = (f"  %dl = llama.cross_entropy_grad %l_s, %t_s, %m_s, %d_s : ({lt}, "
            f"{mlir_type(targets, 'i32')}, {mlir_type(mask)}, tensor<f32>) -> {lt}\n")
    got = run_many(args, body, {"l": (logits, "f32"), "t": (targets, "i32"), "m": (mask, "f32"),
                                "d": (dloss, "f32")}, [("dl", lt)])

    def loss(logits):
        per = torch.nn.functional.cross_entropy(
            logits.reshape(-1, 11), torch.tensor(targets, dtype=torch.long).reshape(-1),
            reduction="none")
        m = torch.tensor(mask, dtype=torch.float64).reshape(-1)
        return (per * m).sum() / m.sum()
    expected = grads(loss, [logits], dloss)
    results.append(compare("cross_entropy_grad", got, expected))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
