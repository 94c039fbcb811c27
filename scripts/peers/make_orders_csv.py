"""Write a deterministic orders CSV for the ingest benchmark: ROWS rows, ~50 bytes each.

usage: python3 make_orders_csv.py ROWS OUT.csv
"""
import random
import sys

rows, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
channels = ["web", "app", "store", "marketplace"]
with open(out, "w", buffering=1 << 20) as f:
    f.write("order_id,customer_id,ordered_at,amount,quantity,channel\n")
    customers = max(rows // 5, 1)
    for i in range(rows):
        c = rng.randrange(customers)
        day = rng.randrange(1, 29)
        month = rng.randrange(1, 13)
        f.write(
            f"O{i:09d},C{c:08d},2023-{month:02d}-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00,"
            f"{rng.randrange(100, 50000) / 100:.2f},{rng.randrange(1, 6)},{channels[i % 4]}\n"
        )
