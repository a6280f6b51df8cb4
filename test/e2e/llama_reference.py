"""A reference Llama 2 forward pass in numpy, in Hugging Face conventions.

float32 throughout, with the operations in the order `transformers`'
LlamaForCausalLM performs them (eager attention), so compiled results can be
held to tight tolerances.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import Config  # noqa: E402  (the shapes, shared with the weights)

__all__ = ["Config", "KVCache", "forward", "rms_norm", "rope", "silu"]


def rms_norm(x, w, eps):
    variance = np.mean(x * x, axis=-1, keepdims=True, dtype=np.float32)
    return w * (x * (1.0 / np.sqrt(variance + np.float32(eps))))


def rope(x, positions, theta):
    """x: [S, H, D] rotated by rotate-half RoPE at the given positions."""
    d = x.shape[-1]
    inv_freq = (1.0 / (np.float32(theta) ** (np.arange(0, d, 2).astype(np.float32) / np.float32(d)))).astype(np.float32)
    freqs = positions.astype(np.float32)[:, None] * inv_freq[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    rotated = np.concatenate([-x[..., d // 2:], x[..., : d // 2]], axis=-1)
    return x * cos + rotated * sin


def silu(x):
    return x * (1.0 / (1.0 + np.exp(-x)))


class KVCache:
    def __init__(self, c):
        shape = (c.n_layers, c.seq_len, c.n_kv_heads, c.head_dim)
        self.k = np.zeros(shape, np.float32)
        self.v = np.zeros(shape, np.float32)


def forward(c, w, tokens, position, cache):
    """Logits [S, vocab] for `tokens` at positions position.., updating cache."""
    tokens = np.asarray(tokens)
    s = len(tokens)
    positions = np.arange(position, position + s)
    group = c.n_heads // c.n_kv_heads
    x = w["model.embed_tokens.weight"][tokens]
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], c.norm_eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(s, c.n_heads, c.head_dim)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(s, c.n_kv_heads, c.head_dim)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(s, c.n_kv_heads, c.head_dim)
        q, k = rope(q, positions, c.rope_theta), rope(k, positions, c.rope_theta)
        cache.k[i, position:position + s] = k
        cache.v[i, position:position + s] = v
        keys = np.repeat(cache.k[i, :position + s], group, axis=1)    # [L, H, D]
        values = np.repeat(cache.v[i, :position + s], group, axis=1)
        scores = np.einsum("shd,thd->hst", q, keys) * np.float32(1.0 / np.sqrt(c.head_dim))
        future = np.arange(position + s)[None, :] > positions[:, None]  # [S, L]
        scores = np.where(future[None], -np.inf, scores).astype(np.float32)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        attn = np.einsum("hst,thd->shd", probs, values).reshape(s, c.dim)
        x = x + attn @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], c.norm_eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], c.norm_eps)
    head = w["model.embed_tokens.weight"] if c.tie_embeddings else w["lm_head.weight"]
    return (x @ head.T).astype(np.float32)
