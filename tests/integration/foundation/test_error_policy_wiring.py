"""The error policy through the real App: a trading halt locks the stored kill switch with
its alert and the daemon goes on; a fatal error stops ``App.run`` with the error's code."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import Settings, load_settings
from skimd.domain.account import SessionHealth
from skimd.errors import EX_SOFTWARE, BrokerAuthError, FatalError, SkimdError
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import NullBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from tests.fakes.notifiers import RecordingNotifier

SYD = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 24)


class FailingConnect(DemoBroker):
    """The demo market whose session cannot be opened: ``connect`` raises ``error``."""

    def __init__(self, clock: SimulatedClock, error: SkimdError) -> None:
        super().__init__(
            DemoMarket(seed=7, universe_size=50, calendar=AsxCalendar(zone="Australia/Sydney")),
            clock,
            events=NullBrokerEvents(),
            identifier_cache=InMemoryIdentifierCache(),
        )
        self.error = error

    async def connect(self) -> SessionHealth:
        raise self.error


def _day(settings: Settings, error: SkimdError) -> tuple[int, list[dict[str, object]]]:
    """Run the daemon from 09:40 to 10:00 with a broker failing ``error`` at the warm-up;
    the exit code and the alerts stored in the outbox."""
    clock = SimulatedClock(datetime.combine(DAY, time(9, 40), SYD))
    broker = FailingConnect(clock, error)

    async def scenario() -> int:
        app = bootstrap.build(
            settings,
            access=bootstrap.Access.EXCLUSIVE,
            clock=clock,
            broker=broker,
            notifier=RecordingNotifier("alerts"),
            environ={},
            create_database=True,
        )
        async with app:
            return await app.run(
                simulate_until=datetime.combine(DAY, time(10, 0), SYD), install_signals=False
            )

    code = asyncio.run(scenario())
    with bootstrap.build(settings) as reader, reader.database.unit_of_work(read_only=True) as uow:
        alerts = [
            {"kind": r.kind, **json.loads(r.payload)["data"]}
            for r in sorted(uow.outbox.list_all(), key=lambda r: r.id or 0)
        ]
    return code, alerts


def test_an_oauth_failure_locks_the_kill_switch_and_the_daemon_runs_on(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    code, alerts = _day(settings, BrokerAuthError("live session token signature mismatch"))
    assert code == 0, "a halt is not a stop: open positions are still managed"
    with bootstrap.build(settings) as reader:
        state = reader.kill_switch.state()
    assert state.locked and "BrokerAuthError: live session token signature mismatch" in (
        state.reason or ""
    )
    tripped = [a for a in alerts if a["kind"] == "guard_tripped"]
    assert len(tripped) == 1 and "LOCKED by the daemon" in str(tripped[0]["detail"])
    assert [a["kind"] for a in alerts][-1] == "daemon_stopping"


def test_a_fatal_error_stops_the_daemon_with_its_code_and_says_why(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    code, alerts = _day(settings, FatalError("demo broker book cannot be written"))
    assert code == EX_SOFTWARE
    stopping = [a for a in alerts if a["kind"] == "daemon_stopping"]
    assert len(stopping) == 1
    assert "job warmup failed: FatalError: demo broker book cannot be written" in str(
        stopping[0]["reason"]
    )
    with bootstrap.build(settings) as reader:
        assert reader.kill_switch.state().locked is False
