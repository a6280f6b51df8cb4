#!/usr/bin/env python3
"""Runs single llama ops, lowered by llamac's pipeline, with mlir-runner on random inputs and compares with numpy: the
training-path ops (batched causal attention with MHA/GQA/MQA, masked
cross-entropy) that the decoder entry points do not exercise, and the fused
projections at widths that the test models' shapes do not reach.

    check_ops.py --bin BUILD/bin --llvm-tools LLVM/bin --llvm-lib LLVM/lib
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np


# The product's pipeline (llamac's, registered in llama-opt).
LOWER = ["--llama-to-llvm"]
# The NVIDIA target's llama-to-linalg lowering (every fused loop a parallel
# one, decode's attention unfused), run on the CPU: its arithmetic checked
# where there is no GPU.
LOWER_GPU_FORM = ["--convert-llama-to-linalg=always-parallel", "--canonicalize",
                  "--llama-target-level"]


def mlir_type(array, element="f32"):
    return "tensor<" + "x".join(map(str, array.shape)) + ("x" if array.shape else "") + element + ">"


def constant(name, array, element="f32"):
    values = ", ".join(repr(float(v)) if element == "f32" else str(int(v)) for v in array.ravel())
    return f"  %{name} = arith.constant dense<[{values}]> : tensor<{array.size}x{element}>\n" \
           f"  %{name}_s = tensor.reshape %{name}(%{name}_shape) : (tensor<{array.size}x{element}>, tensor<{array.ndim}xindex>) -> {mlir_type(array, element)}\n"


def shape_constant(name, array):
    dims = ", ".join(map(str, array.shape))
    return f"  %{name}_shape = arith.constant dense<[{dims}]> : tensor<{array.ndim}xindex>\n"


def run(args, body, inputs, result_type):
    """Builds @main from `inputs` {name: (array, element)} and `body` (which
    defines %result of `result_type`), prints the result, returns it."""
    return run_many(args, body, inputs, [("result", result_type)])[0]


def run_many(args, body, inputs, results, lower=LOWER):
    """Like run, for a body defining several results [(name, type)]."""
    text = "func.func private @printMemrefF32(memref<*xf32>)\nfunc.func @main() {\n"
    for name, (array, element) in inputs.items():
        text += shape_constant(name, array) + constant(name, array, element)
    text += body
    for name, result_type in results:
        memref_type = result_type.replace("tensor", "memref")
        text += (f"  %{name}_buffer = bufferization.to_buffer %{name} : {result_type} to {memref_type}\n"
                 f"  %{name}_unranked = memref.cast %{name}_buffer : {memref_type} to memref<*xf32>\n"
                 f"  func.call @printMemrefF32(%{name}_unranked) : (memref<*xf32>) -> ()\n")
    text += "  return\n}\n"
    lowered = subprocess.run([os.path.join(args.bin, "llama-opt"), *lower], input=text,
                             check=True, capture_output=True, text=True).stdout
    # libomp: the generated code's parallel loops are OpenMP ones.
    libs = ",".join(os.path.join(args.llvm_lib, f"lib{n}.so")
                    for n in ("mlir_runner_utils", "mlir_c_runner_utils", "omp"))
    out = subprocess.run([os.path.join(args.llvm_tools, "mlir-runner"), "-e", "main",
                          "-entry-point-result=void", "-shared-libs=" + libs],
                         input=lowered, check=True, capture_output=True, text=True).stdout
    values = []
    for block in out.split("Unranked Memref")[1:]:
        data = block[block.index("data =") + 6:]
        values.append(np.array([float(x) for x in
                                re.findall(r"-?[0-9.]+(?:e[-+]?[0-9]+)?|-?inf|nan", data)],
                               np.float32))
    return values


def check(name, got, expected, tolerance=1e-5):
    diff = np.abs(got.ravel() - expected.ravel()).max()
    print(f"{name}: max |diff| = {diff:.2e}")
    return diff <= tolerance


def attention_reference(q, k, v, scale):
    """q [B, S, H, D], k/v [B, S, Hkv, D], causal."""
    group = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, group, axis=2), np.repeat(v, group, axis=2)
    scores = np.einsum("bshd,bthd->bhst", q, k) * np.float32(scale)
    s = q.shape[1]
    scores = np.where(np.triu(np.ones((s, s), bool), 1), -np.inf, scores)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("bhst,bthd->bshd", probs, v)


def check_attention(args, kv_heads, rng, s=5, d=8):
    b, h = 2, 4
    q = rng.standard_normal((b, s, h, d)).astype(np.float32)
    k = rng.standard_normal((b, s, kv_heads, d)).astype(np.float32)
    v = rng.standard_normal((b, s, kv_heads, d)).astype(np.float32)
    scale = 1 / np.sqrt(d)
    qt, kt = mlir_type(q), mlir_type(k)
    body = (f"  %result = llama.attention %q_s, %k_s, %v_s scale({scale!r}) : "
            f"({qt}, {kt}, {kt}) -> {qt}\n")
    got = run(args, body, {"q": (q, "f32"), "k": (k, "f32"), "v": (v, "f32")}, qt)
    return check(f"attention (n_kv_heads {kv_heads}, {s} rows, {d} dims)", got, attention_reference(q, k, v, scale))


def check_cached_attention_gpu_form(args, kv_heads, rng, position, rows=1, d=16):
    """`rows` query rows against a cache holding `position` rows, lowered as
    for the GPU target: one row (decode) unfused (scores, max, sum,
    probabilities, weighted values), more (prefill) a fused loop per row."""
    h, capacity = 4, 64
    q = rng.standard_normal((rows, h, d)).astype(np.float32)
    k = rng.standard_normal((rows, kv_heads, d)).astype(np.float32)
    v = rng.standard_normal((rows, kv_heads, d)).astype(np.float32)
    k_cache = rng.standard_normal((capacity, kv_heads, d)).astype(np.float32)
    v_cache = rng.standard_normal((capacity, kv_heads, d)).astype(np.float32)
    scale = 1 / np.sqrt(d)
    qt, kt, ct = mlir_type(q), mlir_type(k), mlir_type(k_cache)
    body = (f"  %pos = arith.constant {position} : index\n"
            f"  %result, %kc_out, %vc_out = llama.cached_attention %q_s, %k_s, %v_s "
            f"cache(%kc_s, %vc_s) at %pos scale({scale!r}) : "
            f"({qt}, {kt}, {kt}, {ct}, {ct}, index) -> ({qt}, {ct}, {ct})\n")
    inputs = {"q": (q, "f32"), "k": (k, "f32"), "v": (v, "f32"),
              "kc": (k_cache, "f32"), "vc": (v_cache, "f32")}
    got = run_many(args, body, inputs, [("result", qt)], LOWER_GPU_FORM)[0]
    keys = np.concatenate([k_cache[:position], k])[None]  # [1, L, Hkv, D]
    values = np.concatenate([v_cache[:position], v])[None]
    # A causal reference over all L rows, of which the last `rows` are ours.
    length = position + rows
    full_q = np.zeros((1, length, h, d), np.float32)
    full_q[0, position:] = q
    expected = attention_reference(full_q, keys, values, scale)[0, position:]
    return check(f"cached attention, GPU form (n_kv_heads {kv_heads}, {rows} rows, "
                 f"{length} keys, {d} dims)", got, expected)


def check_gpu_math_approximations(args, rng):
    """exp, sin, cos and rsqrt as llama-gpu-math-approximations rewrites them
    for kernels without libdevice, run on the CPU, against numpy (float64):
    softmax's and SiLU's exponents, RoPE's angles up to 4096 positions,
    RMSNorm's mean squares."""
    x = {"exp": np.concatenate([rng.uniform(-87, 0, 500), rng.uniform(0, 20, 100)]),
         "sin": rng.uniform(-4096, 4096, 600), "cos": rng.uniform(-4096, 4096, 600),
         "rsqrt": np.exp(rng.uniform(np.log(1e-6), np.log(1e4), 600))}
    ops = list(x)
    inputs = {name: (values.astype(np.float32), "f32") for name, values in x.items()}
    body = ""
    for name in ops:
        t = mlir_type(inputs[name][0])
        body += (f"  %{name}_init = tensor.empty() : {t}\n"
                 f"  %{name}_out = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, "
                 f"affine_map<(i) -> (i)>], iterator_types = [\"parallel\"]}} "
                 f"ins(%{name}_s : {t}) outs(%{name}_init : {t}) {{\n"
                 f"  ^bb0(%a: f32, %b: f32):\n    %r = math.{name} %a : f32\n"
                 f"    linalg.yield %r : f32\n  }} -> {t}\n")
    got = run_many(args, body, inputs,
                   [(f"{name}_out", mlir_type(inputs[name][0])) for name in ops],
                   ["--llama-gpu-math-approximations", *LOWER])
    ok = True
    for name, values in zip(ops, got):
        exact = inputs[name][0].astype(np.float64)
        expected = {"exp": np.exp, "sin": np.sin, "cos": np.cos,
                    "rsqrt": lambda v: 1 / np.sqrt(v)}[name](exact)
        # Relative for exp and rsqrt (printMemrefF32's 6 digits: ~5e-6);
        # absolute for sin and cos, whose f32 range reduction of angles
        # ~4096 costs ~2^-24 * 4096.
        scale = np.abs(expected) if name in ("exp", "rsqrt") else 1.0
        error = float(np.max(np.abs(values - expected) / np.maximum(scale, 1e-30)))
        bound = 2e-5 if name in ("exp", "rsqrt") else 1e-3
        print(f"{name} without libdevice: max {'relative' if name in ('exp', 'rsqrt') else 'absolute'}"
              f" error {error:.1e} (<= {bound:.0e}: {error <= bound})")
        ok = ok and error <= bound
    return ok


def cross_entropy_reference(logits, targets, mask):
    logits = logits.astype(np.float64)
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], -1)[..., 0]
    return np.array((mask * (lse - picked)).sum() / mask.sum(), np.float32)


def check_cross_entropy(args, rng):
    b, t, vocab = 3, 6, 37
    logits = (3 * rng.standard_normal((b, t, vocab))).astype(np.float32)
    targets = rng.integers(0, vocab, (b, t)).astype(np.int32)
    mask = (rng.random((b, t)) < 0.6).astype(np.float32)
    mask[0, 0] = 1.0
    body = (f"  %result = llama.cross_entropy %l_s, %t_s, %m_s : ({mlir_type(logits)}, "
            f"{mlir_type(targets, 'i32')}, {mlir_type(mask)}) -> tensor<f32>\n")
    got = run(args, body, {"l": (logits, "f32"), "t": (targets, "i32"), "m": (mask, "f32")},
              "tensor<f32>")
    ok = check("cross_entropy (masked)", got, cross_entropy_reference(logits, targets, mask))
    # Changing the target at a masked position changes nothing.
    masked = np.argwhere(mask == 0)[0]
    targets2 = targets.copy()
    targets2[tuple(masked)] = (targets2[tuple(masked)] + 1) % vocab
    got2 = run(args, body, {"l": (logits, "f32"), "t": (targets2, "i32"), "m": (mask, "f32")},
               "tensor<f32>")
    same = got2.ravel()[0] == got.ravel()[0]
    print(f"cross_entropy ignores masked targets: {same}")
    return ok and same


def silu(x):
    return x / (1 + np.exp(-x))


def rows_name(lead):
    return " x ".join(map(str, lead)) + " rows"


def check_projections(args, rng, lead, dim, widths):
    """llama.projections of x [*lead, dim] by weights [n, dim] for n in widths."""
    x = rng.standard_normal((*lead, dim)).astype(np.float32)
    weights = [(rng.standard_normal((n, dim)) / np.sqrt(dim)).astype(np.float32) for n in widths]
    names = [f"w{i}" for i in range(len(widths))]
    result_types = [mlir_type(np.empty((*lead, n))) for n in widths]
    body = (f"  {', '.join('%y' + str(i) for i in range(len(widths)))} = llama.projections %x_s, "
            f"{', '.join('%' + n + '_s' for n in names)} : ({mlir_type(x)}, "
            f"{', '.join(mlir_type(w) for w in weights)}) -> ({', '.join(result_types)})\n")
    inputs = {"x": (x, "f32"), **{n: (w, "f32") for n, w in zip(names, weights)}}
    got = run_many(args, body, inputs, [(f"y{i}", t) for i, t in enumerate(result_types)])
    return all([check(f"projections ({rows_name(lead)}, {dim} -> {n})", y, x @ w.T)
                for y, w, n in zip(got, weights, widths)])


def check_swiglu_projection(args, rng, lead, dim, hidden):
    x = rng.standard_normal((*lead, dim)).astype(np.float32)
    wg, wu = [(rng.standard_normal((hidden, dim)) / np.sqrt(dim)).astype(np.float32)
              for _ in range(2)]
    rt = mlir_type(np.empty((*lead, hidden)))
    body = (f"  %result = llama.swiglu_projection %x_s, %wg_s, %wu_s : ({mlir_type(x)}, "
            f"{mlir_type(wg)}, {mlir_type(wu)}) -> {rt}\n")
    got = run(args, body, {"x": (x, "f32"), "wg": (wg, "f32"), "wu": (wu, "f32")}, rt)
    return check(f"swiglu_projection ({rows_name(lead)}, {dim} -> {hidden})", got,
                 silu(x @ wg.T) * (x @ wu.T))


def runner_args():
    """The arguments of the mlir-runner checks: our tools, LLVM's, its libs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llama-opt")
    parser.add_argument("--llvm-tools", required=True, help="directory with mlir-runner")
    parser.add_argument("--llvm-lib", required=True, help="directory with the runner libraries")
    return parser.parse_args()


def main():
    args = runner_args()
    rng = np.random.default_rng(5)
    # 5 rows: part of one block of keys; 21: several blocks and a partial
    # one; both serial loops. 40 rows of 64 dims: whole blocks only, enough
    # work for threads (4 row chunks).
    results = [check_attention(args, kv, rng, s, d) for kv in (4, 2, 1)
               for s, d in ((5, 8), (21, 8), (40, 64))]
    results.append(check_cross_entropy(args, rng))
    results.append(check_gpu_math_approximations(args, rng))
    results += [check_cached_attention_gpu_form(args, kv, rng, position, rows)
                for kv in (4, 2, 1) for position, rows in ((0, 1), (5, 1), (40, 1), (3, 6))]
    # Fused projections: one block (a toy's widths), 2 blocks of 32 columns
    # in a serial loop, 8 blocks of 32 on threads (GQA widths; MHA's equal
    # widths, whose outputs start as one CSE'd empty tensor); 9 rows (a
    # register tile and a leftover row), 1 (GEMVs) and a batch of 2 x 5
    # (the training step's [B, T, dim]).
    for rows in ((9,), (1,), (2, 5)):
        results.append(check_projections(args, rng, rows, 32, (32, 16, 16)))
        results.append(check_projections(args, rng, rows, 16, (128, 64, 64)))
        results.append(check_projections(args, rng, rows, 64, (512, 256, 256)))
        results.append(check_projections(args, rng, rows, 128, (256, 256, 256)))
        results.append(check_swiglu_projection(args, rng, rows, 32, 40))
        results.append(check_swiglu_projection(args, rng, rows, 32, 256))
        results.append(check_swiglu_projection(args, rng, rows, 64, 512))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
