"""The per-kind alert policy end to end: a real SQLCipher outbox in a tmp dir, the notifiers
the factory builds from settings, the sender bootstrap would build, and the loopback fake
Discord with a main and a critical webhook."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlmodel import col

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import DatabaseSettings, NotificationSettings, PathSettings, Settings
from skimd.domain.alerts import (
    Alert,
    BrokerSessionStillDown,
    DailySummary,
    GuardTripped,
    OrderFilled,
    OrderPlaced,
)
from skimd.domain.trading import GuardKind
from skimd.infrastructure.database import TradingDatabase, open_trading_database
from skimd.infrastructure.database.tables import AlertOutbox
from skimd.infrastructure.notifications.factory import build_notifier
from skimd.infrastructure.notifications.outbox_store import SqlOutboxStore
from skimd.services.alerts import OutboxSender, enqueue
from skimd.services.ports.alerts import PendingAlert
from tests.fakes.discord_server import FakeDiscord, Recorded

T0 = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)  # 10:00 Sydney
CRITICAL_ID = "999"
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TradingDatabase]:
    settings = Settings(
        paths=PathSettings(data_dir=tmp_path / "data"),
        database=DatabaseSettings(
            encryption="sqlcipher",
            passphrase=SecretStr("policy test passphrase"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
    )
    database = open_trading_database(settings, create=True)
    assert database.key is not None  # encrypted: the outbox as production keeps it
    yield database
    database.close()


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


class CrashingStore(SqlOutboxStore):
    """The real store, except that the next ``mark_delivered`` of ``notifier`` dies (the
    process crashing between Discord's 2xx and the mark)."""

    def __init__(self, db: TradingDatabase, notifier: str) -> None:
        super().__init__(db.unit_of_work)
        self.crash_for = notifier
        self.armed = False

    async def mark_delivered(self, ids: Sequence[int], notifier: str, at: datetime) -> None:
        if self.armed and notifier == self.crash_for:
            self.armed = False
            raise SystemError("process killed after the POST, before the mark")
        await super().mark_delivered(ids, notifier, at)


def sender_for(
    db: TradingDatabase,
    discord: FakeDiscord,
    http: httpx.AsyncClient,
    clock: SimulatedClock,
    kinds: dict[str, Any],
    *,
    store: SqlOutboxStore | None = None,
) -> tuple[OutboxSender, io.StringIO]:
    """The notifiers and sender as bootstrap builds them for these settings."""
    cfg = NotificationSettings(
        discord_webhook_url=SecretStr(discord.url),
        discord_critical_webhook_url=SecretStr(discord.add_webhook(CRITICAL_ID, "crit-t0ken")),
        discord_max_inline_wait_s=0,
        kinds=kinds,
        quiet_digest_interval_min=60,
    )
    out = io.StringIO()
    fan = build_notifier(Settings(notifications=cfg), clock=clock, http_client=http, stdout=out)
    sender = OutboxSender(
        store or SqlOutboxStore(db.unit_of_work),
        fan,
        clock=clock,
        policy=fan.policy,
        quiet_digest_interval_s=cfg.quiet_digest_interval_min * 60,
    )
    return sender, out


def queue(db: TradingDatabase, *alerts: Alert) -> None:
    with db.unit_of_work() as uow:
        for alert in alerts:
            enqueue(uow, alert)


def titles(requests: list[Recorded]) -> list[str]:
    return [r.embeds[0]["title"] for r in requests]


def statuses(db: TradingDatabase) -> list[str]:
    with db.unit_of_work(read_only=True) as uow:
        stmt = select(col(AlertOutbox.status)).order_by(col(AlertOutbox.id))
        return list(uow.session.scalars(stmt).all())


def placed(clock: SimulatedClock, n: int) -> OrderPlaced:
    return OrderPlaced(occurred_at=clock.now(), symbol=f"T{n:02d}", side="BUY", quantity=n,
                       client_order_id=f"c-{n}", order_type="LMT", limit_price=Decimal("1.5"))


def filled(clock: SimulatedClock, n: int) -> OrderFilled:
    return OrderFilled(occurred_at=clock.now(), symbol=f"T{n:02d}", side="BUY", quantity=n,
                       client_order_id=f"c-{n}", price=Decimal("1.5"))


async def test_kinds_reach_the_webhooks_their_route_names(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    sender, console = sender_for(db, discord, http, clock, {
        "order_filled": {"route": "critical"},
        "guard_tripped": {"route": "main"},
        "order_placed": "off",
    })
    guard = GuardTripped(occurred_at=T0, guard=GuardKind.DAILY_LOSS_CAP, detail="loss cap")
    lost = BrokerSessionStillDown(occurred_at=T0, broker="ibkr", down_since=T0,
                                  reason="competing", after_min=10)
    queue(db, placed(clock, 1), filled(clock, 1), guard, lost)
    report = await sender.run_once()

    main = titles(discord.accepted())
    assert len(main) == 3 and not any("Order placed" in t for t in main)  # off
    critical = titles(discord.accepted(CRITICAL_ID))
    assert len(critical) == 2  # the fill (routed critical) and the critical session loss
    assert "Filled" in critical[0] and "Broker session" in critical[1]
    assert len(console.getvalue().splitlines()) == 4  # the record has them all
    assert report.skipped == {"discord": 1, "discord-critical": 2}
    assert statuses(db) == ["delivered"] * 4


async def test_quiet_rows_arrive_once_in_one_digest_after_the_interval(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    sender, console = sender_for(db, discord, http, clock,
                                 {"order_placed": "quiet", "order_filled": "quiet"})
    for n in range(1, 4):
        queue(db, placed(clock, n), filled(clock, n))
        await sender.run_once()
        clock.advance(600)
    assert discord.requests == []
    assert len(console.getvalue().splitlines()) == 6
    assert statuses(db) == ["pending"] * 6
    clock.advance(1800)  # an hour after the first was held
    await sender.run_once()
    await sender.run_once()

    (digest,) = discord.accepted()
    embeds = digest.embeds
    assert embeds[0]["title"].endswith("6 quiet alerts")
    lines = [f["value"] for e in embeds for f in e.get("fields", [])]
    assert [line.split()[2] for line in lines] == ["T01", "T01", "T02", "T02", "T03", "T03"]
    assert discord.accepted(CRITICAL_ID) == [] and discord.violations == []
    assert statuses(db) == ["delivered"] * 6


async def test_the_day_summary_comes_after_the_digest_of_the_day(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    sender, _ = sender_for(db, discord, http, clock, {"order_filled": "quiet"})
    day = DailySummary(occurred_at=T0, trading_day=date(2024, 6, 3), trades=1, wins=1,
                       losses=0, realised_pnl=Decimal("10"), fees=Decimal("6"))
    queue(db, filled(clock, 1), day)
    await sender.run_once()
    assert [t.split(" ", 1)[1] for t in titles(discord.accepted())] == [
        "1 quiet alert", "Daily summary 2024-06-03: +$10.00 net"]


async def test_a_crash_between_the_post_and_the_mark_sends_the_digest_again(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    kinds = {"order_placed": "quiet"}
    store = CrashingStore(db, "discord")
    first, _ = sender_for(db, discord, http, clock, kinds, store=store)
    queue(db, placed(clock, 1), placed(clock, 2))
    await first.run_once()
    store.armed = True
    with pytest.raises(SystemError):
        await first.run_once(release_quiet=True)
    assert len(discord.accepted()) == 1  # Discord has it, the outbox does not know
    assert statuses(db) == ["pending", "pending"]

    second, _ = sender_for(db, discord, http, clock, kinds)  # the restarted daemon
    assert await second.flush(within_s=5) is True
    first_digest, again = discord.accepted()
    assert again.embeds == first_digest.embeds  # re-sent whole: a duplicate, nothing lost
    assert statuses(db) == ["delivered", "delivered"]


async def test_rows_stay_held_until_the_digest_is_accepted(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    sender, _ = sender_for(db, discord, http, clock, {"order_placed": "quiet"})
    queue(db, placed(clock, 1))
    await sender.run_once()
    discord.down = True
    assert await sender.flush(within_s=0) is False
    assert statuses(db) == ["pending"]
    pending: list[PendingAlert] = await SqlOutboxStore(db.unit_of_work).pending("discord", 5)
    assert [row_id for row_id, _ in pending] == [1]
    discord.down = False
    clock.advance(3600)
    assert await sender.flush(within_s=60) is True
    assert len(discord.accepted()) == 1 and statuses(db) == ["delivered"]


async def test_bootstrap_wires_the_configured_policy_into_the_sender(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with FakeDiscord() as discord:
        settings = Settings(
            paths=PathSettings(data_dir=tmp_path / "data"),
            database=DatabaseSettings(passphrase=SecretStr("wiring"), **SMALL_KDF),  # type: ignore[arg-type]
            notifications=NotificationSettings(
                console=False, discord_webhook_url=SecretStr(discord.url), discord_charts=False,
                kinds={"order_filled": "quiet"},  # type: ignore[dict-item]
                quiet_digest_interval_min=30,
            ),
        )
        app = bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE, clock=clock,
                              environ={}, create_database=True)
        async with app:
            app.outbox  # noqa: B018 - built first, so the commit below wakes it
            app.store_alert(filled(clock, 1))
            await app.outbox.run_once()
            assert discord.requests == []
            assert app.outbox.status()["discord"]["held"] == 1
            clock.advance(30 * 60)
            await app.outbox.run_once()
        (digest,) = discord.accepted()
    assert digest.embeds[0]["title"].endswith("1 quiet alert")
