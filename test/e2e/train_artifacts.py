"""Shared by the training checks: a random model of a check_model variant,
compiled with llamac --train, and its manifest."""
import argparse
import ctypes
import json
import os
import subprocess
import sys

from check_model import BASE, VARIANTS

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import write_model  # noqa: E402


def compile_train_model(bin_dir, work, variant, seed, batch, seq, suffix):
    """Writes random weights for `variant` and compiles its training entry
    points; returns (HF config dict, {name: float32 weights}, artifact path)."""
    changes = VARIANTS[variant][0]
    config = dict(BASE, **changes)
    model_dir = os.path.join(work, variant)
    weights = write_model(model_dir, config, seed=seed)
    artifact = os.path.join(work, f"{variant}-{suffix}.so")
    subprocess.run([os.path.join(bin_dir, "llamac"), os.path.join(model_dir, "config.json"),
                    "--train", "--batch", str(batch), "--seq", str(seq), "-O1", "-o", artifact],
                   check=True)
    return config, weights, artifact


def load_artifact(path):
    """(the loaded library, its manifest)."""
    lib = ctypes.CDLL(path)
    manifest = json.loads(ctypes.c_char_p(ctypes.addressof(
        ctypes.c_char.in_dll(lib, "llama_manifest"))).value)
    return lib, manifest


def pointer_array(tensors, names):
    """A C array of pointers to tensors[name] for each name, in order."""
    return (ctypes.c_void_p * len(names))(*[tensors[n].ctypes.data for n in names])


def run_variants(check, variants):
    """main() of a training check: --bin and --work, then check(variant,
    args) for each variant; exits non-zero if any check failed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac")
    parser.add_argument("--work", required=True, help="scratch directory")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    results = [check(v, args) for v in variants]
    sys.exit(0 if all(results) else 1)
