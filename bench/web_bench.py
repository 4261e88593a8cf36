"""``skimd web`` with a year of trades: steady RSS and page times (issue 17, target: any
journal page <= 200 ms with 5,000 round trips).

A journal of ``--trips`` closed round trips (two executions each, spread over the trading
days of a year, 40 tickers), a mistake on every tenth, a trade plan every trading day and a
year of bank statements (twelve monthly imports, five lines a day) is written straight
into a fresh SQLCipher database made by the composition root (``bootstrap.build(...,
create_database=True)``); small Argon2 parameters (t=1, 8 MiB) only make opening it
quicker. Then ``skimd web`` runs as its own
process on a free loopback port, exactly as the unit starts it; the bench logs in over
HTTP (httpx) and fetches each page ``--repeat`` times, one request at a time.

Printed: per page the median, 95th percentile and worst wall time of the whole request (as
the browser waits for it), and the web process's RSS (VmRSS) after start-up, after the
first round of pages, and at the end, with its peak (VmHWM). No daemon runs: Today reads
the database, as it does whenever the daemon is down. The 2-core machine is shared, so
figures vary between runs. Prints figures only, never asserts.

Run: ``python bench/web_bench.py [--trips N] [--repeat N]`` from the repository root.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from skimd import bootstrap
from skimd.config import load_settings
from skimd.infrastructure.database.tables import (
    BankTransaction,
    MistakeEntry,
    RoundTrip,
    Trade,
    TradePlan,
)

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 123"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(folder: Path, port: int) -> Path:
    secret = folder / "db.passphrase"
    secret.write_text("bench passphrase")
    secret.chmod(0o600)
    config = folder / "skimd.toml"
    config.write_text(
        f'[paths]\ndata_dir = "{folder / "data"}"\n\n[database]\n'
        f'passphrase_file = "{secret}"\nkdf_time_cost = 1\nkdf_memory_kib = 8192\n'
        f'kdf_parallelism = 1\n\n[logging]\nlevel = "WARNING"\nformat = "json"\n\n'
        f"[web]\nport = {port}\n"
    )
    return config


def fill_journal(config: Path, trips: int) -> date:
    """``trips`` closed round trips over a year of weekdays; the last day."""
    settings = load_settings(config, {})
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    days = [d for d in days if d.weekday() < 5]
    with bootstrap.build(
        settings, access=bootstrap.Access.EXCLUSIVE, create_database=True
    ) as app, app.database.unit_of_work() as uow:
        for i in range(trips):
            day = days[i * len(days) // trips]
            opened = datetime(day.year, day.month, day.day, 23, 20, tzinfo=UTC) - timedelta(days=1)
            closed = opened + timedelta(hours=4, minutes=i % 60)
            entry = Decimal("2.00") + Decimal(i % 50) / 100
            exit_ = entry + Decimal((i % 7) - 3) / 100
            qty = Decimal(1000 + 10 * (i % 30))
            gross = (exit_ - entry) * qty
            trip = RoundTrip(
                account="DU1", ticker=f"T{i % 40:02d}", status="closed", qty=qty,
                entry_avg=entry, exit_avg=exit_, gross_pnl=gross, fees=Decimal(12),
                net_pnl=gross - 12, opened_at=opened, closed_at=closed,
            )
            uow.session.add(trip)
            uow.session.flush()
            for n, (side, price, at) in enumerate(
                (("BUY", entry, opened), ("SELL", exit_, closed))
            ):
                uow.session.add(Trade(
                    exec_id=f"E{i}-{n}", account="DU1", ticker=trip.ticker, side=side,
                    qty=qty, price=price, commission=Decimal(6), executed_at=at,
                    round_trip_id=trip.id,
                ))
            if i % 10 == 0:
                uow.session.add(MistakeEntry(
                    round_trip_id=trip.id, category="late_exit", note=f"held T{i % 40:02d}",
                    cost=Decimal(i % 90), created_at=closed,
                ))
        for n, day in enumerate(days):
            at = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
            uow.session.add(TradePlan(
                ticker=f"T{n % 40:02d}", entry=Decimal("2.10"), stop=Decimal("2.00"),
                strategy_name="opening range", created_at=at, updated_at=at,
            ))
            for k in range(5):
                uow.session.add(BankTransaction(
                    hash=f"{day}-{k}", account="cba", posted_on=day,
                    amount=Decimal(k * 10 - 25), description=f"line {k}", imported_at=at,
                    source="csv", import_batch_id=f"{day:%Y%m}",
                ))
    return days[-1]


def rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        config = write_config(folder, port)
        started = time.perf_counter()
        last_day = fill_journal(config, args.trips)
        print(f"journal: {args.trips} round trips written in {time.perf_counter() - started:.1f} s")
        bootstrap.web_password_file(load_settings(config, {})).set(PASSWORD)
        web = subprocess.Popen(
            [sys.executable, "-m", "skimd", "--config", str(config), "web"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        try:
            assert web.stdout is not None
            for line in web.stdout:
                if "skimd web on" in line:
                    break
            rss_start, _ = rss_kib(web.pid)
            base = f"http://127.0.0.1:{port}"
            month = f"from={last_day.replace(day=1)}&to={last_day}"
            pages = {
                "today": "/",
                "journal (all)": "/journal",
                "journal (one ticker)": "/journal?ticker=T07",
                "journal (one month)": f"/journal?{month}",
                "round trip": f"/journal/{args.trips // 2}",
                "stats (year)": "/stats",
                "stats (month)": f"/stats?{month}",
                "equity png (year)": "/stats/equity.png",
                "plans": "/plans",
                "plan": "/plans/1",
                "mistakes (all)": "/mistakes",
                "mistakes (one month)": f"/mistakes?{month}",
                "bank (all)": "/bank",
                "bank (one import)": f"/bank?batch={last_day:%Y%m}",
            }
            with httpx.Client(base_url=base, timeout=120) as client:
                csrf = TOKEN.search(client.get("/login").text).group(1)  # type: ignore[union-attr]
                client.post("/login", data={"csrf_token": csrf, "password": PASSWORD})
                times: dict[str, list[float]] = {name: [] for name in pages}
                rss_warm = 0
                for round_ in range(args.repeat):
                    for name, path in pages.items():
                        t0 = time.perf_counter()
                        answer = client.get(path)
                        times[name].append(time.perf_counter() - t0)
                        if answer.status_code != 200:
                            print(f"{name}: HTTP {answer.status_code}")
                    if round_ == 0:
                        rss_warm, _ = rss_kib(web.pid)
            rss_end, peak = rss_kib(web.pid)
        finally:
            web.terminate()
            web.wait(timeout=60)
        print(f"page times over {args.repeat} requests each (ms): median / p95 / worst")
        for name, values in times.items():
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            print(f"  {name:<22} {statistics.median(values) * 1000:7.1f} "
                  f"{p95 * 1000:7.1f} {ordered[-1] * 1000:7.1f}")
        print(f"web RSS: {rss_start / 1024:.1f} MiB at start, {rss_warm / 1024:.1f} MiB after "
              f"the first round, {rss_end / 1024:.1f} MiB at the end (peak {peak / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
