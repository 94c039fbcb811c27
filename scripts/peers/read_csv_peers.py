"""Peers of `tenure ingest`: pandas.read_csv (the named peer) and DuckDB's own CSV reader (into memory and
into a database file), on one file.

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
con.close()

# The same reader writing into a persistent database file, as an ingest must (tenure's store is a
# DuckDB file, and a run commits durably): DuckDB's defaults, then with insertion order not kept
# (lets both threads write row groups), each timed to the end of a CHECKPOINT.
import os  # noqa: E402
import tempfile  # noqa: E402

for key, setup in (("duckdb_persistent_s", []),
                   ("duckdb_persistent_unordered_s", ["SET preserve_insertion_order=false"])):
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(os.path.join(tmp, "o.duckdb"))
        for stmt in setup:
            con.execute(stmt)
        t = time.perf_counter()
        con.execute(f"CREATE TABLE o AS SELECT * FROM read_csv('{path}')")
        con.execute("CHECKPOINT")
        out[key] = time.perf_counter() - t
        con.close()
out["pandas_version"] = pd.__version__
out["duckdb_version"] = duckdb.__version__
print(json.dumps(out))
