#!/usr/bin/env python3
"""Checks that llama-ppo finds the KL-regularised optimum where it is known
in closed form. One prompt, one-token responses, reward 1 for a token of a
set S and 0 otherwise, k1, gamma 1, raw (unwhitened) scores: the objective
E[r] - beta KL(pi || pi0) is maximised by pi* ~ pi0 exp(r / beta), so

    pi*(S) = p0 e^(1/beta) / (p0 e^(1/beta) + 1 - p0),   p0 = pi0(S),
    KL*    = pi*(S) / beta - log(p0 e^(1/beta) + 1 - p0).

The policy is a random tiny model (near-uniform over its 512 tokens), S the
26 tokens that give p0 close to 0.05; after training, pi(S) and the exact
KL(pi || pi0) over the vocabulary are read off the final checkpoint in
float64 and must lie within 0.03 and 20 % of the optimum's.

    check_ppo_optimum.py --bin BUILD/bin --src SOURCE_DIR --work DIR --beta B
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import Config, random_weights, write_safetensors  # noqa: E402

BLOCK, SEQ, SET_SIZE = 16, 15, 40


def next_token_probs(config, weights, prompt):
    hf = transformers.LlamaConfig(**{k: v for k, v in config.items()
                                     if k not in ("architectures", "torch_dtype")})
    model = transformers.LlamaForCausalLM(hf).eval()
    model.load_state_dict({n: torch.from_numpy(np.array(w)) for n, w in weights.items()},
                          strict=False)
    model = model.to(torch.float64)
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0, -1]
    return torch.softmax(logits, -1).numpy()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--beta", type=float, required=True)
    parser.add_argument("--iterations", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tiny = os.path.join(args.src, "examples", "tiny")
    config_path = os.path.join(tiny, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    w = lambda name: os.path.join(args.work, name)  # noqa: E731
    weights = random_weights(Config(config), seed=31)
    os.makedirs(w("policy"), exist_ok=True)
    write_safetensors(w("policy/model.safetensors"), weights)
    with open(w("prompts.jsonl"), "w") as f:
        f.write(json.dumps({"prompt": "Once upon a time"}) + "\n")
    llamac = os.path.join(args.bin, "llamac")
    for model in ("policy", "value"):
        subprocess.run([llamac, config_path, "--ppo", model, "--batch", str(BLOCK),
                        "--seq", str(SEQ), "-O1", "-o", w(f"{model}.so")], check=True)

    def ppo(out, iterations, extra=()):
        subprocess.run([os.path.join(args.bin, "llama-ppo"), w("policy.so"),
                        "--policy-weights", w("policy"), "--value", w("value.so"),
                        "--reward-tokens", ",".join(map(str, reward_set)),
                        "--tokenizer", os.path.join(tiny, "tokenizer.model"),
                        "--prompts", w("prompts.jsonl"), "--out", out,
                        "--iterations", str(iterations), "--rollout", str(4 * BLOCK),
                        "--epochs", "4", "--max-new-tokens", "1", "--beta", str(args.beta),
                        "--kl", "k1", "--gamma", "1", "--no-whiten-scores", "--lr", "1e-3",
                        "--value-lr", "1e-3", "--seed", str(args.seed), "--dump-rollout",
                        os.path.join(out, "rollout.safetensors"), *extra],
                       check=True, stderr=subprocess.DEVNULL)

    # The prompt as llama-ppo feeds it, from a rollout dump.
    reward_set = [3]
    ppo(w("probe"), 1)
    dump = load_file(w("probe/rollout.safetensors"))
    first = int(dump["mask"][0].argmax())  # the prompt's last position
    prompt = dump["tokens"][0, :first + 1].astype(np.int64).tolist()
    p_initial = next_token_probs(config, weights, prompt)
    # S: the SET_SIZE tokens closest to the median probability (p0 ~ 0.05).
    ranked = np.argsort(np.abs(p_initial - np.median(p_initial)))
    reward_set = sorted(int(t) for t in ranked[:SET_SIZE])
    p0 = float(p_initial[reward_set].sum())
    z = p0 * math.exp(1 / args.beta) + 1 - p0
    target = p0 * math.exp(1 / args.beta) / z
    target_kl = target / args.beta - math.log(z)

    ppo(w("run"), args.iterations)
    trained = load_file(w("run/policy/model.safetensors"))
    p = next_token_probs(config, trained, prompt)
    p_set = float(p[reward_set].sum())
    kl = float((p * (np.log(p) - np.log(p_initial))).sum())
    print(f"beta {args.beta}: p0 = pi0(S) {p0:.4f}; after {args.iterations} iterations "
          f"pi(S) {p_set:.4f} vs optimum {target:.4f}; KL {kl:.4f} vs optimum {target_kl:.4f}")
    ok = abs(p_set - target) <= 0.03 and abs(kl - target_kl) <= 0.2 * target_kl
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
