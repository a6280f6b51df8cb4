#!/usr/bin/env python3
"""Decode and prefill speed of compiled models, and the decode roofline share.

    .venv/bin/python bench/bench.py [--models tiny,stories110m,tinyllama]
        [--weight-types f32,bf16] [--steps N] [--torch] [--llama-cpp LLAMA_BENCH]

For each model and weight type: write random weights in that type, compile
with llamac --weight-type (bf16 weights are used in place), run llama-run
on a 128-token prompt (--prompt), and read its tokens/s. The roofline share is
(decode tokens/s x bytes of weights read per token — all of them but the
untied embedding table, of which one row) / the read bandwidth of every core
at once (bench/membw per core; llama-run uses all cores): 100 % means decode
streams the weights at memory speed. Prefill's share of the FMA peak is its
tokens/s x the projections' multiply-add FLOPs per token / the f32 FMA
throughput of every core at once (bench/fmapeak per core). With --torch, also PyTorch eager (transformers' LlamaForCausalLM on
the same weights, KV cache, greedy) at 1 and 2 threads in the same run, and
our ratio to its best. With --llama-cpp (the path of llama.cpp's llama-bench,
built by scripts/build_llama_cpp.sh), also llama.cpp on the same weights as a
GGUF file (f32 or bf16) at all cores, and our ratio to it. Medians of
--runs runs (5: a toy model's decode lasts milliseconds, where one
scheduler hiccup moves a single run by 2-5x).
Prints a table; asserts nothing.
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
sys.path.insert(0, os.path.join(ROOT, "bench"))
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
    # TinyLlama-1.1B's shape (GQA: 32 query heads, 4 key/value heads).
    "tinyllama": {"hidden_size": 2048, "intermediate_size": 5632,
                  "num_hidden_layers": 22, "num_attention_heads": 32,
                  "num_key_value_heads": 4, "vocab_size": 32000,
                  "max_position_embeddings": 2048},
}


def weight_bytes(hf, weight_type):
    """Bytes of weights one decode step reads: all of them, except that an
    untied embedding table gives only the token's row."""
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
    return {"f32": 4, "bf16": 2, "f16": 2}[weight_type] * total


def projection_flops(hf):
    """Multiply-add FLOPs of one token through the decoder's projections
    (q, k, v, o, gate, up, down): prefill's matmul work per token, whose LM
    head runs once per prompt and whose attention is not counted."""
    return 2 * sum(int(np.prod(shape)) for name, shape in weight_shapes(Config(hf)).items()
                   if name.endswith("_proj.weight"))


def at_once(bin_dir, tool, cores):
    """The sum of `tool`'s printed figure over one copy per core, run at
    once (bench/membw: GB/s; bench/fmapeak: GFLOP/s)."""
    runs = [subprocess.Popen([os.path.join(bin_dir, tool)], stdout=subprocess.PIPE, text=True)
            for _ in range(cores)]
    return sum(float(p.communicate()[0]) for p in runs)


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def torch_speed(model_dir, prompt, steps, threads):
    """(prefill, decode) tokens/s of transformers' LlamaForCausalLM (PyTorch
    eager, float32, KV cache, greedy) on `threads` threads."""
    import json
    import time
    import torch
    from safetensors.numpy import load_file
    sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
    from hf_llama import build_hf_model  # the tests' trusted reference model
    torch.set_num_threads(threads)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    model = build_hf_model(config, load_file(os.path.join(model_dir, "model.safetensors")))
    ids = torch.tensor([prompt])
    with torch.no_grad():
        start = time.perf_counter()
        out = model(ids, use_cache=True)
        prefill = len(prompt) / (time.perf_counter() - start)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        start = time.perf_counter()
        for _ in range(steps):
            out = model(token, past_key_values=past, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        decode = steps / (time.perf_counter() - start)
    return prefill, decode


def torch_blas():
    """The BLAS libraries PyTorch maps: Debian's torch calls libblas.so.3,
    which is the slow reference BLAS unless OpenBLAS is installed."""
    import torch  # loads its BLAS
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "blas" in line.lower()}
    libraries = ", ".join(sorted(os.path.realpath(p) for p in paths))
    return f"torch {torch.__version__} with {libraries or 'no BLAS found'}"


def median(values):
    return sorted(values)[len(values) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="tiny,stories110m")
    parser.add_argument("--weight-types", default="f32,bf16",
                        help="llamac --weight-type values to measure")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5,
                        help="runs per measurement (medians; llama-bench: averages)")
    parser.add_argument("--prompt", type=int, default=128,
                        help="prompt tokens (prefill length)")
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--torch", action="store_true",
                        help="also measure PyTorch eager at 1 and 2 threads")
    parser.add_argument("--llama-cpp", metavar="LLAMA_BENCH",
                        help="also measure llama.cpp's llama-bench at all cores")
    args = parser.parse_args()

    # llama-run uses every core: the rooflines are the read bandwidth and
    # the FMA throughput of one membw / fmapeak per core, all at once.
    cores = os.cpu_count() or 1
    args.bandwidth = at_once(args.bin, "membw", cores)
    args.fma_peak = at_once(args.bin, "fmapeak", cores)
    args.peers = {}  # torch's (prefill, decode) per thread count, per model
    print(f"read bandwidth, {cores} cores at once: {args.bandwidth:.1f} GB/s (bench/membw); "
          f"f32 FMA peak: {args.fma_peak:.1f} GFLOP/s (bench/fmapeak)")
    header = (f"{'model':<12} {'weights':>7} {'MB/token':>10} {'prefill tok/s':>14} "
              f"{'FMA peak':>9} {'decode tok/s':>13} {'roofline tok/s':>15} {'share':>7}")
    if args.torch:
        header += (f" {'torch 1t pre/dec':>17} {'torch 2t pre/dec':>17}"
                   f" {'ours/best pre':>14} {'ours/best dec':>14}")
    if args.llama_cpp:
        header += (f" {f'llama.cpp {cores}t pre/dec':>22}"
                   f" {'ours/llama.cpp pre':>19} {'ours/llama.cpp dec':>19}")
    print(header)
    if args.torch:
        print(torch_blas())
    # The models and artifacts (GBs for the larger ones) go with the run.
    with tempfile.TemporaryDirectory(prefix="llamac-bench-") as work:
        for name in args.models.split(","):
            for weight_type in args.weight_types.split(","):
                line, ours = bench_ours(args, work, name, weight_type)
                if args.torch:
                    line += torch_columns(args, work, name, ours)
                if args.llama_cpp:
                    line += llama_cpp_columns(args, work, name, weight_type, ours)
                print(line, flush=True)


def bench_ours(args, work, name, weight_type):
    """Compiles and runs one model; returns its table columns and its
    (prefill, decode) tokens/s."""
    hf = dict(MODELS[name], architectures=["LlamaForCausalLM"], rms_norm_eps=1e-5)
    model_dir = os.path.join(work, name + "-" + weight_type)
    write_model(model_dir, hf, seed=0, dtype=weight_type)
    artifact = os.path.join(work, name + "-" + weight_type + ".so")
    run([os.path.join(args.bin, "llamac"), os.path.join(model_dir, "config.json"),
         "--weight-type", weight_type, "-o", artifact])
    speeds = []
    for _ in range(args.runs):
        out = run([os.path.join(args.bin, "llama-run"), artifact, "--weights", model_dir,
                   "--tokens", ",".join(map(str, prompt_of(args, hf))),
                   "-n", str(args.steps)]).stderr
        speeds.append(tuple(map(float, re.findall(r"\(([0-9.]+) tok/s\)", out))))
    prefill, decode = median([p for p, _ in speeds]), median([d for _, d in speeds])
    size = weight_bytes(hf, weight_type)
    roofline = args.bandwidth * 1e9 / size
    peak_share = prefill * projection_flops(hf) / (args.fma_peak * 1e9)
    return (f"{name:<12} {weight_type:>7} {size / 1e6:>10.1f} {prefill:>14.1f} "
            f"{100 * peak_share:>8.1f}% "
            f"{decode:>13.1f} {roofline:>15.1f} {100 * decode / roofline:>6.1f}%",
            (prefill, decode))


def prompt_of(args, hf):
    return [1 + i % (hf["vocab_size"] - 1) for i in range(args.prompt)]


def f32_model(work, name):
    """The directory of the model's f32 weights (the same values every
    weight type is rounded from), written on first use."""
    model_dir = os.path.join(work, name + "-f32")
    if not os.path.isdir(model_dir):
        hf = dict(MODELS[name], architectures=["LlamaForCausalLM"], rms_norm_eps=1e-5)
        write_model(model_dir, hf, seed=0)
    return model_dir


def llama_cpp_columns(args, work, name, weight_type, ours):
    """llama.cpp's llama-bench at all cores on the same weights, and the
    ratio of `ours` (prefill, decode) to it."""
    from llama_cpp_peer import llama_bench, write_gguf
    hf = dict(MODELS[name], rms_norm_eps=1e-5)
    path = os.path.join(work, f"{name}-{weight_type}.gguf")
    write_gguf(f32_model(work, name), hf, weight_type, path)
    prefill, decode = llama_bench(args.llama_cpp, path, args.prompt, args.steps,
                                  os.cpu_count() or 1, args.runs)
    return (f" {f'{prefill:.1f}/{decode:.1f}':>22}"
            f" {ours[0] / prefill:>19.2f} {ours[1] / decode:>19.2f}")


def torch_columns(args, work, name, ours):
    """PyTorch eager at 1 and 2 threads on the model's f32 weights (measured
    once per model), and the ratio of `ours` (prefill, decode) to its best."""
    model_dir = f32_model(work, name)
    hf = dict(MODELS[name])
    prompt = prompt_of(args, hf)
    if name not in args.peers:
        peers = []
        for threads in (1, 2):
            runs = [torch_speed(model_dir, prompt, args.steps, threads)
                    for _ in range(args.runs)]
            peers.append((median([p for p, _ in runs]), median([d for _, d in runs])))
        args.peers[name] = peers
    peers = args.peers[name]
    prefill, decode = ours
    best_prefill = max(p for p, _ in peers)
    best_decode = max(d for _, d in peers)
    line = "".join(f" {f'{p:.1f}/{d:.1f}':>17}" for p, d in peers)
    return line + f" {prefill / best_prefill:>14.2f} {decode / best_decode:>14.2f}"


if __name__ == "__main__":
    main()
