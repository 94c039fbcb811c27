"""The lifetimes peer of `tenure score value` (issue 3 speed bar).

Reads the CDNOW master file (whitespace-separated with a header: customer id, YYYYMMDD, CDs, dollars), builds the
per-customer (frequency, recency, T, monetary) table in days as of the last day, fits BG/NBD and
Gamma-Gamma, and scores P(alive), E[purchases in 90 days] and 12-month CLV (monthly discount 1%) for
every customer -- what `tenure init && tenure ingest && tenure score value` do.

Usage: python lifetimes_value.py CDNOW_master.txt OUT.csv
"""
import sys
import time

t0 = time.time()
import pandas as pd  # noqa: E402
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

path, out = sys.argv[1], sys.argv[2]
tx = pd.read_csv(path, sep=r"\s+", header=0, names=["customer_id", "date", "cds", "amount"],
                 dtype={"customer_id": str, "date": str})
tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
t_read = time.time()
summary = summary_data_from_transaction_data(
    tx, "customer_id", "date", monetary_value_col="amount", freq="D",
    observation_period_end=tx["date"].max())
t_summary = time.time()
bgf = BetaGeoFitter(penalizer_coef=0.0)
bgf.fit(summary["frequency"], summary["recency"], summary["T"])
t_bg = time.time()
repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
ggf = GammaGammaFitter(penalizer_coef=0.0)
ggf.fit(repeat["frequency"], repeat["monetary_value"])
t_gg = time.time()
summary["p_alive"] = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
summary["expected_purchases_90d"] = bgf.conditional_expected_number_of_purchases_up_to_time(
    90, summary["frequency"], summary["recency"], summary["T"])
summary["clv"] = ggf.customer_lifetime_value(
    bgf, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"].clip(lower=0),
    time=12, discount_rate=0.01, freq="D")
t_score = time.time()
summary.to_csv(out)
print(f"customers {len(summary)}; bg/nbd r {bgf.params_['r']:.4f} alpha {bgf.params_['alpha']:.3f} "
      f"a {bgf.params_['a']:.4f} b {bgf.params_['b']:.4f}; gamma-gamma p {ggf.params_['p']:.3f} "
      f"q {ggf.params_['q']:.3f} v {ggf.params_['v']:.3f}", file=sys.stderr)
print(f"import {t_read - t0:.2f}s (incl. read); summary {t_summary - t_read:.2f}s; bg/nbd fit {t_bg - t_summary:.2f}s; "
      f"gamma-gamma fit {t_gg - t_bg:.2f}s; score {t_score - t_gg:.2f}s; total {time.time() - t0:.2f}s", file=sys.stderr)
