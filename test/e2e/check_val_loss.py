#!/usr/bin/env python3
"""Checks llama-train's validation loss: after one step with --val-data, the
loss it reports equals the numpy reference's mean cross-entropy over every
target of the validation rows at the saved weights. Three rows with a batch
of two, so the last batch is partial and must count each target once.

    check_val_loss.py --bin BUILD/bin --work DIR
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys

import numpy as np

import llama_reference as ref

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import Config  # noqa: E402

BATCH, SEQ, VAL_ROWS = 2, 12, 3
TOLERANCE = 1e-5  # the loss is of order log(vocab) ~ 6


def read_safetensors(path):
    """{name: float32 array} of an F32 safetensors file."""
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
        data = f.read()
    header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], np.float32).reshape(info["shape"])
    return tensors


def reference_loss(c, weights, rows):
    total = count = 0.0
    for row in rows:
        logits = ref.forward(c, weights, row[:-1], 0, ref.KVCache(c)).astype(np.float64)
        m = logits.max(-1, keepdims=True)
        lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
        total += (lse - logits[np.arange(SEQ), row[1:]]).sum()
        count += SEQ
    return total / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    source = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "tiny", "config.json")
    config = json.load(open(source))
    rng = np.random.default_rng(2)
    train = rng.integers(0, config["vocab_size"], (4, SEQ + 1)).astype(np.int32)
    val = rng.integers(0, config["vocab_size"], (VAL_ROWS, SEQ + 1)).astype(np.int32)
    for name, rows in (("train.npy", train), ("val.npy", val)):
        np.save(os.path.join(args.work, name), rows)
    artifact = os.path.join(args.work, "train.so")
    subprocess.run([os.path.join(args.bin, "llamac"), source, "--train", "--batch", str(BATCH),
                    "--seq", str(SEQ), "-O1", "-o", artifact], check=True)
    out = os.path.join(args.work, "out")
    log = subprocess.run([os.path.join(args.bin, "llama-train"), artifact, "--init-random", "0",
                          "--data", os.path.join(args.work, "train.npy"),
                          "--val-data", os.path.join(args.work, "val.npy"), "--steps", "1",
                          "--lr", "1e-2", "--warmup", "0", "--out", out],
                         check=True, capture_output=True, text=True).stderr
    printed = float(re.search(r"step 1: validation loss ([0-9.]+) \(3 rows\)", log).group(1))
    rows = [line.split(",") for line in open(os.path.join(out, "loss.csv")).read().split()]
    assert rows[0][-1] == "val_loss", rows[0]
    reported = float(rows[1][-1])
    weights = read_safetensors(os.path.join(out, "model.safetensors"))
    expected = reference_loss(Config(config), weights, val)
    ok = abs(reported - expected) <= TOLERANCE and abs(printed - reported) <= 1e-4
    print(f"validation loss {reported:.6f} (loss.csv), {printed:.4f} (stderr) vs reference "
          f"{expected:.6f}: {'ok' if ok else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
