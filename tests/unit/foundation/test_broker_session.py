"""The daemon's view of the broker session: one alert per outage and one when it ends,
every transition recorded, the pause and its way out when the broker never says
"restored"."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.account import SessionHealth
from skimd.domain.alert_text import describe
from skimd.domain.alerts import BrokerSessionLost, BrokerSessionRestored, HeldPosition
from skimd.domain.broker_session import SessionState
from skimd.domain.protection import Cover
from skimd.domain.trading import (
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    client_order_id,
)
from skimd.infrastructure.alert_codec import alert_from_payload, to_payload
from skimd.services.broker_session import BrokerSessionMonitor
from tests.fakes.trading_store import FakeTradingStore

T0 = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 10:30 in Sydney on the 24th
DAY = date(2026, 11, 24)
HEALTHY = SessionHealth(authenticated=True, competing=False, connected=True)


def make(
    probe_every_s: float = 60.0,
) -> tuple[BrokerSessionMonitor, FakeTradingStore, SimulatedClock]:
    store, clock = FakeTradingStore(), SimulatedClock(T0)
    monitor = BrokerSessionMonitor(store, clock, broker="ibkr", probe_every_s=probe_every_s)
    return monitor, store, clock


def recorded(store: FakeTradingStore):  # type: ignore[no-untyped-def]
    with store.read() as tx:
        return tx.last_session()


def hold_position(store: FakeTradingStore, *, resting_stop: bool) -> None:
    with store.transaction() as tx:
        pos = tx.save_position(
            PositionRecord(
                ticker="VPL",
                qty=300,
                avg_price=Decimal("4.10"),
                entry_date=DAY,
                opened_at=T0,
                conid=9,
                stop=Decimal("3.95"),
            )
        )
        if resting_stop:
            tx.add_intent(
                IntentRecord(
                    client_order_id=client_order_id(
                        DAY, "VPL", IntentPurpose.STOP, position_id=pos.id
                    ),
                    ticker="VPL",
                    conid=9,
                    side="SELL",
                    qty=300,
                    order_type="STP",
                    purpose=IntentPurpose.STOP,
                    created_at=T0,
                    status=IntentStatus.SUBMITTED,
                    stop_price=Decimal("3.95"),
                    position_id=pos.id,
                )
            )


async def test_an_outage_is_alerted_once_paused_and_restored_once() -> None:
    monitor, store, clock = make()
    monitor.observed(HEALTHY)  # the connect
    assert store.alert_kinds() == [] and recorded(store).state is SessionState.UP

    clock.advance(60)
    retry = clock.now() + timedelta(seconds=30)
    for _ in range(12):  # every failing call of a dead session reports it
        monitor.lost("Bad Request: no bridge", retry)
        monitor.failed(RuntimeError("the job's own error"))
        clock.advance(2)
    (lost,) = store.alerts
    assert isinstance(lost, BrokerSessionLost) and lost.paused and lost.retry_at == retry
    assert lost.reason == "Bad Request: no bridge" and not lost.taken_by_other_login
    assert await monitor.hold() is not None  # the market-data and order jobs wait
    rec = recorded(store)
    assert rec.state is SessionState.LOST and rec.paused_until == retry
    assert rec.since == T0 + timedelta(seconds=60)

    clock.advance(100)
    monitor.restored()
    monitor.restored()  # once per recovery, even when told twice
    assert store.alert_kinds() == ["broker_session_lost", "broker_session_restored"]
    restored = store.alerts[-1]
    assert isinstance(restored, BrokerSessionRestored)
    assert restored.down_since == T0 + timedelta(seconds=60) and restored.down_for_s == 124.0
    assert "after 2 min 4 s" in describe(restored).title
    assert await monitor.hold() is None
    assert recorded(store).state is SessionState.UP and recorded(store).paused_until is None


async def test_a_login_that_stays_competing_is_one_alert_with_each_retry_recorded() -> None:
    monitor, store, clock = make()
    retry = T0 + timedelta(minutes=1)
    monitor.competing(retry)
    for backoff in (2, 4, 8):  # the adapter backs off and says when it tries again
        clock.advance(60)
        monitor.competing(clock.now() + timedelta(minutes=backoff))
        monitor.failed(RuntimeError("no bridge"))  # the call that met it fails too
    (alert,) = store.alerts
    assert isinstance(alert, BrokerSessionLost) and alert.taken_by_other_login
    rec = recorded(store)
    assert rec.state is SessionState.COMPETING and rec.since == T0
    assert rec.paused_until == T0 + timedelta(minutes=3 + 8)
    reason = await monitor.hold()
    assert reason is not None and "taken by another login" in reason
    monitor.restored()
    restored = store.alerts[-1]
    assert isinstance(restored, BrokerSessionRestored) and restored.taken_by_other_login


async def test_the_pause_alert_names_each_open_position_and_what_protects_it() -> None:
    monitor, store, _ = make()
    hold_position(store, resting_stop=True)
    monitor.lost("nightly reset")
    (alert,) = store.alerts
    assert isinstance(alert, BrokerSessionLost)
    assert alert.positions == (
        HeldPosition(symbol="VPL", quantity=300, cover=Cover.BROKER_STOP, stop=Decimal("3.95")),
    )
    text = describe(alert).summary
    assert "paused until the session is back" in text
    assert "VPL 300 sh: resting stop at the broker at 3.95 still works" in text
    assert alert_from_payload(to_payload(alert)) == alert  # the outbox can store it


async def test_a_position_with_only_the_software_stop_is_said_to_be_unprotected() -> None:
    monitor, store, _ = make()
    hold_position(store, resting_stop=False)
    monitor.competing()
    (alert,) = store.alerts
    assert isinstance(alert, BrokerSessionLost)
    assert [p.cover for p in alert.positions] == [Cover.SOFTWARE_STOP]
    assert "VPL 300 sh: NOT PROTECTED: its software stop at 3.95 cannot act" in (
        describe(alert).summary
    )


async def test_without_restored_the_probe_lets_jobs_run_once_the_session_is_back() -> None:
    monitor, store, clock = make(probe_every_s=60)
    answers = [SessionHealth(False, True, True, "competing"), HEALTHY]
    probes: list[datetime] = []

    async def probe() -> SessionHealth:
        probes.append(clock.now())
        return answers.pop(0)

    monitor.probe_with(probe)
    retry = T0 + timedelta(seconds=30)
    monitor.lost("no bridge", retry)
    for _ in range(17):  # held jobs every 5 s until 85 s: no probe before retry + 60 s
        assert await monitor.hold() is not None
        clock.advance(5)
    assert probes == []
    clock.advance_to(retry + timedelta(seconds=60))
    assert await monitor.hold() is not None  # probed: competing now
    assert await monitor.hold() is not None  # not probed again within the minute
    assert probes == [retry + timedelta(seconds=60)]
    assert recorded(store).state is SessionState.COMPETING
    clock.advance(60)
    assert await monitor.hold() is None  # probed: authenticated, so the job runs
    assert store.alert_kinds() == ["broker_session_lost", "broker_session_restored"]


async def test_renewals_are_recorded_and_a_shutdown_marks_the_record() -> None:
    monitor, store, clock = make()
    monitor.renewed(T0 + timedelta(hours=24))  # before anything else is known
    assert recorded(store) is None
    monitor.observed(HEALTHY)
    rec = recorded(store)
    assert rec.renewed_at == T0 and rec.renewal_expires_at == T0 + timedelta(hours=24)
    clock.advance(3600)
    monitor.renewed(None)
    assert recorded(store).renewed_at == T0 + timedelta(hours=1)
    assert store.alerts == []  # a renewal is recorded, not alerted
    clock.advance(60)
    monitor.daemon_stopped()
    assert recorded(store).stopped_at == clock.now()


async def test_a_refusing_database_never_raises_and_the_jobs_still_pause() -> None:
    store, clock = FakeTradingStore(), SimulatedClock(T0)

    class Refusing(FakeTradingStore):
        def transaction(self):  # type: ignore[no-untyped-def, override]
            raise OSError("database is locked")

    monitor = BrokerSessionMonitor(Refusing(), clock, broker="ibkr")
    monitor.lost("gone")
    assert await monitor.hold() is not None
    monitor.restored()
    assert await monitor.hold() is None
    assert store.alerts == []


def test_a_non_positive_probe_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="probe_every_s"):
        BrokerSessionMonitor(FakeTradingStore(), SimulatedClock(T0), broker="x", probe_every_s=0)
