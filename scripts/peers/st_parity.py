#!/usr/bin/env python3
"""Parity of `tenure embed` with sentence-transformers (PyTorch, CPU, fp32) on the same model folder.

Usage:
  python3 scripts/peers/st_parity.py --model-dir DIR [--tenure "CMD"] [--sentences FILE] [--out FILE]

Creates (once) a throwaway venv at ~/.cache/tenure-bench/st-venv with torch and sentence-transformers
from PyPI, re-runs itself inside it, embeds every line of --sentences with both, and reports the cosine
between the two vectors of each sentence. The bar is cosine >= 0.9999 for every sentence; the exit
code is 1 when any sentence misses it. --tenure is the command prefix that runs the tenure binary
(default: target/debug/tenure under $CARGO_TARGET_DIR or ~/.cache/tenure-target).
"""
import argparse
import json
import os
import subprocess
import sys
import time

VENV = os.path.expanduser("~/.cache/tenure-bench/st-venv")
BAR = 0.9999


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        pip = [py, "-m", "pip", "install", "-q"]
        # Only PyPI is reachable here: its torch wheel is the CUDA build, large but it runs on CPU.
        subprocess.check_call(pip + ["torch"])
        subprocess.check_call(pip + ["sentence-transformers"])
    os.execv(py, [py] + sys.argv)


def default_tenure():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/tenure-target"))
    return os.path.join(target, "debug", "tenure")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--tenure", default=None)
    ap.add_argument("--sentences", default="docs/parity/sentences.txt")
    ap.add_argument("--out", default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ensure_venv()

    import numpy as np
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    with open(args.sentences, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f]

    model = SentenceTransformer(args.model_dir, device="cpu")
    t0 = time.perf_counter()
    ref = model.encode(sentences, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    st_s = time.perf_counter() - t0

    cmd = (args.tenure or default_tenure()).split() + [
        "embed", "--model-dir", args.model_dir, "--file", args.sentences, "--json",
    ]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    tenure_s = time.perf_counter() - t0
    got = json.loads(out)
    ours = np.asarray(got["embeddings"], dtype=np.float64)
    ref = ref.astype(np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    cos = (ours * ref).sum(axis=1)
    worst = int(np.argmin(cos))
    report = {
        "model_dir": os.path.basename(os.path.normpath(args.model_dir)),
        "tenure_model": got.get("model"),
        "sentences": len(sentences),
        "dim": int(ref.shape[1]),
        "max_seq_length": model.max_seq_length,
        "bar": BAR,
        "passed": int((cos >= BAR).sum()),
        "min_cosine": float(cos.min()),
        "mean_cosine": float(cos.mean()),
        "max_abs_diff": float(np.abs(ours - ref).max()),
        "worst_sentence": sentences[worst],
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "st_seconds": round(st_s, 3),
        "tenure_seconds_incl_load": round(tenure_s, 3),
        "cosines": [round(float(c), 8) for c in cos],
    }
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    summary = {k: v for k, v in report.items() if k != "cosines"}
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    sys.exit(0 if report["passed"] == len(sentences) else 1)


if __name__ == "__main__":
    main()
