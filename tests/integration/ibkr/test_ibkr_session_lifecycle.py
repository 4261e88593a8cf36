"""The brokerage-session lifecycle (issue 14): a new live session token re-initialises the
brokerage session at once, "no bridge" is a session condition, a sticky competing login
backs off, and every recovery is reported once."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from skimd.clock import SimulatedClock
from skimd.domain.orders import OrderRequest, OrderStatus, OrderType, Side
from skimd.errors import BrokerSessionError
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from tests.fakes.ibkr_server import SNAPSHOT_PATH, FakeIbkr, FakeInstrument, autojump, make_broker

BHP = FakeInstrument("BHP", 4036812, "BHP GROUP LTD", Decimal("44.50"), Decimal("44.90"),
                     Decimal("45.10"), Decimal("45.09"), Decimal("45.11"), volume=1_000_000)
ORDERS = "/iserver/account/orders"


def _limit(coid: str) -> OrderRequest:
    return OrderRequest(coid, "BHP", BHP.conid, Side.BUY, 10, OrderType.LMT, Decimal("40.00"))


def _expiry(fake: FakeIbkr) -> datetime:
    return datetime.fromtimestamp(fake.lst_expires_ms / 1000, UTC)


async def test_forced_token_renewal_morning_has_no_failed_calls(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    """A watch loop (order status + snapshot every 10 s) across a forced renewal (IBKR
    forgets the token: 401) and a renewal ahead of expiry: every call succeeds; at most the
    one call that met the dropped bridge is answered "no bridge" (and retried)."""
    fake.add_instrument(BHP)
    fake.lst_lifetime_s = 3600  # renewed ahead of expiry (600 s margin) within the hour
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        await broker.connect()
        placed = await broker.place_order(_limit("coid-watch"))
        for tick in range(360):
            if tick == 30:
                fake.expire_lst()
            state = await broker.order_status(placed.broker_order_id)
            assert state.status is OrderStatus.SUBMITTED
            assert (await broker.snapshots([BHP.conid]))[0].conid == BHP.conid
            await clock.sleep(10)
        await broker.close()
    await client.aclose()
    assert fake.lst_issued == 3  # connect, the forced renewal, the one ahead of expiry
    assert fake.bridge.no_bridge_answers == 1  # the call that met the 401, retried
    assert not fake.calls_to(ORDERS)  # never fell back to the 1-per-5-s list
    drops = [at for at, why in fake.bridge.drops if why == "new live session token"]
    assert len(drops) == 2
    for dropped in drops:  # re-initialised at once after each new token
        assert any(dropped <= at < dropped + 2 for at in fake.bridge.init_at)
    assert [e.kind for e in events.events] == ["session_renewed"] * 3
    assert events.events[-1].until == _expiry(fake)


async def test_session_renewed_reports_each_new_token_with_its_expiry(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        await broker.connect()
        first = _expiry(fake)
        fake.expire_lst()
        # the next tickle (at 60 s) meets the 401 and derives a new token; its re-signed
        # retry waits for the tickle's 1-per-second turn, so allow a few seconds
        await clock.sleep(65)
        await broker.close()
    await client.aclose()
    assert [(e.kind, e.until) for e in events.events] == [
        ("session_renewed", first), ("session_renewed", _expiry(fake))
    ]
    assert _expiry(fake) > first
    assert fake.authenticated  # re-initialised, not left for a later tickle to notice


async def test_no_bridge_on_order_status_reinitialises_and_retries(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.add_instrument(BHP)
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        await broker.connect()
        placed = await broker.place_order(_limit("coid-nb"))
        inits = fake.init_calls
        fake.drop_bridge()
        state = await broker.order_status(placed.broker_order_id)
        await broker.close()
    await client.aclose()
    assert state.broker_order_id == placed.broker_order_id
    assert state.client_order_id == "coid-nb"
    assert fake.init_calls == inits + 1 and fake.bridge.no_bridge_answers == 1
    assert not fake.calls_to(ORDERS)  # not taken for an unknown order id
    assert "session_lost" not in events.kinds()  # one re-init fixed it


async def test_no_bridge_that_does_not_come_back_is_a_session_error(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.add_instrument(BHP)
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        await broker.connect()
        placed = await broker.place_order(_limit("coid-down"))
        reset_at = clock.now()
        fake.nightly_reset(duration_s=600)
        with pytest.raises(BrokerSessionError):
            await broker.order_status(placed.broker_order_id)
        reached = len(fake.calls)
        with pytest.raises(BrokerSessionError, match="retry"):  # known down: not sent
            await broker.snapshots([BHP.conid])
        assert len(fake.calls) == reached
        await broker.close()
    await client.aclose()
    assert not fake.calls_to(ORDERS)
    lost = [e for e in events.events if e.kind == "session_lost"]
    assert len(lost) == 1 and lost[0].until is not None and lost[0].until > reset_at


async def test_order_post_meeting_no_bridge_is_looked_up_then_sent_once(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    """IBKR forgets the token just before an order: the re-sent POST meets the dropped
    bridge (400 "no bridge": not accepted). It is not resent blindly: after the re-init it
    is looked up by its cOID, and sent again only because it is not there."""
    fake.add_instrument(BHP)
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        fake.expire_lst()
        state = await broker.place_order(_limit("coid-post"))
        await broker.close()
    await client.aclose()
    assert state.client_order_id == "coid-post" and len(fake.orders) == 1
    assert fake.order_posts == 1 and fake.bridge.no_bridge_answers == 1
    assert len(fake.calls_to(ORDERS)) == 1  # the lookup by cOID


async def test_sticky_competing_login_one_event_backoff_then_restored_once(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.add_instrument(BHP)
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    await broker.connect()
    start = clock.monotonic()
    taken_at = clock.now()
    fake.take_session(sticky=4)
    await clock.run_until(clock.now() + timedelta(minutes=5))
    snapshots = len(fake.calls_to(SNAPSHOT_PATH))
    with pytest.raises(BrokerSessionError, match="another login"):
        await broker.snapshots([BHP.conid])
    assert len(fake.calls_to(SNAPSHOT_PATH)) == snapshots  # paused, not hammering IBKR
    await clock.run_until(clock.now() + timedelta(minutes=55))
    inits = [at - start for at in fake.bridge.init_at[1:]]
    gaps = [b - a for a, b in itertools.pairwise(inits)]
    assert len(inits) == 5  # four lost to the other login, the fifth wins
    assert gaps == sorted(gaps) and gaps[0] >= 119 and max(gaps) <= 900
    assert events.kinds() == ["session_renewed", "session_competing", "session_restored"]
    competing = events.events[1]
    assert competing.until is not None and competing.until > taken_at
    late_tickles = [c for c in fake.calls_to("/tickle") if c.at > clock.monotonic() - 600]
    assert len(late_tickles) >= 9  # the keep-alive is still running
    async with autojump(clock):
        assert (await broker.snapshots([BHP.conid]))[0].conid == BHP.conid
    await broker.close()
    await client.aclose()


async def test_reset_that_outlasts_a_reinit_is_lost_then_restored_once(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    await broker.connect()
    fake.nightly_reset(duration_s=300)
    await clock.run_until(clock.now() + timedelta(minutes=30))
    assert events.kinds() == ["session_renewed", "session_lost", "session_restored"]
    lost = events.events[1]
    assert lost.detail and lost.until is not None
    assert (await broker.health()).ok
    await broker.close()
    await client.aclose()


class _ContextRecorder(RecordingBrokerEvents):
    """Records, with each event, the structlog context it was reported in."""

    def __init__(self) -> None:
        super().__init__()
        self.contexts: list[dict[str, Any]] = []

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        self.contexts.append(structlog.contextvars.get_contextvars())
        super().session_lost(reason, retry_at)


async def test_keep_alive_does_not_log_in_the_warmup_context(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = _ContextRecorder()
    broker, client = make_broker(fake, tmp_path, events=events)
    with structlog.contextvars.bound_contextvars(job="warmup"):
        await broker.connect()  # the warm-up job connects; the keep-alive starts here
    fake.nightly_reset(duration_s=300)
    await clock.run_until(clock.now() + timedelta(minutes=2))
    await broker.close()
    await client.aclose()
    assert events.kinds()[-1] == "session_lost"
    assert "job" not in events.contexts[-1]


async def test_cancel_meeting_no_bridge_is_sent_again_once_the_session_is_back(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.add_instrument(BHP)
    broker, client = make_broker(fake, tmp_path)
    async with autojump(clock):
        await broker.connect()
        placed = await broker.place_order(_limit("coid-cancel"))
        fake.expire_lst()
        state = await broker.cancel_order(placed.broker_order_id)
        await broker.close()
    await client.aclose()
    assert state.status is OrderStatus.CANCELLED
    assert fake.bridge.no_bridge_answers == 1
    deletes = [c for c in fake.calls if c.method == "DELETE"]
    # 401 (the forgotten token), re-signed: "no bridge", and again after the re-init
    assert len(deletes) == 3


async def test_init_waits_for_authenticated_on_the_clock_within_a_bound(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    """``ssodh/init`` may answer before the session is up: poll the status until it is
    (here 3 s), but not for ever (a 60-s settle is given up after the bound)."""
    fake.init_settle_s = 3
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    async with autojump(clock):
        started = clock.monotonic()
        assert (await broker.connect()).ok
        assert 3 <= clock.monotonic() - started < 5
        assert len(fake.calls_to("/iserver/auth/status")) >= 3
        fake.init_settle_s = 60
        fake.drop_bridge()
        before = clock.monotonic()
        with pytest.raises(BrokerSessionError):
            await broker.snapshots([1])
        waited = clock.monotonic() - before
        await broker.close()
    await client.aclose()
    assert 15 <= waited <= 30
    assert events.kinds() == ["session_renewed", "session_lost"]


async def test_connect_retried_during_a_competing_login_does_not_fight_it(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    """The trading jobs call ``connect()`` every poll until it works: while the other login
    holds the session, those calls answer from the known state instead of a new init."""
    events = RecordingBrokerEvents()
    fake.take_session()
    fake.other_login_holds = True
    broker, client = make_broker(fake, tmp_path, events=events)
    for _ in range(10):
        with pytest.raises(BrokerSessionError, match="another login"):
            await broker.connect()
        clock.advance(5)
    assert fake.init_calls == 1
    assert events.kinds() == ["session_renewed", "session_competing"]
    await broker.close()
    await client.aclose()
