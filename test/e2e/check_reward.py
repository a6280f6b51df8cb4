#!/usr/bin/env python3
"""Checks the compiled reward model (llamac --reward --train) on one fixed
batch of 4 preference pairs of uneven lengths, right-padded, with the Llama 2
"small" margins 1, 2/3, 1/3, 0, against float64 torch:

- the 8 rewards against transformers' LlamaForSequenceClassification
  (num_labels 1; it reads the score before the first pad token);
- the ranking loss and every parameter gradient against autograd of TRL's
  RewardTrainer.compute_loss restated (trl/trainer/reward_trainer.py:
  -logsigmoid(r_c - r_r - margin).mean() + c * mean((r_c + r_r)^2)), without
  and with centering (c = 0.01);
- one clipped AdamW step (torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW);
- and that what lies after a sequence's last token (its padding) and the
  other rows of the batch change none of its numbers, bit for bit.

    check_reward.py --bin BUILD/bin --work DIR
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

PAIRS, SEQ, PAD = 4, 12, 0
MARGINS = np.array([1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0], np.float32)
# Real tokens per row: the chosen responses, then the rejected ones.
LENGTHS = [12, 5, 9, 1, 7, 12, 3, 10]
TOLERANCE = 1e-4  # max |ours - torch| / max(1, max |torch|)
LR = 1e-2


def relative(ours, ref):
    return float(np.abs(ours - ref).max() / max(1.0, np.abs(ref).max()))


class RewardArtifact:
    """The entry points of a compiled reward model."""

    def __init__(self, path):
        self.lib, manifest = load_artifact(path)
        self.names = [w["name"] for w in manifest["weights"]]
        self.shapes = {w["name"]: w["shape"] for w in manifest["weights"]}
        kinds = {e["kind"]: e for e in manifest["entry_points"]}
        assert {"score", "reward_grad", "reward_step"} <= set(kinds), kinds
        assert kinds["score"]["batch"] == 2 * PAIRS and kinds["score"]["seq"] == SEQ

    @staticmethod
    def _ptr(array):
        return array.ctypes.data_as(ctypes.c_void_p)

    def score(self, weights, tokens, ends):
        rewards = np.zeros(2 * PAIRS, np.float32)
        self.lib.llama_score(self._ptr(tokens), self._ptr(ends),
                             pointer_array(weights, self.names), self._ptr(rewards))
        return rewards

    def grad(self, weights, tokens, ends, margins):
        grads = {n: np.zeros(self.shapes[n], np.float32) for n in self.names}
        loss = np.zeros((), np.float32)
        self.lib.llama_reward_loss_grad(
            self._ptr(tokens), self._ptr(ends), self._ptr(margins),
            pointer_array(weights, self.names), pointer_array(grads, self.names),
            self._ptr(loss))
        return float(loss), grads

    def step(self, weights, tokens, ends, margins, lr, step):
        """One optimizer step; returns (loss, grad norm, new weights)."""
        params = {n: weights[n].copy() for n in self.names}
        m = {n: np.zeros_like(params[n]) for n in self.names}
        v = {n: np.zeros_like(params[n]) for n in self.names}
        step_params = np.array([lr, step], np.float32)
        loss, norm = np.zeros((), np.float32), np.zeros((), np.float32)
        self.lib.llama_train_step(
            self._ptr(tokens), self._ptr(ends), self._ptr(margins), self._ptr(step_params),
            pointer_array(params, self.names), pointer_array(m, self.names),
            pointer_array(v, self.names), self._ptr(loss), self._ptr(norm))
        return float(loss), float(norm), params


def torch_model(config, weights):
    hf = transformers.LlamaConfig(**{k: v for k, v in config.items()
                                     if k not in ("architectures", "torch_dtype")},
                                  num_labels=1, pad_token_id=PAD)
    model = transformers.LlamaForSequenceClassification(hf).eval()
    state = {n: torch.from_numpy(np.array(w)) for n, w in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all("rotary_emb" in m for m in missing), missing
    return model.to(torch.float64)


def ranking_loss(rewards, margins, center):
    """TRL RewardTrainer.compute_loss with a margin column and
    center_rewards_coefficient, restated."""
    chosen, rejected = rewards[:PAIRS], rewards[PAIRS:]
    loss = -torch.nn.functional.logsigmoid(chosen - rejected - margins).mean()
    if center:
        loss = loss + center * torch.mean((chosen + rejected) ** 2)
    return loss


def torch_reference(config, weights, tokens, margins, center):
    """(rewards, loss, gradients, grad norm, weights after one step)."""
    model = torch_model(config, weights)
    rewards = model(torch.from_numpy(tokens.astype(np.int64))).logits[:, 0]
    loss = ranking_loss(rewards, torch.from_numpy(margins).double(), center)
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    norm = clipped_step(model, llama2_adamw(model, LR))
    stepped = {n: p.detach().numpy() for n, p in model.named_parameters()}
    return rewards.detach().numpy(), float(loss), grads, norm, stepped


def make_batch(rng, vocab):
    """Right-padded rows of LENGTHS real tokens (ids 3.. so none is PAD)."""
    tokens = np.full((2 * PAIRS, SEQ), PAD, np.int32)
    for row, length in enumerate(LENGTHS):
        tokens[row, :length] = rng.integers(3, vocab, length)
    ends = np.array([length - 1 for length in LENGTHS], np.int32)
    return tokens, ends


def compile_reward(bin_dir, config_path, out, center):
    cmd = [os.path.join(bin_dir, "llamac"), config_path, "--reward", "--train",
           "--batch", str(PAIRS), "--seq", str(SEQ), "-O1", "-o", out]
    if center:
        cmd += ["--reward-centering", str(center)]
    subprocess.run(cmd, check=True)
    return RewardArtifact(out)


def check(args, config, weights, center):
    artifact = compile_reward(args.bin, os.path.join(args.work, "config.json"),
                              os.path.join(args.work, f"reward-{center}.so"), center)
    rng = np.random.default_rng(5)
    tokens, ends = make_batch(rng, config["vocab_size"])
    ref_rewards, ref_loss, ref_grads, ref_norm, ref_stepped = torch_reference(
        config, weights, tokens, MARGINS, center)
    name = f"center {center}"
    ok = True

    rewards = artifact.score(weights, tokens, ends)
    error = relative(rewards, ref_rewards)
    print(f"{name}: rewards {' '.join(f'{r:.4f}' for r in rewards)}; vs LlamaForSequenceClassification "
          f"float64 max error {error:.1e}")
    ok &= error <= TOLERANCE

    loss, grads = artifact.grad(weights, tokens, ends, MARGINS)
    assert set(grads) == set(ref_grads), set(grads) ^ set(ref_grads)
    errors = {n: relative(grads[n], ref_grads[n]) for n in grads}
    worst = max(errors, key=errors.get)
    print(f"{name}: loss {loss:.6f} vs torch {ref_loss:.6f}; {len(grads)} gradients, "
          f"worst relative error {errors[worst]:.1e} ({worst})")
    ok &= abs(loss - ref_loss) <= 1e-5 and errors[worst] <= TOLERANCE

    step_loss, norm, stepped = artifact.step(weights, tokens, ends, MARGINS, LR, 1)
    step_error = max(relative(stepped[n], ref_stepped[n]) for n in stepped)
    print(f"{name}: one AdamW step: grad norm {norm:.5f} vs torch {ref_norm:.5f}; "
          f"weights max relative error {step_error:.1e}")
    ok &= abs(norm - ref_norm) <= 1e-4 * max(1.0, ref_norm) and step_error <= TOLERANCE
    ok &= step_loss == loss

    # Padding and the other rows: replace every pad token by a random real one
    # and shuffle which pairs share the batch with pair 0; pair 0's rewards,
    # and the loss and gradients of the repadded batch, do not move at all.
    repadded = tokens.copy()
    pad = np.arange(SEQ)[None, :] > ends[:, None]
    repadded[pad] = rng.integers(3, config["vocab_size"], int(pad.sum()))
    same_pad = np.array_equal(artifact.score(weights, repadded, ends), rewards)
    loss2, grads2 = artifact.grad(weights, repadded, ends, MARGINS)
    same_pad &= loss2 == loss and all(np.array_equal(grads2[n], grads[n]) for n in grads)
    others = make_batch(np.random.default_rng(11), config["vocab_size"])
    mixed_tokens, mixed_ends = others[0].copy(), others[1].copy()
    for row in (0, PAIRS):
        mixed_tokens[row], mixed_ends[row] = tokens[row], ends[row]
    mixed = artifact.score(weights, mixed_tokens, mixed_ends)
    same_rows = mixed[0] == rewards[0] and mixed[PAIRS] == rewards[PAIRS]
    print(f"{name}: padding changes nothing: {bool(same_pad)}; "
          f"other rows change nothing: {bool(same_rows)}")
    return ok and same_pad and same_rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac")
    parser.add_argument("--work", required=True, help="scratch directory")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    config = dict(BASE, num_key_value_heads=2, max_position_embeddings=SEQ)
    with open(os.path.join(args.work, "config.json"), "w") as f:
        json.dump(config, f)
    weights = random_weights(Config(config), seed=3)
    weights.pop("lm_head.weight", None)
    # A score head large enough that the rewards spread over a few units.
    weights["score.weight"] = np.random.default_rng(4).normal(
        0, 0.5, (1, config["hidden_size"])).astype(np.float32)
    results = [check(args, config, weights, center) for center in (0.0, 0.01)]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
