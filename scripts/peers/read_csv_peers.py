"""Peers of `tenure ingest`: pandas.read_csv (the named peer) and DuckDB's own CSV reader, on one file.

Each is timed end to end inside this process, after the interpreter and imports are up.
usage: python3 read_csv_peers.py FILE.csv  → prints one JSON line
"""
import json
import sys
import time

path = sys.argv[1]
out = {}

import pandas as pd  # noqa: E402

t = time.perf_counter()
df = pd.read_csv(path)
out["pandas_read_csv_s"] = time.perf_counter() - t
out["pandas_rows"] = len(df)
t = time.perf_counter()
df["ordered_at"] = pd.to_datetime(df["ordered_at"])
out["pandas_parse_dates_s"] = time.perf_counter() - t
del df

import duckdb  # noqa: E402

con = duckdb.connect()
t = time.perf_counter()
con.execute(f"CREATE TABLE o AS SELECT * FROM read_csv('{path}')")
out["duckdb_read_csv_s"] = time.perf_counter() - t
out["duckdb_rows"] = con.execute("SELECT count(*) FROM o").fetchone()[0]
out["pandas_version"] = pd.__version__
out["duckdb_version"] = duckdb.__version__
print(json.dumps(out))
