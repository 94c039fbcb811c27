#!/usr/bin/env python3
"""PyTorch peer for tenure's sentiment quality bar: fine-tune the same encoder with Hugging Face
transformers on exactly the same train/validation/test split, and report test accuracy and macro-F1.

Usage:
  python3 scripts/peers/hf_finetune_sentiment.py --model-dir DIR --split DIR [--max-steps N]
      [--batch-size 32] [--lr 5e-5] [--max-length 128] [--eval-every 50] [--threads 2] [--out FILE]

--split is a folder with train.tsv, valid.tsv and test.tsv (`label<TAB>text`, a header line), as
written by `tenure train sentiment --split-out DIR` or the crate's `sentiment_eval` example, so both
sides see the same deduplicated, seeded split. The model is the one tenure uses: BertModel from the
same folder (config.json, model.safetensors, tokenizer.json), mean pooling over the attention mask,
one linear layer, cross-entropy, AdamW, every weight trained (full fine-tuning), transformers'
default dropout 0.1. The checkpoint with the lowest validation loss (evaluated every --eval-every
steps) is the one tested. On a CPU, --max-steps caps the run below one epoch; the output says how
many steps and examples it saw.

Creates (once) a throwaway venv at ~/.cache/tenure-bench/st-venv (torch, transformers,
scikit-learn from PyPI; shared with scripts/peers/st_parity.py) and re-runs itself inside it.
"""
import argparse
import json
import os
import subprocess
import sys
import time

VENV = os.path.expanduser("~/.cache/tenure-bench/st-venv")


def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        pip = [py, "-m", "pip", "install", "-q"]
        subprocess.check_call(pip + ["torch"])
        subprocess.check_call(pip + ["sentence-transformers"])
    probe = subprocess.run([py, "-c", "import sklearn, transformers"], capture_output=True)
    if probe.returncode != 0:
        subprocess.check_call([py, "-m", "pip", "install", "-q", "scikit-learn", "transformers"])
    os.execv(py, [py] + sys.argv)


def read_tsv(path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            label, text = line.rstrip("\n").split("\t", 1)
            labels.append(label)
            texts.append(text)
    return labels, texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--split", required=True)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    ensure_venv()

    import numpy as np
    import torch
    import transformers
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    tr_l, tr_t = read_tsv(os.path.join(args.split, "train.tsv"))
    va_l, va_t = read_tsv(os.path.join(args.split, "valid.tsv"))
    te_l, te_t = read_tsv(os.path.join(args.split, "test.tsv"))
    classes = sorted(set(tr_l) | set(va_l) | set(te_l))
    idx = {c: i for i, c in enumerate(classes)}
    ytr = np.array([idx[c] for c in tr_l])
    yva = np.array([idx[c] for c in va_l])
    yte = np.array([idx[c] for c in te_l])

    tok = AutoTokenizer.from_pretrained(args.model_dir)
    enc = AutoModel.from_pretrained(args.model_dir, add_pooling_layer=False)
    head = torch.nn.Linear(enc.config.hidden_size, len(classes))
    params = list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)

    def logits(texts):
        b = tok(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
        h = enc(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
        m = b["attention_mask"].unsqueeze(-1).float()
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return head(pooled)

    def predict(texts, y=None):
        enc.eval()
        out, loss = [], 0.0
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for s in range(0, len(order), 64):
                ids = order[s:s + 64]
                z = logits([texts[i] for i in ids])
                if y is not None:
                    loss += torch.nn.functional.cross_entropy(z, torch.tensor(y[ids]), reduction="sum").item()
                out.extend(zip(ids, z.softmax(-1).numpy()))
        enc.train()
        p = np.zeros((len(texts), len(classes)))
        for i, row in out:
            p[i] = row
        return p, loss / max(len(texts), 1)

    t0 = time.time()
    steps, history, best = 0, [], (float("inf"), None)
    enc.train()
    done = False
    for _ in range(args.epochs):
        order = rng.permutation(len(tr_t))
        for s in range(0, len(order), args.batch_size):
            ids = order[s:s + args.batch_size]
            z = logits([tr_t[i] for i in ids])
            loss = torch.nn.functional.cross_entropy(z, torch.tensor(ytr[ids]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            last = args.max_steps is not None and steps >= args.max_steps
            if steps % args.eval_every == 0 or last:
                _, vl = predict(va_t, yva)
                history.append({"step": steps, "train_loss": loss.item(), "valid_loss": vl})
                print(f"step {steps}: train {loss.item():.4f} valid {vl:.4f} ({time.time() - t0:.0f}s)", file=sys.stderr)
                if vl < best[0]:
                    best = (vl, ({k: v.clone() for k, v in enc.state_dict().items()},
                                 {k: v.clone() for k, v in head.state_dict().items()}))
            if last:
                done = True
                break
        if done:
            break
    if best[1] is not None:
        enc.load_state_dict(best[1][0])
        head.load_state_dict(best[1][1])
    train_s = time.time() - t0
    p, _ = predict(te_t)
    pred = p.argmax(1)
    res = {
        "peer": "transformers full fine-tuning (BertModel + mean pooling + linear, AdamW, dropout 0.1)",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "device": "cpu", "threads": args.threads,
        "model_dir": args.model_dir, "split": args.split,
        "train": len(tr_t), "valid": len(va_t), "test": len(te_t),
        "steps": steps, "examples_seen": steps * args.batch_size, "batch_size": args.batch_size,
        "lr": args.lr, "max_length": args.max_length, "train_seconds": train_s,
        "test_accuracy": accuracy_score(yte, pred), "test_macro_f1": f1_score(yte, pred, average="macro"),
        "history": history,
    }
    text = json.dumps(res, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
