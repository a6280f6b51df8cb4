#!/usr/bin/env python3
"""Checks PPO's compiled entry points (llamac --ppo policy and --ppo value)
on one fixed rollout of 4 prompts of 4 tokens with 8-token responses whose
EOS comes at response step 3, at 0, at 7 and never, against float64 torch:

- logprobs: the log-probability of each sampled token under
  softmax(logits / T), and the entropy, against transformers'
  LlamaForCausalLM;
- values: the value model's head at every position, against
  LlamaForSequenceClassification's score head applied to each hidden state
  (TRL's value model);
- the clipped policy loss, its clip fraction and approximate KL, and every
  parameter gradient; the clipped value loss, its clip fraction and every
  gradient; against autograd of TRL's PPOTrainer loss lines restated
  (trl/trainer/ppo_trainer.py 1.12: pg_losses / vf_losses), with a clip range
  of 0.05 and sampling log-probabilities and values perturbed so that both
  branches of each max are taken;
- one clipped AdamW step of each model.

    check_ppo_ops.py --bin BUILD/bin --work DIR
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys

import numpy as np
import torch
import transformers

from check_model import BASE
from llama2_optimizer import clipped_step, llama2_adamw
from train_artifacts import load_artifact, pointer_array

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import Config, random_weights  # noqa: E402

ROWS, PROMPT, RESPONSE = 4, 4, 8
SEQ = PROMPT + RESPONSE - 1  # positions: t predicts token t + 1
EOS, PAD = 2, 0
EOS_AT = [3, 0, 7, None]     # response step of each row's EOS
TEMPERATURE, CLIP, VALUE_CLIP = 0.7, 0.05, 0.05
TOLERANCE = 1e-4  # max |ours - torch| / max(1, max |torch|)
LR = 1e-2


def relative(ours, ref):
    return float(np.abs(ours - ref).max() / max(1.0, np.abs(ref).max()))


def ptr(array):
    return array.ctypes.data_as(ctypes.c_void_p)


class PPOArtifact:
    """One of PPO's compiled models."""

    def __init__(self, path, kinds):
        self.lib, manifest = load_artifact(path)
        self.names = [w["name"] for w in manifest["weights"]]
        self.shapes = {w["name"]: w["shape"] for w in manifest["weights"]}
        entries = {e["kind"]: e for e in manifest["entry_points"]}
        assert set(kinds) <= set(entries), entries
        for kind in kinds:
            assert entries[kind]["batch"] == ROWS and entries[kind]["seq"] == SEQ
        self.symbols = {kind: getattr(self.lib, entries[kind]["symbol"]) for kind in kinds}

    def scalars(self, count):
        return [np.zeros((), np.float32) for _ in range(count)]

    def run(self, kind, inputs, weights, outputs):
        self.symbols[kind](*[ptr(x) for x in inputs], pointer_array(weights, self.names),
                           *[ptr(x) for x in outputs])

    def grad(self, kind, inputs, weights, statistics):
        """(loss, statistics..., {name: gradient})"""
        grads = {n: np.zeros(self.shapes[n], np.float32) for n in self.names}
        outputs = self.scalars(1 + statistics)
        self.symbols[kind](*[ptr(x) for x in inputs], pointer_array(weights, self.names),
                           pointer_array(grads, self.names), *[ptr(x) for x in outputs])
        return [float(x) for x in outputs], grads

    def step(self, kind, inputs, weights, statistics):
        """(loss, grad norm, statistics..., new weights) after one step."""
        params = {n: weights[n].copy() for n in self.names}
        m = {n: np.zeros_like(params[n]) for n in self.names}
        v = {n: np.zeros_like(params[n]) for n in self.names}
        outputs = self.scalars(2 + statistics)
        step_params = np.array([LR, 1], np.float32)
        self.symbols[kind](*[ptr(x) for x in inputs], ptr(step_params),
                           pointer_array(params, self.names), pointer_array(m, self.names),
                           pointer_array(v, self.names), *[ptr(x) for x in outputs])
        return [float(x) for x in outputs], params


def rollout(rng, vocab):
    """tokens [ROWS, SEQ + 1] and the policy mask [ROWS, SEQ]: the response
    positions up to and including EOS (all 8 when there is none); pad after."""
    tokens = rng.integers(3, vocab, (ROWS, PROMPT + RESPONSE)).astype(np.int32)
    mask = np.zeros((ROWS, SEQ), np.float32)
    for row, eos in enumerate(EOS_AT):
        last = RESPONSE - 1 if eos is None else eos
        if eos is not None:
            tokens[row, PROMPT + eos] = EOS
            tokens[row, PROMPT + eos + 1:] = PAD
        mask[row, PROMPT - 1:PROMPT + last] = 1  # position p predicts token p + 1
    return tokens, mask


def hf_config(config, **extra):
    return transformers.LlamaConfig(**{k: v for k, v in config.items()
                                       if k not in ("architectures", "torch_dtype")}, **extra)


def load(model, weights):
    state = {n: torch.from_numpy(np.array(w)) for n, w in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all("rotary_emb" in m for m in missing), missing
    return model.to(torch.float64)


def adamw_step(model):
    norm = clipped_step(model, llama2_adamw(model, LR))
    return norm, {n: p.detach().numpy() for n, p in model.named_parameters()}


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum()


def policy_reference(config, weights, tokens, mask, old, advantages):
    model = load(transformers.LlamaForCausalLM(hf_config(config)).eval(), weights)
    ids = torch.from_numpy(tokens.astype(np.int64))
    logits = model(ids).logits[:, :-1] / TEMPERATURE
    logp = torch.log_softmax(logits, -1)
    lp = torch.gather(logp, 2, ids[:, 1:, None])[..., 0]
    entropy = torch.logsumexp(logits, -1) - (torch.softmax(logits, -1) * logits).sum(-1)
    m = torch.from_numpy(mask).double()
    a = torch.from_numpy(advantages).double()
    ratio = torch.exp(lp - torch.from_numpy(old).double())
    pg_losses = -a * ratio
    pg_losses2 = -a * torch.clamp(ratio, 1.0 - CLIP, 1.0 + CLIP)
    loss = masked_mean(torch.max(pg_losses, pg_losses2), m)
    clipfrac = masked_mean((pg_losses2 > pg_losses).double(), m)
    approxkl = 0.5 * masked_mean((lp - torch.from_numpy(old).double()) ** 2, m)
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    norm, stepped = adamw_step(model)
    return dict(lp=lp.detach().numpy(), entropy=entropy.detach().numpy(), loss=float(loss),
                stats=[float(clipfrac), float(approxkl)], grads=grads, norm=norm,
                stepped=stepped)


def value_reference(config, weights, tokens, mask, old, returns):
    model = load(transformers.LlamaForSequenceClassification(
        hf_config(config, num_labels=1, pad_token_id=PAD)).eval(), weights)
    ids = torch.from_numpy(tokens.astype(np.int64))
    values = model.score(model.model(ids).last_hidden_state)[:, :-1, 0]
    m = torch.from_numpy(mask).double()
    old_t, ret = torch.from_numpy(old).double(), torch.from_numpy(returns).double()
    vpredclipped = torch.clamp(values, old_t - VALUE_CLIP, old_t + VALUE_CLIP)
    vf_losses1 = torch.square(values - ret)
    vf_losses2 = torch.square(vpredclipped - ret)
    loss = 0.5 * masked_mean(torch.max(vf_losses1, vf_losses2), m)
    clipfrac = masked_mean((vf_losses2 > vf_losses1).double(), m)
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    norm, stepped = adamw_step(model)
    return dict(values=values.detach().numpy(), loss=float(loss), stats=[float(clipfrac)],
                grads=grads, norm=norm, stepped=stepped)


def compare_training(name, artifact, ref, inputs, weights, kinds, stat_names):
    """The loss, its statistics and gradients, then one step, vs torch."""
    grad_kind, step_kind = kinds
    (loss, *stats), grads = artifact.grad(grad_kind, inputs, weights, len(stat_names))
    assert set(grads) == set(ref["grads"]), set(grads) ^ set(ref["grads"])
    errors = {n: relative(grads[n], ref["grads"][n]) for n in grads}
    worst = max(errors, key=errors.get)
    stat_text = "; ".join(f"{s} {ours:.6f} vs {theirs:.6f}"
                          for s, ours, theirs in zip(stat_names, stats, ref["stats"]))
    print(f"{name} loss {loss:.6f} vs torch {ref['loss']:.6f}; {stat_text}; "
          f"{len(grads)} gradients, worst relative error {errors[worst]:.1e} ({worst})")
    ok = abs(loss - ref["loss"]) <= TOLERANCE * max(1.0, abs(ref["loss"]))
    ok &= all(abs(a - b) <= 1e-5 for a, b in zip(stats, ref["stats"]))
    ok &= errors[worst] <= TOLERANCE
    (step_loss, norm, *step_stats), stepped = artifact.step(step_kind, inputs, weights,
                                                            len(stat_names))
    step_error = max(relative(stepped[n], ref["stepped"][n]) for n in stepped)
    print(f"{name} one AdamW step: grad norm {norm:.5f} vs torch {ref['norm']:.5f}; "
          f"weights max relative error {step_error:.1e}")
    ok &= abs(norm - ref["norm"]) <= TOLERANCE * max(1.0, ref["norm"])
    ok &= step_error <= TOLERANCE and step_loss == loss and step_stats == stats
    return bool(ok)


def compile_ppo(bin_dir, config_path, model, out):
    subprocess.run([os.path.join(bin_dir, "llamac"), config_path, "--ppo", model,
                    "--batch", str(ROWS), "--seq", str(SEQ), "-O1", "-o", out], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac")
    parser.add_argument("--work", required=True, help="scratch directory")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    config = dict(BASE, num_key_value_heads=2, max_position_embeddings=SEQ + 1)
    config_path = os.path.join(args.work, "config.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    rng = np.random.default_rng(7)
    tokens, mask = rollout(rng, config["vocab_size"])
    params = np.array([TEMPERATURE, CLIP, VALUE_CLIP], np.float32)
    ok = True

    # The policy.
    compile_ppo(args.bin, config_path, "policy", os.path.join(args.work, "policy.so"))
    policy = PPOArtifact(os.path.join(args.work, "policy.so"),
                         ["logprobs", "policy_grad", "policy_step"])
    weights = random_weights(Config(config), seed=3)
    lp = np.zeros((ROWS, SEQ), np.float32)
    entropy = np.zeros((ROWS, SEQ), np.float32)
    policy.run("logprobs", [tokens, params], weights, [lp, entropy])
    # The sampling policy's log-probabilities, a little off the current ones
    # so that the ratio leaves [1 - clip, 1 + clip] at some positions.
    old = (lp + rng.normal(0, 0.08, lp.shape)).astype(np.float32)
    advantages = rng.normal(0, 1, lp.shape).astype(np.float32)
    ref = policy_reference(config, weights, tokens, mask, old, advantages)
    errors = [relative(lp, ref["lp"]), relative(entropy, ref["entropy"])]
    print(f"policy: log-probabilities at T = {TEMPERATURE} vs LlamaForCausalLM float64 "
          f"max error {errors[0]:.1e}; entropy {errors[1]:.1e}")
    ok &= max(errors) <= TOLERANCE
    ok &= 0 < ref["stats"][0] < 1  # both branches taken
    ok &= compare_training("policy:", policy, ref, [tokens, mask, params, old, advantages],
                           weights, ("policy_grad", "policy_step"),
                           ["clip fraction", "approx KL"])

    # The value model: a reward model's weights (score.weight, no lm_head).
    compile_ppo(args.bin, config_path, "value", os.path.join(args.work, "value.so"))
    value = PPOArtifact(os.path.join(args.work, "value.so"),
                        ["values", "value_grad", "value_step"])
    weights.pop("lm_head.weight", None)
    weights["score.weight"] = np.random.default_rng(4).normal(
        0, 0.5, (1, config["hidden_size"])).astype(np.float32)
    values = np.zeros((ROWS, SEQ), np.float32)
    value.run("values", [tokens], weights, [values])
    old_values = (values + rng.normal(0, 0.1, values.shape)).astype(np.float32)
    returns = (values + rng.normal(0, 1, values.shape)).astype(np.float32)
    ref = value_reference(config, weights, tokens, mask, old_values, returns)
    error = relative(values, ref["values"])
    print(f"value: values vs LlamaForSequenceClassification's head at every position "
          f"float64 max error {error:.1e}")
    ok &= error <= TOLERANCE
    ok &= 0 < ref["stats"][0] < 1
    ok &= compare_training("value:", value, ref, [tokens, mask, params, old_values, returns],
                           weights, ("value_grad", "value_step"), ["clip fraction"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
