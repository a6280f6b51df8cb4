#!/usr/bin/env python3
"""Checks one whole PPO iteration of llama-ppo against float64 torch: 4
prompts with 8-token responses whose EOS comes at response step 3, at 0, at
7 and never (replayed, so no sampling is involved), a random policy, a
reference a little apart from it, a random reward model and the value model started from it, temperature 0.7,
missing-EOS penalty 0.5, whitened scores and advantages. Restated from TRL's
PPOTrainer (trl/trainer/ppo_trainer.py 1.12) with the score on each
response's last token:

- per-token log-probabilities of the policy and the reference
  (LlamaForCausalLM), values (LlamaForSequenceClassification's head at every
  position), reward-model scores at the last token;
- the KL penalty (k1 or k3), the per-token rewards, GAE advantages before and
  after whitening (Bessel-corrected, as masked_whiten) and the returns;
- then 2 epochs x 2 mini-batches in the dumped order, one clipped AdamW step
  of each model per mini-batch on TRL's clipped losses (clip range 0.05, so
  that clipping fires): the final weights of the policy and the value model.

    check_ppo.py --bin BUILD/bin --src SOURCE_DIR --work DIR --kl k1|k3
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import load_file

from llama2_optimizer import clipped_step, llama2_adamw

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
from llama_weights import Config, random_weights, write_safetensors  # noqa: E402

PROMPTS = ["Once upon a time", "The little dog", "She said", "One day, Tom"]
RESPONSE, EOS = 8, 2
EOS_AT = [3, 0, 7, None]
SEQ = 31  # positions: prompt + response fit in SEQ + 1 tokens
BLOCK, EPOCHS = 2, 2
TEMPERATURE, BETA, CLIP, VALUE_CLIP, PENALTY = 0.7, 0.1, 0.05, 0.05, 0.5
GAMMA, LAMBDA, LR = 1.0, 0.95, 2e-3
TOLERANCE = 1e-4  # max |ours - torch| / max(1, max |torch|)


def relative(ours, ref):
    return float(np.abs(ours - ref).max() / max(1.0, np.abs(ref).max()))


def hf_model(cls, config, weights, **extra):
    hf = transformers.LlamaConfig(**{k: v for k, v in config.items()
                                     if k not in ("architectures", "torch_dtype")}, **extra)
    model = cls(hf).eval()
    state = {n: torch.from_numpy(np.array(w)) for n, w in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all("rotary_emb" in m or m == "lm_head.weight" for m in missing), missing
    return model.to(torch.float64)


def logprobs(model, ids):
    logits = model(ids).logits[:, :-1] / TEMPERATURE
    return torch.gather(torch.log_softmax(logits, -1), 2, ids[:, 1:, None])[..., 0]


def values(model, ids):
    return model.score(model.model(ids).last_hidden_state)[:, :-1, 0]


def masked_whiten(x, mask):
    """TRL's masked_whiten (shift_mean=True): Bessel-corrected variance."""
    mean = (x * mask).sum() / mask.sum()
    var = ((x - mean) ** 2 * mask).sum() / mask.sum() * mask.sum() / (mask.sum() - 1)
    return (x - mean) * torch.rsqrt(var + 1e-8)


def reference_rollout(policy, ref, value, rm, ids, mask, eos, kl_estimator):
    """Everything before the update, in float64."""
    with torch.no_grad():
        lp, ref_lp, v = logprobs(policy, ids), logprobs(ref, ids), values(value, ids)
        rows = ids.shape[0]
        last = mask.shape[1] - 1 - torch.argmax(torch.flip(mask, [1]), 1)  # last response position
        hidden = rm.model(ids).last_hidden_state
        scores = rm.score(hidden)[torch.arange(rows), last + 1, 0]  # at the last token
        shaped = scores - PENALTY * (~eos).double()
        shaped = (shaped - shaped.mean()) / torch.sqrt(shaped.var() + 1e-8)
        d = lp - ref_lp
        kl = (d if kl_estimator == "k1" else torch.expm1(-d) + d) * mask
        rewards = -BETA * kl
        rewards[torch.arange(rows), last] += shaped
        advantages = torch.zeros_like(rewards)
        for r in range(rows):
            running, next_value = 0.0, 0.0
            for t in range(int(last[r]), -1, -1):
                if mask[r, t] == 0:
                    break
                delta = rewards[r, t] + GAMMA * next_value - v[r, t]
                running = delta + GAMMA * LAMBDA * running
                advantages[r, t] = running
                next_value = v[r, t]
        returns = (advantages + v) * mask
        whitened = masked_whiten(advantages, mask) * mask
    return dict(logprobs=lp, ref_logprobs=ref_lp, values=v, scores=scores,
                shaped_scores=shaped, kl=kl, rewards=rewards, raw_advantages=advantages,
                advantages=whitened, returns=returns)


def reference_update(policy, value, ids, mask, rollout, order):
    """The epochs of mini-batch steps on TRL's clipped losses; returns the
    mean policy loss and clip fraction over the steps."""
    policy_opt, value_opt = llama2_adamw(policy, LR), llama2_adamw(value, LR)
    losses, clipped = [], []
    for epoch in range(EPOCHS):
        for start in range(0, ids.shape[0], BLOCK):
            rows = torch.from_numpy(order[epoch, start:start + BLOCK].astype(np.int64))
            m = mask[rows]
            ratio = torch.exp(logprobs(policy, ids[rows]) - rollout["logprobs"][rows])
            a = rollout["advantages"][rows]
            pg_losses, pg_losses2 = -a * ratio, -a * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)
            pg_loss = (torch.max(pg_losses, pg_losses2) * m).sum() / m.sum()
            losses.append(float(pg_loss))
            clipped.append(float(((pg_losses2 > pg_losses).double() * m).sum() / m.sum()))
            policy_opt.zero_grad()
            pg_loss.backward()
            clipped_step(policy, policy_opt)

            v, old_v = values(value, ids[rows]), rollout["values"][rows]
            ret = rollout["returns"][rows]
            v_clipped = torch.clamp(v, old_v - VALUE_CLIP, old_v + VALUE_CLIP)
            vf = 0.5 * (torch.max((v - ret) ** 2, (v_clipped - ret) ** 2) * m).sum() / m.sum()
            value_opt.zero_grad()
            vf.backward()
            clipped_step(value, value_opt)
    return float(np.mean(losses)), float(np.mean(clipped))


def compile_artifacts(bin_dir, config_path, work):
    llamac = os.path.join(bin_dir, "llamac")
    for flags, name in ((["--ppo", "policy", "--seq", str(SEQ)], "policy.so"),
                        (["--ppo", "value", "--seq", str(SEQ)], "value.so"),
                        (["--reward", "--seq", str(SEQ + 1)], "rm.so")):
        subprocess.run([llamac, config_path, *flags, "--batch", str(BLOCK), "-O1",
                        "-o", os.path.join(work, name)], check=True)


def write_inputs(work, config, tokenizer):
    """Random policy and reward-model checkpoints and the replayed responses."""
    policy = random_weights(Config(config), seed=21)
    os.makedirs(os.path.join(work, "policy"), exist_ok=True)
    write_safetensors(os.path.join(work, "policy", "model.safetensors"), policy)
    # The reference: the policy a little apart, so that the KL is not 0.
    noise = np.random.default_rng(25)
    reference = {n: (w + noise.normal(0, 0.02, w.shape)).astype(np.float32)
                 for n, w in policy.items()}
    os.makedirs(os.path.join(work, "reference"), exist_ok=True)
    write_safetensors(os.path.join(work, "reference", "model.safetensors"), reference)
    rm = random_weights(Config(config), seed=22)
    rm["score.weight"] = np.random.default_rng(23).normal(
        0, 1.0, (1, config["hidden_size"])).astype(np.float32)
    os.makedirs(os.path.join(work, "rm"), exist_ok=True)
    write_safetensors(os.path.join(work, "rm", "model.safetensors"), rm)
    rng = np.random.default_rng(24)
    responses = []
    with open(os.path.join(work, "replay.jsonl"), "w") as f:
        for prompt, eos in zip(PROMPTS, EOS_AT):
            ids = rng.integers(3, config["vocab_size"], RESPONSE).tolist()
            if eos is not None:
                ids = ids[:eos] + [EOS]
            responses.append(ids)
            f.write(json.dumps({"prompt": prompt, "response_ids": ids}) + "\n")
    return policy, reference, rm, responses


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, help="directory with llamac and llama-ppo")
    parser.add_argument("--src", required=True, help="the source tree (examples/tiny)")
    parser.add_argument("--work", required=True, help="scratch directory")
    parser.add_argument("--kl", choices=["k1", "k3"], required=True)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    tiny = os.path.join(args.src, "examples", "tiny")
    config_path = os.path.join(tiny, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    policy_w, ref_w, rm_w, responses = write_inputs(args.work, config, tiny)
    compile_artifacts(args.bin, config_path, args.work)
    out = os.path.join(args.work, "out")
    w = lambda name: os.path.join(args.work, name)  # noqa: E731
    subprocess.run([os.path.join(args.bin, "llama-ppo"), w("policy.so"), "--policy-weights",
                    w("policy"), "--ref-weights", w("reference"), "--value", w("value.so"), "--reward", w("rm.so"),
                    "--reward-weights", w("rm"), "--tokenizer",
                    os.path.join(tiny, "tokenizer.model"), "--replay", w("replay.jsonl"),
                    "--out", out, "--iterations", "1", "--epochs", str(EPOCHS),
                    "--beta", str(BETA), "--kl", args.kl, "--clip", str(CLIP),
                    "--value-clip", str(VALUE_CLIP), "--lr", str(LR),
                    "--temperature", str(TEMPERATURE), "--missing-eos-penalty",
                    str(PENALTY), "--seed", "5", "--dump-rollout", w("rollout.safetensors")],
                   check=True, stderr=subprocess.DEVNULL)
    dump = load_file(w("rollout.safetensors"))
    ids = torch.from_numpy(dump["tokens"].astype(np.int64))
    mask = torch.from_numpy(dump["mask"]).double()
    ok = True

    # The rollout is the replayed one: each response where it belongs.
    lengths = mask.sum(1).long().tolist()
    placed = all(ids[r, 1 + int(mask[r].argmax()):][:lengths[r]].tolist() == responses[r]
                 for r in range(len(responses)))
    print(f"{args.kl}: response lengths {lengths} (EOS at 3, 0, 7, none); in place: {placed}")
    ok &= placed and lengths == [4, 1, 8, 8]

    policy = hf_model(transformers.LlamaForCausalLM, config, policy_w)
    ref = hf_model(transformers.LlamaForCausalLM, config, ref_w)
    extra = dict(num_labels=1, pad_token_id=0)
    value = hf_model(transformers.LlamaForSequenceClassification, config, rm_w, **extra)
    rm = hf_model(transformers.LlamaForSequenceClassification, config, rm_w, **extra)
    eos = torch.tensor([e is not None for e in EOS_AT])
    rollout = reference_rollout(policy, ref, value, rm, ids, mask, eos, args.kl)
    errors = {name: relative(dump[name], rollout[name].numpy()) for name in rollout}
    worst = max(errors, key=errors.get)
    print(f"{args.kl}: mean KL per response {float(rollout['kl'].sum(1).mean()):.5f}")
    print(f"{args.kl}: {len(errors)} rollout tensors (log-probabilities, reference, values, "
          f"scores, KL, rewards, advantages before and after whitening, returns) vs float64: "
          f"worst relative error {errors[worst]:.1e} ({worst})")
    ok &= errors[worst] <= TOLERANCE

    loss, clip_fraction = reference_update(policy, value, ids, mask, rollout, dump["order"].astype(np.int64))
    with open(os.path.join(out, "ppo.csv")) as f:
        row = dict(zip(*[line.strip().split(",") for line in f][:2]))
    print(f"{args.kl}: 2 epochs x 2 mini-batches: mean policy loss {float(row['policy_loss']):.6f} "
          f"vs {loss:.6f}; clip fraction {float(row['clip_fraction']):.4f} vs {clip_fraction:.4f}")
    ok &= abs(float(row["policy_loss"]) - loss) <= TOLERANCE * max(1, abs(loss))
    ok &= abs(float(row["clip_fraction"]) - clip_fraction) <= 1e-6 and clip_fraction > 0
    for name, model in (("policy", policy), ("value", value)):
        ours = load_file(os.path.join(out, name, "model.safetensors"))
        theirs = {n: p.detach().numpy() for n, p in model.named_parameters()}
        errors = {n: relative(ours[n], theirs[n]) for n in theirs}
        worst = max(errors, key=errors.get)
        print(f"{args.kl}: {name} after 4 steps: {len(errors)} weights, worst relative error "
              f"{errors[worst]:.1e} ({worst})")
        ok &= errors[worst] <= TOLERANCE
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
