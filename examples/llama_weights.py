#!/usr/bin/env python3
"""Deterministic random weights for a Llama config, written as safetensors.

    python examples/llama_weights.py CONFIG.json OUT_DIR [--seed S]
        [--dtype f32|bf16|f16] [--shards N]

OUT_DIR receives config.json and model.safetensors (or, with --shards N > 1,
HF-style shards plus model.safetensors.index.json). Needs only numpy; the
same module is the e2e tests' source of weights.
"""
import argparse
import json
import os
import struct

import numpy as np


class Config:
    """The shapes of a Llama model, from an HF config.json dict."""

    def __init__(self, hf):
        self.hf = dict(hf)
        self.dim = hf["hidden_size"]
        self.hidden_dim = hf["intermediate_size"]
        self.n_layers = hf["num_hidden_layers"]
        self.n_heads = hf["num_attention_heads"]
        self.n_kv_heads = hf.get("num_key_value_heads") or self.n_heads
        self.vocab_size = hf["vocab_size"]
        self.seq_len = hf["max_position_embeddings"]
        self.norm_eps = hf.get("rms_norm_eps", 1e-6)
        self.rope_theta = hf.get("rope_theta", 10000.0)
        self.tie_embeddings = hf.get("tie_word_embeddings", False)
        self.head_dim = self.dim // self.n_heads


def weight_shapes(c):
    """HF tensor names and shapes, in the order llamac's manifest lists them."""
    q, kv = c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
    shapes = {"model.embed_tokens.weight": (c.vocab_size, c.dim)}
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (c.dim,),
            p + "self_attn.q_proj.weight": (q, c.dim),
            p + "self_attn.k_proj.weight": (kv, c.dim),
            p + "self_attn.v_proj.weight": (kv, c.dim),
            p + "self_attn.o_proj.weight": (c.dim, q),
            p + "post_attention_layernorm.weight": (c.dim,),
            p + "mlp.gate_proj.weight": (c.hidden_dim, c.dim),
            p + "mlp.up_proj.weight": (c.hidden_dim, c.dim),
            p + "mlp.down_proj.weight": (c.dim, c.hidden_dim),
        })
    shapes["model.norm.weight"] = (c.dim,)
    if not c.tie_embeddings:
        shapes["lm_head.weight"] = (c.vocab_size, c.dim)
    return shapes


def random_weights(c, seed):
    """Matrices N(0, 1/fan_in), norm gains around 1: logits of order one."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in weight_shapes(c).items():
        if len(shape) == 1:
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / np.sqrt(shape[1])
        weights[name] = w.astype(np.float32)
    return weights


def to_bf16_bits(x):
    """float32 -> bfloat16 bit patterns, rounding to nearest even."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def from_bf16_bits(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


DTYPES = {"f32": "F32", "bf16": "BF16", "f16": "F16"}


def encode(array, dtype):
    """(bytes, the float32 values the file really holds)."""
    if dtype == "f32":
        a = np.ascontiguousarray(array, np.float32)
        return a.tobytes(), a
    if dtype == "bf16":
        bits = to_bf16_bits(array)
        return bits.tobytes(), from_bf16_bits(bits)
    if dtype == "f16":
        h = np.asarray(array, np.float32).astype(np.float16)
        return h.tobytes(), h.astype(np.float32)
    raise ValueError(f"unknown dtype {dtype}")


def write_safetensors(path, tensors, dtype="f32"):
    """Writes {name: float32 array}; returns {name: values as stored}."""
    header, blobs, stored, offset = {}, [], {}, 0
    for name, array in tensors.items():
        data, stored[name] = encode(array, dtype)
        header[name] = {"dtype": DTYPES[dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    return stored


def write_model(out_dir, hf_config, seed=0, dtype="f32", shards=1):
    """Writes config.json and the weights; returns the stored float32 values."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config, f, indent=2)
    weights = random_weights(Config(hf_config), seed)
    if shards <= 1:
        return write_safetensors(os.path.join(out_dir, "model.safetensors"),
                                 weights, dtype)
    names = list(weights)
    stored, weight_map = {}, {}
    for k in range(shards):
        part = names[k::shards]
        file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        stored.update(write_safetensors(os.path.join(out_dir, file),
                                        {n: weights[n] for n in part}, dtype))
        weight_map.update({n: file for n in part})
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    return stored


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="an HF config.json")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()
    with open(args.config) as f:
        hf_config = json.load(f)
    write_model(args.out_dir, hf_config, args.seed, args.dtype, args.shards)


if __name__ == "__main__":
    main()
