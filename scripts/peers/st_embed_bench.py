#!/usr/bin/env python3
"""Times sentence-transformers (PyTorch, CPU, fp32) embedding every line of a file.

Usage: st_embed_bench.py MODEL_DIR FILE THREADS BATCH  -> prints one JSON line
Run inside the venv scripts/peers/st_parity.py creates (~/.cache/tenure-bench/st-venv).
"""
import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model_dir, path, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
with open(path, encoding="utf-8") as f:
    lines = [line.rstrip("\n") for line in f]
model = SentenceTransformer(model_dir, device="cpu")
model.encode(lines[:64], batch_size=batch)  # warm-up, as tenure's load is not timed either
t0 = time.perf_counter()
emb = model.encode(lines, batch_size=batch, convert_to_numpy=True, normalize_embeddings=True)
dt = time.perf_counter() - t0
print(json.dumps({"peer": "sentence-transformers", "torch": torch.__version__, "threads": threads,
                  "batch": batch, "sentences": len(lines), "seconds": round(dt, 3),
                  "per_second": round(len(lines) / dt, 1), "dim": int(emb.shape[1])}))
