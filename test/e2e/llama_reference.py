"""A reference Llama 2 forward pass in numpy, in Hugging Face conventions.

float32 throughout, with the operations in the order `transformers`'
LlamaForCausalLM performs them (eager attention), so compiled results can be
held to tight tolerances. `check_against_hf.py` checks it against HF itself.
"""
import numpy as np


class Config:
    def __init__(self, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
                 seq_len, norm_eps=1e-5, rope_theta=10000.0, tie_embeddings=False):
        self.dim, self.hidden_dim, self.n_layers = dim, hidden_dim, n_layers
        self.n_heads, self.n_kv_heads, self.vocab_size = n_heads, n_kv_heads, vocab_size
        self.seq_len, self.norm_eps, self.rope_theta = seq_len, norm_eps, rope_theta
        self.tie_embeddings = tie_embeddings
        self.head_dim = dim // n_heads

    @classmethod
    def from_hf(cls, hf):
        return cls(hf["hidden_size"], hf["intermediate_size"], hf["num_hidden_layers"],
                   hf["num_attention_heads"],
                   hf.get("num_key_value_heads") or hf["num_attention_heads"],
                   hf["vocab_size"], hf["max_position_embeddings"],
                   hf.get("rms_norm_eps", 1e-6), hf.get("rope_theta", 10000.0),
                   hf.get("tie_word_embeddings", False))

    def to_hf(self):
        return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                "hidden_act": "silu", "hidden_size": self.dim,
                "intermediate_size": self.hidden_dim,
                "num_hidden_layers": self.n_layers, "num_attention_heads": self.n_heads,
                "num_key_value_heads": self.n_kv_heads, "vocab_size": self.vocab_size,
                "max_position_embeddings": self.seq_len, "rms_norm_eps": self.norm_eps,
                "rope_theta": self.rope_theta, "tie_word_embeddings": self.tie_embeddings,
                "torch_dtype": "float32"}


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
    """Deterministic random weights: N(0, 0.02) matrices (as HF's init) with a
    larger spread so logits are not all alike, norm gains around 1."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in weight_shapes(c).items():
        if len(shape) == 1:
            w = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            w = rng.standard_normal(shape) / np.sqrt(shape[1])
        weights[name] = w.astype(np.float32)
    return weights


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
