"""The outbox end to end: real database file, real sender, loopback fake Discord."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from skimd.clock import SimulatedClock
from skimd.domain.alerts import CandidateFound, OrderFilled
from skimd.domain.trading import CandidateSource
from skimd.infrastructure.database import migrate
from skimd.infrastructure.database.factory import TradingDatabase
from skimd.infrastructure.database.tables import AlertOutbox, Candidate
from skimd.infrastructure.notifications.discord import DiscordNotifier
from skimd.infrastructure.notifications.outbox_store import SqlOutboxStore
from skimd.services.alerts import OutboxSender, enqueue
from tests.fakes.alert_samples import one_of_each
from tests.fakes.discord_server import FakeDiscord, Recorded
from tests.fakes.notifiers import RecordingNotifier

T0 = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)  # 10:00 Sydney
STORED_V1 = Path(__file__).parents[2] / "fixtures" / "alerts" / "outbox_payloads_v1.jsonl"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TradingDatabase]:
    database = TradingDatabase(tmp_path / "skimd.db", None, create=True)
    migrate.upgrade(database)
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


def fill(clock: SimulatedClock, n: int) -> OrderFilled:
    return OrderFilled(occurred_at=clock.now(), symbol="BHP", side="BUY", quantity=n,
                       client_order_id=f"order-{n:03d}", price=Decimal("45.10"))


def fill_sizes(requests: list[Recorded]) -> list[int]:
    """The quantity of each fill Discord accepted, in order (each test fill has its own;
    order ids stay off the phone)."""
    found: list[int] = []
    for r in requests:
        for e in r.embeds:
            shown = re.search(r"\b(\d+) BHP\b", f"{e.get('title', '')} {e.get('description', '')}")
            assert shown is not None
            found.append(int(shown.group(1)))
    return found


def make_sender(db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient,
                clock: SimulatedClock, *extra: RecordingNotifier) -> OutboxSender:
    webhook = DiscordNotifier(discord.url, http_client=http, clock=clock,
                              tz=ZoneInfo("Australia/Sydney"), max_inline_wait_s=0)
    return OutboxSender(SqlOutboxStore(db.unit_of_work), [webhook, *extra], clock=clock,
                        backoff_initial_s=2, backoff_max_s=60)


async def drive(clock: SimulatedClock, sender: OutboxSender, seconds: float,
                step: float = 10) -> None:
    """Advance simulated time like the scheduler would, letting each delivery finish."""
    end = clock.now() + timedelta(seconds=seconds)
    while clock.now() < end:
        clock.advance(step)  # fires the sender's retry timers (wake)
        await sender.wait_idle()
        await sender.run_once()  # the periodic scheduler job


@pytest.mark.slow
async def test_thirty_minute_outage_loses_nothing_and_keeps_order(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    console = RecordingNotifier("console")
    sender = make_sender(db, discord, http, clock, console)
    discord.down = True
    sent = 0
    for _ in range(30):  # an alert a minute while Discord is down
        with db.unit_of_work() as uow:
            sent += 1
            enqueue(uow, fill(clock, sent))
        sender.wake()
        await drive(clock, sender, 60)
    outage_requests = len(discord.requests)
    assert discord.accepted() == []
    assert len(console.received) == 30  # the console kept getting them in real time
    discord.down = False
    await drive(clock, sender, 120)
    await sender.aclose()

    assert fill_sizes(discord.accepted()) == list(range(1, 31))
    assert len(console.received) == 30  # no duplicates to the notifier that had them
    with db.unit_of_work(read_only=True) as uow:
        stmt = select(col(AlertOutbox.status)).order_by(col(AlertOutbox.id))
        statuses = uow.session.scalars(stmt).all()
    assert statuses == ["delivered"] * 30
    # backoff held: far fewer attempts than one per 10 s tick over 30 minutes
    assert outage_requests <= 45


async def test_rolled_back_change_leaves_no_alert_behind(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    alert = CandidateFound(occurred_at=clock.now(), symbol="BHP", source=CandidateSource.GAP,
                           gap_pct=Decimal("5.2"))

    def add_candidate_and_alert(fail: bool) -> None:
        with db.unit_of_work() as uow:
            uow.candidates.add(Candidate(scan_date=date(2024, 6, 3), ticker="BHP",
                                         gap_pct=Decimal("5.2"), created_at=clock.now(),
                                         updated_at=clock.now()))
            enqueue(uow, alert)
            if fail:
                raise RuntimeError("broker refused; change abandoned")

    with pytest.raises(RuntimeError):
        add_candidate_and_alert(fail=True)
    sender = make_sender(db, discord, http, clock)
    await sender.run_once()
    assert discord.requests == []
    with db.unit_of_work(read_only=True) as uow:
        assert uow.session.scalars(select(AlertOutbox)).all() == []
        assert uow.session.scalars(select(Candidate)).all() == []

    add_candidate_and_alert(fail=False)
    sender.wake()
    await sender.wait_idle()
    (request,) = discord.accepted()
    assert request.embeds[0]["title"] == "🔎 Gap candidate BHP"


async def test_restart_resumes_from_the_database(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    discord.down = True
    first = make_sender(db, discord, http, clock)
    with db.unit_of_work() as uow:
        for n in (1, 2, 3):
            enqueue(uow, fill(clock, n))
    await first.run_once()
    await first.aclose()  # the daemon stops with three alerts undelivered
    discord.down = False
    second = make_sender(db, discord, http, clock)  # a new process: nothing in memory
    await second.run_once()
    assert fill_sizes(discord.accepted()) == [1, 2, 3]
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(AlertOutbox).order_by(col(AlertOutbox.id))).all()
        seen = [(r.status, r.attempts) for r in rows]
    # only the head row was tried during the outage (order is kept), then all delivered
    assert seen == [("delivered", 2), ("delivered", 1), ("delivered", 1)]


async def test_burst_of_fifty_candidates_is_one_post(
    db: TradingDatabase, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SimulatedClock(T0)
    sender = make_sender(db, discord, http, clock)
    with db.unit_of_work() as uow:
        for i in range(50):
            enqueue(uow, CandidateFound(occurred_at=clock.now(), symbol=f"T{i:02d}",
                                        source=CandidateSource.GAP, gap_pct=Decimal("4.1")))
    sender.wake()
    await sender.wait_idle()
    (request,) = discord.requests
    description = request.embeds[0]["description"]
    assert request.embeds[0]["title"] == "📋 50 candidates found"
    assert all(f"T{i:02d}" in description for i in range(50))
    assert description.startswith("**Gaps**\n```") and description.endswith("```")


async def test_rows_stored_by_an_earlier_version_are_read_back_as_alerts(
    db: TradingDatabase,
) -> None:
    stored = STORED_V1.read_text(encoding="utf-8").splitlines()
    with db.unit_of_work() as uow:  # rows as version 1 wrote them: kind, payload, due now
        for text in stored:
            payload = json.loads(text)
            uow.outbox.enqueue(payload["kind"], payload, T0)
        uow.outbox.enqueue("from_a_newer_version", {"kind": "x", "data": {}}, T0)
    with db.unit_of_work(read_only=True) as uow:
        texts = uow.session.scalars(select(col(AlertOutbox.payload))).all()
    assert list(texts[: len(stored)]) == stored  # the same bytes as version 1 stored

    pending = await SqlOutboxStore(db.unit_of_work).pending("console", 100)
    assert [alert for _, alert in pending] == [*one_of_each(), None]


async def test_a_dedup_key_queues_an_alert_once(db: TradingDatabase) -> None:
    alert = fill(SimulatedClock(T0), 1)
    with db.unit_of_work() as uow:
        first = uow.outbox.queue(alert, dedup_key="fill:1")
    with db.unit_of_work() as uow:
        assert uow.outbox.queue(alert, dedup_key="fill:1") is None
        second = uow.outbox.queue(alert)  # no key: queued again
    with db.unit_of_work(read_only=True) as uow:
        stmt = select(col(AlertOutbox.id), col(AlertOutbox.dedup_key)).order_by(
            col(AlertOutbox.id)
        )
        rows = [tuple(r) for r in uow.session.execute(stmt).all()]
    assert first is not None and second is not None
    assert rows == [(first, "fill:1"), (second, None)]
