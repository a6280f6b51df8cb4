#!/usr/bin/env python3
"""Writes a small valid model and broken variants of its weights, for the
llama-run bad-input tests.

    make_bad_weights.py OUT_DIR

OUT_DIR/good/ holds config.json + model.safetensors; each OUT_DIR/<case>.safetensors
breaks one rule the runtime must catch.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import random_weights, write_model, write_safetensors, Config  # noqa: E402

CONFIG = {
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 100,
    "max_position_embeddings": 16, "rms_norm_eps": 1e-5,
}


def raw_file(path, header, data=b""):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_model(os.path.join(out, "good"), CONFIG, seed=1)
    good = open(os.path.join(out, "good", "model.safetensors"), "rb").read()
    weights = random_weights(Config(CONFIG), seed=1)

    # The file cut in half: offsets run past its end.
    open(os.path.join(out, "truncated.safetensors"), "wb").write(good[: len(good) // 2])
    # Fewer bytes than the 8-byte header length.
    open(os.path.join(out, "tiny.safetensors"), "wb").write(b"\x01\x02\x03")
    # A header length larger than the file.
    open(os.path.join(out, "header-past-eof.safetensors"), "wb").write(
        struct.pack("<Q", 1 << 40) + good[8:])
    # A header that is not JSON.
    raw_file(os.path.join(out, "bad-json.safetensors"), {})
    data = bytearray(open(os.path.join(out, "bad-json.safetensors"), "rb").read())
    data[8:10] = b"{]"
    open(os.path.join(out, "bad-json.safetensors"), "wb").write(data)
    # A tensor whose offsets point past the data.
    raw_file(os.path.join(out, "offsets-past-eof.safetensors"),
             {"model.norm.weight": {"dtype": "F32", "shape": [32], "data_offsets": [0, 128]}},
             b"\0" * 64)
    # A tensor whose byte count does not match its shape.
    raw_file(os.path.join(out, "size-mismatch.safetensors"),
             {"model.norm.weight": {"dtype": "F32", "shape": [32], "data_offsets": [0, 64]}},
             b"\0" * 64)
    # An unsupported dtype.
    raw_file(os.path.join(out, "int8.safetensors"),
             {"model.norm.weight": {"dtype": "I8", "shape": [32], "data_offsets": [0, 32]}},
             b"\0" * 32)
    # A weight of the wrong shape.
    wrong = dict(weights)
    wrong["model.layers.0.self_attn.q_proj.weight"] = np.zeros((16, 32), np.float32)
    write_safetensors(os.path.join(out, "wrong-shape.safetensors"), wrong)
    # A missing and an unexpected tensor.
    missing = {k: v for k, v in weights.items() if k != "model.norm.weight"}
    write_safetensors(os.path.join(out, "missing.safetensors"), missing)
    extra = dict(weights, **{"model.layers.1.mlp.up_proj.weight": np.zeros((64, 32), np.float32)})
    write_safetensors(os.path.join(out, "unexpected.safetensors"), extra)
    # Weights of another config (dim 48).
    other = random_weights(Config(dict(CONFIG, hidden_size=48)), seed=1)
    write_safetensors(os.path.join(out, "other-config.safetensors"), other)


if __name__ == "__main__":
    main()
