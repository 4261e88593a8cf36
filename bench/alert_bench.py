"""Alert latency from commit to webhook POST, and POST count for candidate bursts.

Real pieces end to end, built by the daemon's composition root (an EXCLUSIVE
``bootstrap.build`` App per run, with the system clock): an SQLCipher database file (small
Argon2 parameters, t=1, 8 MiB: they only change how long opening takes), the alert outbox
and its sender, and the Discord notifier over the App's httpx client, pointed by
``[notifications] discord_webhook_url`` at the loopback fake Discord from the test suite
(console alerts off). Latency is measured from just after the alert's unit of work commits
(the commit wakes the sender, as in the daemon) to the moment the fake server has read the
POST. The runs share one database file, as a daemon's restarts would.

A demo day against the loopback server: ``skimd demo --seed 7 --date 2026-11-24`` as a real
process (console off), its webhook pointed at the fake Discord enforcing Discord's bucket of
5 requests per 2 s in real time; prints the Discord messages the day sends, the requests
that drew a 429, the alerts left undelivered, and the size of the chart PNGs it carried.

Run: ``python bench/alert_bench.py`` from the repository root. Prints figures only.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import text  # noqa: E402

from skimd import bootstrap  # noqa: E402
from skimd.config import DatabaseSettings, NotificationSettings, PathSettings, Settings  # noqa: E402
from skimd.domain.alerts import CandidateFound, OrderFilled  # noqa: E402
from skimd.domain.trading import CandidateSource  # noqa: E402
from tests.e2e.demo_runs import DISCORD_BUCKET, open_demo_db, run_demo, webhook_config  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
SettingsFor = Callable[[str | None], Settings]


def settings_for(data_dir: Path, webhook: str | None) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("alert bench"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        notifications=NotificationSettings(
            console=False,
            discord_webhook_url=None if webhook is None else SecretStr(webhook),
        ),
    )


def open_app(settings: Settings) -> bootstrap.App:
    """The daemon's alert path over the fake webhook; the sender is built first so every
    commit wakes it."""
    app = bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE, environ={})
    app.outbox  # noqa: B018 - built for its side effect: commits wake it from now on
    return app


async def pending_count(app: bootstrap.App) -> int:
    """Outbox rows not yet delivered (read straight from the table: the App does not expose
    the outbox store)."""

    def count() -> int:
        with app.database.unit_of_work(read_only=True) as uow:
            query = text("SELECT count(*) FROM alert_outbox WHERE status = 'pending'")
            return int(uow.session.execute(query).scalar_one())

    return await asyncio.to_thread(count)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def latency_run(
    settings: SettingsFor, count: int, gap_s: float, bucket: tuple[int, float] | None
) -> tuple[list[float], int]:
    with FakeDiscord(bucket=bucket) as discord:
        app = open_app(settings(discord.url))
        try:
            clock = app.clock
            committed: dict[int, float] = {}  # by quantity: order ids are not on Discord
            for n in range(count):
                alert = OrderFilled(
                    occurred_at=clock.now(),
                    symbol="BHP",
                    side="BUY",
                    quantity=n + 1,
                    client_order_id=f"bench-{id(discord)}-{n}",
                    price=Decimal("45.10"),
                )
                app.store_alert(alert)  # one unit of work; its commit wakes the sender
                committed[n + 1] = time.monotonic()
                await asyncio.sleep(gap_s)
            deadline = time.monotonic() + 30
            while await pending_count(app) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await app.aclose()
        latencies = []
        for r in discord.accepted():
            for e in r.embeds:
                shown = re.search(r"\b(\d+) BHP\b", e.get("title", ""))
                if shown and int(shown.group(1)) in committed:
                    latencies.append((r.at - committed[int(shown.group(1))]) * 1000)
        return latencies, len(discord.requests)


async def burst_run(settings: SettingsFor, *, one_transaction: bool) -> tuple[int, float]:
    with FakeDiscord() as discord:
        app = open_app(settings(discord.url))
        try:
            clock = app.clock
            start = time.monotonic()
            alerts = [
                CandidateFound(
                    occurred_at=clock.now(),
                    symbol=f"B{i:02d}",
                    source=CandidateSource.GAP,
                    gap_pct=Decimal("4.2"),
                )
                for i in range(50)
            ]
            if one_transaction:
                with app.store.transaction() as tx:
                    for a in alerts:
                        tx.alert(a)
            else:
                for a in alerts:  # each candidate committed on its own, waking each time
                    app.store_alert(a)
                    await asyncio.sleep(0)
            while await pending_count(app):
                await app.outbox.wait_idle()
                await app.outbox.run_once()
            elapsed = (time.monotonic() - start) * 1000
        finally:
            await app.aclose()
        return len(discord.accepted()), elapsed


def demo_day_run(folder: Path) -> tuple[int, int, int, int, float, list[int]]:
    """Accepted messages, 429s, all requests, undelivered alerts, real seconds, and the
    bytes of each PNG the accepted messages carried."""
    with FakeDiscord(bucket=DISCORD_BUCKET) as discord:
        start = time.monotonic()
        done = run_demo(webhook_config(folder, discord.url), "--seed", "7", "--json")
        elapsed = time.monotonic() - start
        requests = list(discord.requests)
    if done.returncode != 0:
        raise SystemExit(f"demo failed: {done.stderr[-2000:]}")
    with open_demo_db(folder) as db, db.unit_of_work(read_only=True) as uow:
        rows = uow.outbox.list_all()  # type: ignore[attr-defined]
        undelivered = sum(1 for r in rows if r.status != "delivered")  # type: ignore[attr-defined]
    ok = [r for r in requests if 200 <= r.status < 300]
    pngs = [len(f.data) for r in ok for f in r.files if f.filename.endswith(".png")]
    limited = sum(1 for r in requests if r.status == 429)
    return len(ok), limited, len(requests), undelivered, elapsed, pngs


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"

        def settings(webhook: str | None) -> Settings:
            return settings_for(data_dir, webhook)

        with bootstrap.build(settings(None), create_database=True) as app:
            print(f"database: {app.database!r}; python {sys.version.split()[0]}")
        for label, count, gap, bucket in (
            ("healthy, no server rate limit", 200, 0.02, None),
            ("healthy, Discord-like bucket 5 per 2 s", 30, 0.45, (5, 2.0)),
        ):
            lat, posts = await latency_run(settings, count, gap, bucket)
            print(
                f"commit→POST latency [{label}]: n={len(lat)} posts={posts} "
                f"p50={statistics.median(lat):.1f} ms p99={pct(lat, 99):.1f} ms "
                f"max={max(lat):.1f} ms"
            )
        posts, ms = await burst_run(settings, one_transaction=True)
        print(f"burst of 50 candidate alerts in one commit: {posts} POST(s), sent in {ms:.0f} ms")
        posts, ms = await burst_run(settings, one_transaction=False)
        print(f"burst of 50 candidate alerts, 50 commits:   {posts} POST(s), sent in {ms:.0f} ms")
        accepted, limited, requests, lost, secs, pngs = demo_day_run(Path(tmp) / "demo")
        print(
            f"demo day seed 7 2026-11-24 vs loopback Discord (5 per 2 s): {accepted} messages, "
            f"{limited} rate-limited (429) of {requests} requests, {lost} undelivered, "
            f"{secs:.1f} s"
        )
        if pngs:
            print(
                f"  charts: {len(pngs)} PNGs; bytes per PNG: median "
                f"{statistics.median(pngs) / 1024:.1f} KiB, max {max(pngs) / 1024:.1f} KiB"
            )
        else:
            print("  charts: none attached")


if __name__ == "__main__":
    asyncio.run(main())
