#!/usr/bin/env python3
"""The data side of the alignment demo (examples/alignment/run.sh): the
corpus, the prompts, the preference oracle, the rated pairs and the numbers.

    demo.py corpus FORTUNES_DIR WORK   fortunes -> WORK/corpus.txt, WORK/*prompts.jsonl
    demo.py pairs SAMPLES.jsonl WORK      rated pairs from 2 samples per prompt
                                          -> WORK/pairs-{train,heldout}.jsonl
    demo.py rm-accuracy PAIRS.jsonl SCORES.jsonl   accuracy per rating
    demo.py best-of-k SAMPLES.jsonl [RS_SAMPLES.jsonl]   oracle of the reward model's pick
    demo.py optimum SAMPLES.jsonl BETA...   the KL-regularised optimum, from many
                                          samples per prompt -> optimum.json beside them
    demo.py ppo-report RUN_DIR [OPTIMUM.json BETA]   oracle, reward-model score and KL
                                          at each evaluation of a llama-ppo run

The oracle is known to the script, never to the models: the number of
distinct words of ORACLE_WORDS in a response. Needs only the standard
library.
"""
import collections
import csv
import json
import os
import random
import re
import sys

# Common words of the corpus; a response scores one point for each it uses.
ORACLE_WORDS = {"love", "life", "time", "good", "never", "people", "world",
                "work", "nothing", "always", "think", "know", "like", "make",
                "want", "little", "better", "first", "right", "long"}
# Fortune files of plain prose (no ASCII art, no offensive sets).
FORTUNE_FILES = ["fortunes", "wisdom", "literature", "people", "love", "men-women",
                 "work", "education", "platitudes", "humorists", "miscellaneous",
                 "cookie", "politics", "science", "food", "pets", "computers"]
# The four Llama 2 ratings by the oracle's difference (3 or more, 2, 1, 0).
RATINGS = ["negligibly better", "slightly better", "better", "significantly better"]
KS = [1, 2, 4, 8, 16]


def oracle(text):
    return len(ORACLE_WORDS & set(re.findall(r"[a-z]+", text.lower())))


def corpus(fortunes_dir, work):
    """Each short ASCII fortune, whitespace collapsed, as a paragraph; the
    prompts are the first two words of fortunes, split into the reward
    model's pairs, rejection sampling's prompts and held-out ones."""
    texts = []
    for name in FORTUNE_FILES:
        with open(os.path.join(fortunes_dir, name), encoding="utf-8", errors="replace") as f:
            for fortune in f.read().split("\n%\n"):
                text = " ".join(fortune.split())
                if 20 < len(text) <= 300 and all(32 <= ord(c) < 127 for c in text):
                    texts.append(text)
    random.Random(0).shuffle(texts)
    with open(os.path.join(work, "corpus.txt"), "w") as f:
        f.write("\n\n".join(texts) + "\n")
    prompts = sorted({" ".join(t.split()[:2]) for t in texts if len(t.split()) > 4})
    random.Random(1).shuffle(prompts)
    splits = {"pair": prompts[:1500], "rs": prompts[1500:2012], "heldout": prompts[2012:2140]}
    for name, chosen in splits.items():
        with open(os.path.join(work, f"{name}-prompts.jsonl"), "w") as f:
            for prompt in chosen:
                f.write(json.dumps({"prompt": prompt}) + "\n")
    print(f"{len(texts)} fortunes, {sum(map(len, texts))} characters; prompts: "
          + ", ".join(f"{len(v)} {k}" for k, v in splits.items()))


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_prompt(samples):
    groups = collections.OrderedDict()
    for s in samples:
        groups.setdefault(s["prompt"], []).append(s)
    return groups


def pairs(samples_path, work):
    """Samples 0 and 1, 2 and 3, ... of each prompt become pairs rated by the
    oracle's difference; a tie is "negligibly better" with a random winner,
    as annotators who cannot tell must still pick one. 10 % are held out."""
    rng = random.Random(2)
    rated = []
    for prompt, group in by_prompt(load(samples_path)).items():
        for a, b in zip(group[0::2], group[1::2]):
            if not a["response"].strip() or not b["response"].strip():
                continue
            ra, rb = oracle(a["response"]), oracle(b["response"])
            if ra < rb or (ra == rb and rng.random() < 0.5):
                a, b = b, a
            rated.append({"prompt": prompt, "chosen": a["response"],
                          "rejected": b["response"], "rating": RATINGS[min(abs(ra - rb), 3)]})
    rng.shuffle(rated)
    held = len(rated) // 10
    for name, chosen in (("heldout", rated[:held]), ("train", rated[held:])):
        with open(os.path.join(work, f"pairs-{name}.jsonl"), "w") as f:
            for pair in chosen:
                f.write(json.dumps(pair) + "\n")
    counts = collections.Counter(p["rating"] for p in rated)
    print(f"{len(rated)} pairs ({held} held out): "
          + ", ".join(f"{counts[r]} {r}" for r in reversed(RATINGS)))


def rm_accuracy(pairs_path, scores_path):
    """How often the reward model scores the chosen response higher, per
    rating and over the pairs the oracle tells apart."""
    right, total = collections.Counter(), collections.Counter()
    for pair, score in zip(load(pairs_path), load(scores_path)):
        total[pair["rating"]] += 1
        right[pair["rating"]] += score["chosen"] > score["rejected"]
    differ = [r for r in RATINGS[1:]]
    accuracy = sum(right[r] for r in differ) / max(1, sum(total[r] for r in differ))
    print(f"reward model held-out accuracy on pairs that differ: {accuracy:.3f} "
          f"({sum(total[r] for r in differ)} pairs); by rating: "
          + ", ".join(f"{r} {right[r] / total[r]:.3f} ({total[r]})"
                      for r in reversed(RATINGS) if total[r]))
    with open(os.path.splitext(scores_path)[0] + "-accuracy.dat", "w") as f:
        f.write("# rating accuracy pairs\n")
        for r in reversed(RATINGS):
            if total[r]:
                label = r.replace("significantly", "signif.").replace("negligibly", "neglig.")
                f.write(f'"{label} ({total[r]})" {right[r] / total[r]:.4f} {total[r]}\n')


def best_of_k(samples_path, rs_samples_path=None):
    """For K in KS: the mean oracle score of the reward model's pick among
    each held-out prompt's first K samples, next to a random pick (the mean)
    and the oracle's own pick (the ceiling); and the rejection-sampled
    policy's mean at K = 1."""
    groups = list(by_prompt(load(samples_path)).values())
    rows = []
    print("K   RM pick  random  oracle pick  (mean oracle score over "
          f"{len(groups)} held-out prompts)")
    for k in KS:
        picked = [max(g[:k], key=lambda s: s["reward"]) for g in groups]
        rm = sum(oracle(s["response"]) for s in picked) / len(groups)
        rand = sum(oracle(s["response"]) for g in groups for s in g[:k]) / (k * len(groups))
        best = sum(max(oracle(s["response"]) for s in g[:k]) for g in groups) / len(groups)
        rows.append((k, rm, rand, best))
        print(f"{k:<3} {rm:7.3f}  {rand:6.3f}  {best:11.3f}")
    with open(os.path.splitext(samples_path)[0] + "-best-of-k.dat", "w") as f:
        f.write("# K rm_pick random oracle_pick\n")
        for row in rows:
            f.write(" ".join(f"{v:g}" for v in row) + "\n")
    if rs_samples_path:
        # Both policies' K = 1 score: the mean over all their samples.
        def mean_oracle(samples):
            return sum(oracle(s["response"]) for s in samples) / len(samples)
        before = mean_oracle([s for g in groups for s in g])
        after = mean_oracle(load(rs_samples_path))
        print(f"rejection-sampling fine-tuned policy at K = 1: mean oracle {after:.3f} "
              f"vs {before:.3f} before ({after - before:+.3f})")


def optimum(samples_path, *betas):
    """The optimum of E[R] - beta KL(pi || pi0) is pi* ~ pi0 exp(R / beta);
    reweighting N samples of pi0 per prompt by w ~ exp(R / beta) estimates
    its oracle score sum(w r*), its reward sum(w R) and its KL sum(w log(N
    w)), averaged over the prompts. An estimate is only as good as its
    effective sample size 1 / sum(w^2), reported as its median over prompts."""
    import math
    groups = list(by_prompt(load(samples_path)).values())
    n = len(groups[0])
    result = {"pi0": {"oracle": sum(oracle(s["response"]) for g in groups for s in g) / (n * len(groups)),
                      "score": sum(s["reward"] for g in groups for s in g) / (n * len(groups))}}
    print(f"pi0: mean oracle {result['pi0']['oracle']:.3f}, mean reward-model score "
          f"{result['pi0']['score']:.3f} ({len(groups)} prompts x {n} samples)")
    for beta in map(float, betas):
        oracle_sum = score_sum = kl_sum = 0.0
        sizes = []
        for g in groups:
            top = max(s["reward"] for s in g)
            w = [math.exp((s["reward"] - top) / beta) for s in g]
            total = sum(w)
            w = [x / total for x in w]
            oracle_sum += sum(x * oracle(s["response"]) for x, s in zip(w, g))
            score_sum += sum(x * s["reward"] for x, s in zip(w, g))
            kl_sum += sum(x * math.log(len(g) * x) for x in w if x > 0)
            sizes.append(1 / sum(x * x for x in w))
        sizes.sort()
        entry = {"oracle": oracle_sum / len(groups), "score": score_sum / len(groups),
                 "kl": kl_sum / len(groups), "ess": sizes[len(sizes) // 2]}
        result[str(beta)] = entry
        print(f"beta {beta:g}: optimum oracle {entry['oracle']:.3f} (gain "
              f"{entry['oracle'] - result['pi0']['oracle']:+.3f}), score {entry['score']:.3f}, "
              f"KL {entry['kl']:.3f}; median effective sample size {entry['ess']:.0f}")
    with open(os.path.join(os.path.dirname(samples_path) or ".", "optimum.json"), "w") as f:
        json.dump(result, f, indent=1)


def ppo_report(run_dir, optimum_path=None, beta=None):
    """The held-out samples of each evaluation of a llama-ppo run judged by
    the oracle, next to the reward model's score and the KL to the initial
    policy; with the optimum, the share of its oracle gain reached."""
    evals = sorted((int(name[5:-6]), os.path.join(run_dir, name))
                   for name in os.listdir(run_dir) if re.fullmatch(r"eval-\d+\.jsonl", name))
    rows = []
    print(f"{run_dir}: iteration  oracle  RM score  KL   (held-out samples)")
    for iteration, path in evals:
        samples = load(path)
        rows.append((iteration,
                     sum(oracle(s["response"]) for s in samples) / len(samples),
                     sum(s["score"] for s in samples) / len(samples),
                     sum(s["kl"] for s in samples) / len(samples)))
        print("  {:9d}  {:6.3f}  {:8.3f}  {:6.3f}".format(*rows[-1]))
    with open(os.path.join(run_dir, "eval.dat"), "w") as f:
        f.write("# iteration oracle score kl\n")
        for row in rows:
            f.write(" ".join(f"{v:g}" for v in row) + "\n")
    if optimum_path:
        with open(optimum_path) as f:
            opt = json.load(f)
        # Both gains from pi0's mean over all its samples (the first
        # evaluation has only a few hundred).
        target = opt[str(float(beta))]
        gain = rows[-1][1] - opt["pi0"]["oracle"]
        best = target["oracle"] - opt["pi0"]["oracle"]
        print(f"oracle gain {gain:+.3f} = {gain / best:.2f} of the optimum's {best:+.3f}; "
              f"KL {rows[-1][3]:.3f} = {rows[-1][3] / target['kl']:.2f} x the optimum's "
              f"{target['kl']:.3f}")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"corpus": corpus, "pairs": pairs, "rm-accuracy": rm_accuracy,
     "best-of-k": best_of_k, "optimum": optimum, "ppo-report": ppo_report}[command](*args)
