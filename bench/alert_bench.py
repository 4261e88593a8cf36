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
that drew a 429, the alerts left undelivered, the chart PNGs it carried (count, median and
max size, PNG bytes per message) and the stored size of the exit alerts' outbox rows (they
carry the price path the chart is drawn from). The same day is run side by side from the
source tree of ``--before REV`` (default: main before the one-message-per-decision and
per-kind alert policy work), extracted with ``git archive`` into a temp dir and run with
the same interpreter, so "messages per day before/after" are measured in one run.

Run: ``python bench/alert_bench.py [--before REV | --no-before]`` from the repository root.
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy import text  # noqa: E402

from skimd import bootstrap  # noqa: E402
from skimd.config import (  # noqa: E402
    AlertKindSettings,
    DatabaseSettings,
    NotificationSettings,
    PathSettings,
    Settings,
)
from skimd.domain.alerts import CandidateFound, OrderFilled  # noqa: E402
from skimd.domain.trading import CandidateSource  # noqa: E402
from tests.e2e.demo_runs import (  # noqa: E402
    DISCORD_BUCKET,
    open_demo_db,
    run_demo,
    webhook_config,
)
from tests.fakes.discord_server import FakeDiscord  # noqa: E402

BEFORE = "9b8c46d"  # main before the one-message-per-decision / per-kind policy work
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
            # sent as they come (quiet by default): the bursts measure the coalescing
            kinds={"candidate_found": AlertKindSettings(mode="on")},
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
            committed: dict[str, float] = {}
            for n in range(count):
                symbol = f"Q{n:03d}"  # unique per alert: found again in the POST's JSON
                alert = OrderFilled(
                    occurred_at=clock.now(),
                    symbol=symbol,
                    side="BUY",
                    quantity=100,
                    client_order_id=f"bench-{id(discord)}-{n}",
                    price=Decimal("45.10"),
                )
                app.store_alert(alert)  # one unit of work; its commit wakes the sender
                committed[symbol] = time.monotonic()
                await asyncio.sleep(gap_s)
            deadline = time.monotonic() + 30
            while await pending_count(app) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await app.aclose()
        latencies: list[float] = []
        for r in discord.accepted():
            words = set(re.findall(r"Q\d{3}", json.dumps(r.payload)))
            latencies.extend((r.at - committed[w]) * 1000 for w in words if w in committed)
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


@dataclass(frozen=True)
class DemoDay:
    """What one demo day sent to the loopback Discord."""

    accepted: int
    limited: int
    requests: int
    undelivered: int | None  # None: the tree's database is not readable by this code
    seconds: float
    pngs: list[int]
    exit_payloads: list[int]  # bytes of each stored position_exited outbox payload


def source_tree(rev: str, into: Path) -> Path:
    """``rev``'s ``skimd`` package extracted under ``into`` (``git archive``: no checkout,
    the repository's worktrees untouched)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "skimd"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def demo_day_run(folder: Path, tree: Path = ROOT) -> DemoDay:
    """The demo day run from the ``skimd`` package under ``tree`` (put first on the path)."""
    with FakeDiscord(bucket=DISCORD_BUCKET) as discord:
        start = time.monotonic()
        done = run_demo(webhook_config(folder, discord.url), "--seed", "7", "--json",
                        source=tree, timeout_s=900)
        elapsed = time.monotonic() - start
        requests = list(discord.requests)
    if done.returncode != 0:
        raise SystemExit(f"demo ({tree}) failed: {done.stderr[-2000:]}")
    undelivered: int | None = None
    exits: list[int] = []
    if tree == ROOT:
        with open_demo_db(folder) as db, db.unit_of_work(read_only=True) as uow:
            rows = uow.outbox.list_all()
            undelivered = sum(1 for r in rows if r.status != "delivered")
            exits = [len(r.payload.encode()) for r in rows if r.kind == "position_exited"]
    ok = [r for r in requests if 200 <= r.status < 300]
    pngs = [len(f.data) for r in ok for f in r.files if f.filename.endswith(".png")]
    limited = sum(1 for r in requests if r.status == 429)
    return DemoDay(len(ok), limited, len(requests), undelivered, elapsed, pngs, exits)


def print_demo_day(label: str, day: DemoDay) -> None:
    lost = "?" if day.undelivered is None else str(day.undelivered)
    print(
        f"  {label:28s} {day.accepted:4d} messages, {day.limited} rate-limited (429) of "
        f"{day.requests} requests, {lost} undelivered, {day.seconds:.1f} s"
    )
    if day.pngs:
        print(
            f"  {'':28s} {len(day.pngs)} PNGs: median {statistics.median(day.pngs) / 1024:.1f}"
            f" KiB, max {max(day.pngs) / 1024:.1f} KiB; PNG bytes per message "
            f"{sum(day.pngs) / day.accepted / 1024:.1f} KiB"
        )
    if day.exit_payloads:
        print(
            f"  {'':28s} exit alert outbox rows: {len(day.exit_payloads)}, payload median "
            f"{statistics.median(day.exit_payloads) / 1024:.1f} KiB, max "
            f"{max(day.exit_payloads) / 1024:.1f} KiB"
        )


async def main(before: str | None) -> None:
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
        print("demo day seed 7 2026-11-24 vs loopback Discord (5 per 2 s):")
        if before is not None:
            tree = source_tree(before, Path(tmp) / "before-src")
            print_demo_day(f"before ({before})", demo_day_run(Path(tmp) / "before", tree))
        print_demo_day("now (this tree)", demo_day_run(Path(tmp) / "demo"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help="git revision to compare with")
    parser.add_argument("--no-before", action="store_true", help="only this tree's demo day")
    args = parser.parse_args()
    asyncio.run(main(None if args.no_before else args.before))
