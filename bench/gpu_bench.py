#!/usr/bin/env python3
"""llamac's NVIDIA artifacts against PyTorch on the same GPU (issue 10).

    python3 bench/gpu_bench.py --artifacts DIR --llama-run PATH [--models ...]

Runs on the GPU machine (PyTorch with CUDA, numpy; no MLIR). For each model
shape (TinyLlama-1.1B, Llama-2-7B) it draws random BF16 weights on the GPU,
writes them as safetensors for llama-run, and measures in one run:
  - ours: DIR/<model>.so (llamac --target=nvidia --weight-type bf16) through
    llama-run: prefill of a PROMPT-token prompt, then STEPS greedy decode steps;
  - PyTorch eager and torch.compile (mode="reduce-overhead": CUDA graphs), a
    gpt-fast style model: BF16 weights and activations, a static KV cache,
    SDPA attention; compiled: the one-token decode step, as gpt-fast does;
  - the device's copy bandwidth, for decode's roofline: weight bytes streamed
    per token / bandwidth.
Prints one table. PyTorch's prefill and decode are timed after an untimed
warm-up of each; llama-run is a fresh process per run (kernels loaded
eagerly with the artifact), medians of --runs.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from llama_weights import Config, weight_shapes  # noqa: E402

# Where and in what the PyTorch side computes (a CPU float32 run of the same
# model checks it against llamac's CPU artifact).
DEVICE, DTYPE = "cuda", torch.bfloat16

MODELS = {
    "tinyllama": {"hidden_size": 2048, "intermediate_size": 5632,
                  "num_hidden_layers": 22, "num_attention_heads": 32,
                  "num_key_value_heads": 4, "vocab_size": 32000},
    "llama2-7b": {"hidden_size": 4096, "intermediate_size": 11008,
                  "num_hidden_layers": 32, "num_attention_heads": 32,
                  "num_key_value_heads": 32, "vocab_size": 32000},
}


def hf_config(name, seq_len):
    return dict(MODELS[name], architectures=["LlamaForCausalLM"],
                max_position_embeddings=seq_len, rms_norm_eps=1e-5)


def random_weights(config, seed):
    """{HF name: BF16 CUDA tensor}: matrices N(0, 1/fan_in), gains ~ 1."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)
    weights = {}
    for name, shape in weight_shapes(config).items():
        w = torch.randn(shape, generator=gen, device=DEVICE, dtype=torch.float32)
        w = 1.0 + 0.1 * w if len(shape) == 1 else w / shape[1] ** 0.5
        weights[name] = w.to(DTYPE)
    return weights


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, t in tensors.items():
        size = t.numel() * 2
        header[name] = {"dtype": "BF16", "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(t.to(torch.bfloat16).contiguous().view(torch.int16).cpu().numpy().tobytes())


class TorchLlama(torch.nn.Module):
    """gpt-fast's shape of a Llama: fused-free, BF16, static KV cache."""

    def __init__(self, c, weights, max_seq):
        super().__init__()
        self.c, self.w = c, weights
        hd = c.head_dim
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, device=DEVICE).float() / hd))
        angles = torch.outer(torch.arange(max_seq, device=DEVICE).float(), inv)
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", angles.cos().to(DTYPE))
        self.register_buffer("sin", angles.sin().to(DTYPE))
        self.register_buffer("causal", torch.tril(torch.ones(
            max_seq, max_seq, dtype=torch.bool, device=DEVICE)))
        shape = (c.n_layers, 1, c.n_kv_heads, max_seq, hd)
        self.register_buffer("k_cache", torch.zeros(shape, dtype=DTYPE, device=DEVICE))
        self.register_buffer("v_cache", torch.zeros(shape, dtype=DTYPE, device=DEVICE))

    def norm(self, x, gain):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.c.norm_eps)
        return x32.to(x.dtype) * gain

    def rope(self, x, pos):  # x [1, heads, T, hd]; HF's rotate-half pairs
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * self.cos[pos] + rotated * self.sin[pos]

    def forward(self, tokens, pos):  # tokens [1, T], pos [T] -> last logits
        c, w = self.c, self.w
        t, hd = tokens.shape[1], c.head_dim
        h = F.embedding(tokens, w["model.embed_tokens.weight"])
        mask = self.causal[pos][None, None]
        for i in range(c.n_layers):
            p = f"model.layers.{i}."
            x = self.norm(h, w[p + "input_layernorm.weight"])
            q = F.linear(x, w[p + "self_attn.q_proj.weight"]).view(1, t, c.n_heads, hd)
            k = F.linear(x, w[p + "self_attn.k_proj.weight"]).view(1, t, c.n_kv_heads, hd)
            v = F.linear(x, w[p + "self_attn.v_proj.weight"]).view(1, t, c.n_kv_heads, hd)
            q, k, v = (y.transpose(1, 2) for y in (q, k, v))
            q, k = self.rope(q, pos), self.rope(k, pos)
            self.k_cache[i].index_copy_(2, pos, k)
            self.v_cache[i].index_copy_(2, pos, v)
            group = c.n_heads // c.n_kv_heads
            keys = self.k_cache[i].repeat_interleave(group, dim=1)
            values = self.v_cache[i].repeat_interleave(group, dim=1)
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
            a = a.transpose(1, 2).reshape(1, t, c.n_heads * hd)
            h = h + F.linear(a, w[p + "self_attn.o_proj.weight"])
            x = self.norm(h, w[p + "post_attention_layernorm.weight"])
            gate = F.linear(x, w[p + "mlp.gate_proj.weight"])
            up = F.linear(x, w[p + "mlp.up_proj.weight"])
            h = h + F.linear(F.silu(gate) * up, w[p + "mlp.down_proj.weight"])
        head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        return F.linear(self.norm(h, w["model.norm.weight"])[:, -1:], head)


def timed(fn):
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - start


def torch_speeds(model, prompt, steps, compiled):
    """(prefill tok/s, decode tok/s, greedy tokens) of one generation."""
    step = model
    if compiled:
        step = torch.compile(model, mode="reduce-overhead", fullgraph=True)
    tokens = torch.tensor([prompt], device="cuda")
    pos = torch.arange(len(prompt), device="cuda")
    with torch.no_grad():
        model(tokens, pos)  # warm-up: cuBLAS handles, kernel loading
        logits, prefill = timed(lambda: model(tokens, pos))
        token = logits[:, -1].argmax(-1, keepdim=True)
        out = []

        def decode(token, first):
            for i in range(steps):
                token = step(token, torch.tensor([first + i], device="cuda"))[:, -1].argmax(
                    -1, keepdim=True)
                out.append(int(token))
            return token

        # Warm-up outside the timing (compiled: compile and capture the
        # graphs); the timed steps rewrite the same cache rows.
        decode(token, len(prompt))
        out.clear()
        _, seconds = timed(lambda: decode(token, len(prompt)))
    return len(prompt) / prefill, steps / seconds, out


def copy_bandwidth():
    """Bytes read + written per second by a 4 GiB device-to-device copy."""
    x = torch.empty(1 << 31, dtype=torch.int16, device="cuda")
    y = torch.empty_like(x)
    y.copy_(x)
    _, seconds = timed(lambda: [y.copy_(x) for _ in range(5)])
    del x, y
    return 2 * 5 * (1 << 32) / seconds


def ours(args, name, model_dir, prompt):
    """(prefill tok/s, decode tok/s) medians of llama-run over --runs runs."""
    speeds = []
    for _ in range(args.runs):
        out = subprocess.run(
            [args.llama_run, os.path.join(args.artifacts, name + ".so"),
             "--weights", model_dir, "--tokens", ",".join(map(str, prompt)),
             "-n", str(args.steps)],
            check=True, capture_output=True, text=True, timeout=600,
            # Every kernel loaded with the artifact, not at its first launch
            # inside the timing (the device pool's first growth still is).
            env=dict(os.environ, CUDA_MODULE_LOADING="EAGER"))
        speeds.append(tuple(map(float, re.findall(r"\(([0-9.]+) tok/s\)", out.stderr))))
    median = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    return median([p for p, _ in speeds]), median([d for _, d in speeds])


def streamed_bytes(c):
    """Bytes of weights decode reads per token: all but the embedding table
    (one row of it), BF16."""
    shapes = weight_shapes(c)
    values = sum(torch.Size(s).numel() for n, s in shapes.items()
                 if n != "model.embed_tokens.weight")
    if c.tie_embeddings:
        values += c.vocab_size * c.dim
    return 2 * values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--llama-run", required=True)
    parser.add_argument("--work", default="/tmp/llamac-gpu-bench")
    parser.add_argument("--models", default="tinyllama,llama2-7b")
    parser.add_argument("--prompt", type=int, default=512)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--seq", type=int, default=1024,
                        help="max_position_embeddings the artifacts were compiled for")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    bandwidth = copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"copy bandwidth {bandwidth / 1e12:.2f} TB/s")
    rows = []
    for name in args.models.split(","):
        hf = hf_config(name, args.seq)
        c = Config(hf)
        model_dir = os.path.join(args.work, name)
        os.makedirs(model_dir, exist_ok=True)
        weights = random_weights(c, seed=0)
        write_safetensors(os.path.join(model_dir, "model.safetensors"), weights)
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(hf, f)
        prompt = [1 + (7 * i) % (c.vocab_size - 1) for i in range(args.prompt)]
        model = TorchLlama(c, weights, args.seq)
        eager = torch_speeds(model, prompt, args.steps, compiled=False)
        compiled = torch_speeds(model, prompt, args.steps, compiled=True)
        del model, weights
        torch.cuda.empty_cache()
        prefill, decode = ours(args, name, model_dir, prompt)
        roofline = bandwidth / streamed_bytes(c)
        rows.append((name, prefill, eager[0], decode, eager[1], compiled[1],
                     100 * decode / roofline, 100 * compiled[1] / roofline))
        print(f"{name}: eager and compiled torch greedy tokens "
              f"{'agree' if eager[2] == compiled[2] else 'differ'}", flush=True)

    print(f"\nprefill: {args.prompt} tokens; decode: {args.steps} steps after it; "
          "roofline: BF16 weight bytes per token / copy bandwidth")
    print(f"{'model':<10} {'prefill':>9} {'eager':>9} {'x eager':>8} "
          f"{'decode':>8} {'eager':>8} {'compile':>8} {'x compile':>9} "
          f"{'HBM share':>9} {'compile share':>13}")
    for name, pre, pre_e, dec, dec_e, dec_c, share, share_c in rows:
        print(f"{name:<10} {pre:>9.0f} {pre_e:>9.0f} {pre / pre_e:>8.2f} "
              f"{dec:>8.1f} {dec_e:>8.1f} {dec_c:>8.1f} {dec / dec_c:>9.2f} "
              f"{share:>8.1f}% {share_c:>12.1f}%")


if __name__ == "__main__":
    main()
