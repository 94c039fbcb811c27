#!/usr/bin/env python3
"""Peer for `tenure train churn` on CDNOW: scikit-learn's GradientBoostingClassifier on the same RFM
features, trained at the same earlier origin, tested on the same time split.

Setup (throwaway venv, not part of the build):
    python3 -m venv ~/.cache/tenure-bench/sk-venv
    ~/.cache/tenure-bench/sk-venv/bin/pip install scikit-learn==1.9.1 numpy
Run:
    ~/.cache/tenure-bench/sk-venv/bin/python scripts/peers/sklearn_churn.py [CDNOW_sample.txt]

The split is the engine's (crates/tenure-engine/src/risk.rs, `training_window`):
- evaluation origin as_of = 1997-09-30, labels from (as_of, as_of + 39 weeks] = (1997-09-30, 1998-06-30];
- training origin t0 = as_of - horizon = 1996-12-31 lies before the first order (1997-01-01), i.e. it
  would leave less than half of the history before as_of for the features, so t0 is the midpoint
  between the first order day and as_of: 1997-01-01 + 272 // 2 days = 1997-05-17; training labels
  come from (1997-05-17, 1997-09-30] (136 days) with the same definition.
Churn = no order in the label window. Customers = those with an order on or before the origin.

Features are the store's as-of columns (crates/tenure-store/src/features.rs), computed here from
the raw file: orders on or before the origin; purchases counted by distinct day; x = purchase days
- 1, t_x = days first -> last purchase day, T = days first purchase day -> origin, recency = days
last purchase day -> origin, monetary_mean = mean spend per repeat purchase day (0 when none: this
model cannot take NaN), orders, spend_total, avg_order_value = spend / orders, returns (none in CDNOW).
The BG/NBD columns tenure adds are left out: this peer is the RFM-only GBC of the issue's bar.
"""

import datetime as dt
import sys
from collections import defaultdict

import numpy as np
import sklearn
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score

COLUMNS = ["recency_days", "orders", "x", "t_x_days", "T_days", "spend_total",
           "avg_order_value", "monetary_mean", "returns"]


def load(path):
    by = defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 5:
                continue
            d = dt.date(int(parts[2][:4]), int(parts[2][4:6]), int(parts[2][6:8])).toordinal()
            by[parts[1]].append((d, float(parts[4])))
    return by


def origin(by, at, end):
    """Features as of `at` and churn labels from (at, end], for customers who bought by `at`."""
    at, end = at.toordinal(), end.toordinal()
    rows, labels = [], []
    for cid in sorted(by):
        past = [(d, a) for d, a in by[cid] if d <= at]
        buys = [(d, a) for d, a in past if a >= 0]
        if not buys:
            continue
        day_amount = defaultdict(float)
        for d, a in buys:
            day_amount[d] += a
        days = sorted(day_amount)
        first, last = days[0], days[-1]
        x = len(days) - 1
        spend = sum(a for _, a in past)
        gross = sum(a for _, a in buys)
        monetary = float(np.mean([day_amount[d] for d in days[1:]])) if x > 0 else 0.0
        rows.append([at - last, len(buys), x, last - first, at - first, spend,
                     gross / len(buys), monetary, len(past) - len(buys)])
        labels.append(not any(at < d <= end and a >= 0 for d, a in by[cid]))
    return np.array(rows, dtype=float), np.array(labels)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/cdnow/CDNOW_sample.txt"
    by = load(path)
    first = dt.date.fromordinal(min(d for v in by.values() for d, _ in v))
    as_of = dt.date(1997, 9, 30)
    end = as_of + dt.timedelta(weeks=39)
    wanted = as_of - (end - as_of)
    midpoint = first + dt.timedelta(days=(as_of - first).days // 2)
    t0 = wanted if wanted >= midpoint else midpoint
    x_train, y_train = origin(by, t0, as_of)
    x_test, y_test = origin(by, as_of, end)
    print(f"scikit-learn {sklearn.__version__}; training origin {t0} (labels to {as_of}), "
          f"{len(y_train)} customers, churn share {y_train.mean():.3f}; test origin {as_of} "
          f"(labels to {end}), {len(y_test)} customers, churn share {y_test.mean():.3f}")
    for name, params in [
        ("GradientBoostingClassifier() defaults", {}),
        ("GradientBoostingClassifier(tenure's hyper-parameters: depth 2, lr 0.05, 100 trees, "
         "min_samples_leaf 20)", dict(max_depth=2, learning_rate=0.05, n_estimators=100,
                                      min_samples_leaf=20)),
    ]:
        model = GradientBoostingClassifier(random_state=0, **params).fit(x_train, y_train)
        auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
        print(f"{name}: test AUC {auc:.4f}")


if __name__ == "__main__":
    main()
