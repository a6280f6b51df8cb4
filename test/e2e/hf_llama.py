"""HF transformers' LlamaForCausalLM holding our weights: the trusted
reference the e2e checks compare with."""
import numpy as np
import torch
import transformers


def build_hf_model(config, weights, dtype=torch.float32):
    """LlamaForCausalLM of an HF config dict, with {name: array} weights."""
    hf_config = transformers.LlamaConfig(**{k: v for k, v in config.items()
                                            if k not in ("architectures", "torch_dtype")})
    model = transformers.LlamaForCausalLM(hf_config).eval()
    state = {name: torch.from_numpy(np.array(w)) for name, w in weights.items()}
    if config.get("tie_word_embeddings"):
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all("rotary_emb" in m for m in missing), missing
    return model.to(dtype)


def labels_for(tokens, mask):
    """HF labels for tokens [B, T+1] and a loss mask [B, T]: position t
    predicts token t+1, masked targets are -100 (ignored)."""
    batch = tokens.shape[0]
    labels = np.where(mask > 0, tokens[:, 1:], -100)
    labels = np.concatenate([np.full((batch, 1), -100), labels], axis=1)
    return torch.from_numpy(labels.astype(np.int64))
