"""Measure the cost of encryption on the journal path, and the open-to-first-query time.

Prints, for SQLCipher and for plain SQLite (both WAL + synchronous=FULL, through the real
TradingDatabase and unit of work):

- executions journaled per second with one commit each (as the daemon journals fills),
- executions journaled per second in batches of 100 per commit,
- their SQLCipher / plain time ratio,
- the one-time Argon2id derivation with the production parameters, and
- the time from constructing the database with the already-derived raw key to the
  first query result (the per-process / per-connection cost).

Run: ``python bench/db_bench.py [--commits N] [--batch-rows N]``. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skimd.infrastructure.database.base import open_keyed
from skimd.infrastructure.database.crypto import DatabaseKey, KdfParams, derive_key
from skimd.infrastructure.database.factory import TradingDatabase
from skimd.infrastructure.database.migrate import upgrade
from skimd.infrastructure.database.tables import Trade

T0 = datetime(2025, 3, 14, 0, 0, tzinfo=UTC)


def make_trade(i: int) -> Trade:
    return Trade(
        exec_id=f"0000e{i:08d}.01.01",
        account="U1234567",
        ticker="BHP",
        conid=4036812,
        side="BUY" if i % 2 else "SELL",
        qty=Decimal(100),
        price=Decimal("45.665"),
        commission=Decimal("6.00"),
        executed_at=T0 + timedelta(seconds=i),
    )


def journal(db: TradingDatabase, n: int, batch: int, start: int = 0) -> float:
    """Journal ``n`` executions: one unit of work (one commit) per ``batch`` of them."""
    began = time.perf_counter()
    for first in range(start, start + n, batch):
        with db.unit_of_work() as uow:
            if batch == 1:
                uow.trades.add_new(make_trade(first))  # the daemon's per-fill path
            else:
                uow.trades.add_many(
                    make_trade(i) for i in range(first, min(first + batch, start + n))
                )
    return time.perf_counter() - began


def raw_open_to_first_query(path: Path, key: DatabaseKey | None, runs: int = 50) -> float:
    """Keyed DBAPI connection (raw key, no PBKDF2) + probe + pragmas + first query."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        conn = open_keyed(path, key)
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM trades").fetchone()
        samples.append(time.perf_counter() - began)
        conn.close()
    return statistics.median(samples)


def open_to_first_query(path: Path, key: DatabaseKey | None, runs: int = 20) -> float:
    """A whole TradingDatabase (engine, pool, probe) + the first ORM query."""
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        db = TradingDatabase(path, key)
        with db.unit_of_work(read_only=True) as uow:
            uow.trades.exists("nothing")
        samples.append(time.perf_counter() - began)
        db.close()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=500, help="single-commit executions")
    parser.add_argument("--batch-rows", type=int, default=5000, help="rows for the batched run")
    args = parser.parse_args()

    params = KdfParams()
    began = time.perf_counter()
    key = derive_key("benchmark passphrase", b"0123456789abcdef", params)
    kdf_s = time.perf_counter() - began

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="skimd-bench-") as tmp:
        for mode, mode_key in (("sqlcipher", key), ("plain", None)):
            path = Path(tmp) / f"{mode}.db"
            db = TradingDatabase(path, mode_key, create=True)
            upgrade(db)
            journal(db, 50, 1, start=10_000_000)  # warm up pages and the pool
            single = journal(db, args.commits, 1)
            batched = journal(db, args.batch_rows, 100, start=1_000_000)
            db.close()
            results[mode] = {
                "single_per_s": args.commits / single,
                "batched_per_s": args.batch_rows / batched,
                "raw_open_ms": raw_open_to_first_query(path, mode_key) * 1000,
                "open_ms": open_to_first_query(path, mode_key) * 1000,
            }

    enc, plain = results["sqlcipher"], results["plain"]
    print(
        f"skimd db bench  (WAL, synchronous=FULL; {args.commits} single commits, "
        f"{args.batch_rows} rows in batches of 100)"
    )
    print(f"{'':28}{'sqlcipher':>12}{'plain':>12}{'ratio':>8}")
    for label, field in (
        ("journaled/s, 1 commit each", "single_per_s"),
        ("journaled/s, batched x100", "batched_per_s"),
    ):
        ratio = plain[field] / enc[field]  # time ratio: encrypted time / plain time
        print(f"{label:28}{enc[field]:12.1f}{plain[field]:12.1f}{ratio:8.2f}x")
    for label, field in (
        ("open->1st query, raw conn ms", "raw_open_ms"),
        ("open->1st query, full db ms", "open_ms"),
    ):
        print(f"{label:28}{enc[field]:12.2f}{plain[field]:12.2f}{enc[field] / plain[field]:8.2f}x")
    print(
        f"one-time Argon2id KDF (t={params.time_cost}, m={params.memory_kib // 1024} MiB, "
        f"p={params.parallelism}): {kdf_s * 1000:.0f} ms"
    )
    single_ratio = plain["single_per_s"] / enc["single_per_s"]
    print(
        f"targets: ratio <= 1.3 -> {'met' if single_ratio <= 1.3 else 'MISSED'} "
        f"({single_ratio:.2f}); open <= 5 ms -> "
        f"{'met' if enc['raw_open_ms'] <= 5 else 'MISSED'} ({enc['raw_open_ms']:.2f} ms for "
        f"the keyed connection; {enc['open_ms']:.2f} ms with engine + first ORM compile)"
    )


if __name__ == "__main__":
    main()
