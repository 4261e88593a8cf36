"""Alert latency from commit to webhook POST, and POST count for candidate bursts.

Real pieces end to end: an SQLCipher database file (raw key, no KDF), the outbox sender
with the system clock, DiscordNotifier over httpx, and the loopback fake Discord from the
test suite. Latency is measured from just after the unit of work commits (then ``wake()``)
to the moment the fake server has read the POST.

Run: ``python bench/alert_bench.py`` from the repository root. Prints figures only.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from skimd.clock import SystemClock  # noqa: E402
from skimd.config import MarketSettings  # noqa: E402
from skimd.domain.alerts import CandidateFound, OrderFilled  # noqa: E402
from skimd.domain.trading import CandidateSource  # noqa: E402
from skimd.infrastructure.database import migrate  # noqa: E402
from skimd.infrastructure.database.crypto import DatabaseKey  # noqa: E402
from skimd.infrastructure.database.factory import TradingDatabase  # noqa: E402
from skimd.infrastructure.notifications.discord import DiscordNotifier  # noqa: E402
from skimd.infrastructure.notifications.outbox_store import SqlOutboxStore  # noqa: E402
from skimd.services.alerts import OutboxSender, enqueue  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

MARKET_ZONE = ZoneInfo(MarketSettings().timezone)  # the default market's, as the daemon's


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def latency_run(db: TradingDatabase, count: int, gap_s: float,
                      bucket: tuple[int, float] | None) -> tuple[list[float], int]:
    clock = SystemClock()
    with FakeDiscord(bucket=bucket) as discord:
        async with httpx.AsyncClient() as http:
            webhook = DiscordNotifier(discord.url, http_client=http, clock=clock, tz=MARKET_ZONE)
            store = SqlOutboxStore(db.unit_of_work)
            sender = OutboxSender(store, [webhook], clock=clock)
            committed: dict[str, float] = {}
            for n in range(count):
                order = f"bench-{id(discord)}-{n}"
                alert = OrderFilled(occurred_at=clock.now(), symbol="BHP", side="BUY",
                                    quantity=100, client_order_id=order, price=Decimal("45.10"))
                with db.unit_of_work() as uow:
                    enqueue(uow, alert)
                committed[order] = time.monotonic()
                sender.wake()
                await asyncio.sleep(gap_s)
            deadline = time.monotonic() + 30
            while await store.pending_count() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await sender.aclose()
        latencies = []
        for r in discord.accepted():
            for e in r.embeds:
                for f in e.get("fields", []):
                    if f["name"] == "Order" and f["value"] in committed:
                        latencies.append((r.at - committed[f["value"]]) * 1000)
        return latencies, len(discord.requests)


async def burst_run(db: TradingDatabase, *, one_transaction: bool) -> tuple[int, float]:
    clock = SystemClock()
    with FakeDiscord() as discord:
        async with httpx.AsyncClient() as http:
            webhook = DiscordNotifier(discord.url, http_client=http, clock=clock, tz=MARKET_ZONE)
            store = SqlOutboxStore(db.unit_of_work)
            sender = OutboxSender(store, [webhook], clock=clock)
            start = time.monotonic()
            alerts = [
                CandidateFound(occurred_at=clock.now(), symbol=f"B{i:02d}",
                               source=CandidateSource.GAP, gap_pct=Decimal("4.2"))
                for i in range(50)
            ]
            if one_transaction:
                with db.unit_of_work() as uow:
                    for a in alerts:
                        enqueue(uow, a)
                sender.wake()
            else:
                for a in alerts:  # each candidate committed on its own, waking each time
                    with db.unit_of_work() as uow:
                        enqueue(uow, a)
                    sender.wake()
                    await asyncio.sleep(0)
            while await store.pending_count():
                await sender.wait_idle()
                await sender.run_once()
            elapsed = (time.monotonic() - start) * 1000
            await sender.aclose()
        return len(discord.accepted()), elapsed


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = TradingDatabase(Path(tmp) / "bench.db", DatabaseKey(os.urandom(32)), create=True)
        migrate.upgrade(db)
        print(f"database: {db!r}; python {sys.version.split()[0]}")
        for label, count, gap, bucket in (
            ("healthy, no server rate limit", 200, 0.02, None),
            ("healthy, Discord-like bucket 5 per 2 s", 30, 0.45, (5, 2.0)),
        ):
            lat, posts = await latency_run(db, count, gap, bucket)
            print(
                f"commit→POST latency [{label}]: n={len(lat)} posts={posts} "
                f"p50={statistics.median(lat):.1f} ms p99={pct(lat, 99):.1f} ms "
                f"max={max(lat):.1f} ms"
            )
        posts, ms = await burst_run(db, one_transaction=True)
        print(f"burst of 50 candidate alerts in one commit: {posts} POST(s), sent in {ms:.0f} ms")
        posts, ms = await burst_run(db, one_transaction=False)
        print(f"burst of 50 candidate alerts, 50 commits:   {posts} POST(s), sent in {ms:.0f} ms")
        db.close()


if __name__ == "__main__":
    asyncio.run(main())
