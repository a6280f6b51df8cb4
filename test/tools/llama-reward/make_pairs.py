#!/usr/bin/env python3
"""Synthetic preference pairs for the llama-reward tests: of two six-word
responses, the better one names more words of a fixed set; the difference
in counts (3+, 2, 1) gives the rating.

    make_pairs.py OUT.jsonl SEED COUNT
"""
import json
import random
import sys

GOOD = ["compiler", "model", "tests", "runtime", "fast"]
FILLER = ["the", "a", "of", "and", "is", "it", "to", "in", "we", "code", "loop", "one"]
RATINGS = {3: "significantly better", 2: "better", 1: "slightly better"}


def response(rng, good):
    words = rng.sample(GOOD, good) + rng.choices(FILLER, k=6 - good)
    rng.shuffle(words)
    return " ".join(words)


def main():
    out, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    with open(out, "w") as f:
        for _ in range(count):
            low, high = sorted(rng.sample(range(5), 2))
            f.write(json.dumps({"prompt": rng.choice(["The llama", "A compiler", "We test"]),
                                "chosen": response(rng, high), "rejected": response(rng, low),
                                "rating": RATINGS[min(high - low, 3)]}) + "\n")


if __name__ == "__main__":
    main()
