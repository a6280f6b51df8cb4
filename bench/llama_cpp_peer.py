"""llama.cpp as a peer in the same run: the model's HF safetensors written as
a GGUF file (same shapes and values, f32 or bf16), timed by llama.cpp's own
llama-bench. llama.cpp is not a dependency of llamac: scripts/build_llama_cpp.sh
builds llama-bench from the source that PyPI's llama-cpp-python ships."""
import json
import os
import subprocess

import numpy as np

from llama_weights import to_bf16_bits  # bench.py puts examples/ on the path


def write_gguf(model_dir, hf, weight_type, path):
    """GGUF (llama architecture) of the HF checkpoint in `model_dir`."""
    import gguf
    from safetensors.numpy import load_file
    tensors = load_file(os.path.join(model_dir, "model.safetensors"))
    dim, heads = hf["hidden_size"], hf["num_attention_heads"]
    kv_heads = hf.get("num_key_value_heads", heads)
    layers, vocab = hf["num_hidden_layers"], hf["vocab_size"]
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_context_length(hf["max_position_embeddings"])
    writer.add_embedding_length(dim)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(hf["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(dim // heads)
    writer.add_rope_freq_base(hf.get("rope_theta", 10000.0))
    writer.add_layer_norm_rms_eps(hf.get("rms_norm_eps", 1e-5))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if weight_type == "bf16"
                         else gguf.LlamaFileType.ALL_F32)
    # llama-bench feeds random token ids: a placeholder SentencePiece vocab.
    writer.add_tokenizer_model("llama")
    writer.add_token_list(["<unk>", "<s>", "</s>"] + [f"t{i}" for i in range(3, vocab)])
    writer.add_token_scores([0.0] * vocab)
    writer.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL,
                            gguf.TokenType.CONTROL] + [gguf.TokenType.NORMAL] * (vocab - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    names = {"model.embed_tokens.weight": "token_embd.weight",
             "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    per_layer = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
                 "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                 "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
                 "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                 "mlp.down_proj": "ffn_down"}
    for layer in range(layers):
        for ours, theirs in per_layer.items():
            names[f"model.layers.{layer}.{ours}.weight"] = f"blk.{layer}.{theirs}.weight"
    for name, value in tensors.items():
        value = np.ascontiguousarray(value, dtype=np.float32)
        if weight_type == "bf16" and value.ndim == 2:  # norms stay f32, as llama.cpp's converter
            writer.add_tensor(names[name], to_bf16_bits(value), raw_shape=value.shape,
                              raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            writer.add_tensor(names[name], value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama_bench(binary, gguf_path, prompt, steps, threads, runs):
    """(prefill, decode) tokens/s of llama-bench at `threads` threads, the
    average of `runs` repetitions."""
    out = subprocess.run([binary, "-m", gguf_path, "-p", str(prompt), "-n", str(steps),
                          "-t", str(threads), "-r", str(runs), "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    speeds = {}
    for test in json.loads(out):
        kind = "prefill" if test["n_prompt"] > 0 else "decode"
        speeds[kind] = test["avg_ts"]
    return speeds["prefill"], speeds["decode"]
