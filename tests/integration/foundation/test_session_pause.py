"""A broker session outage through the real App and supervisor on a demo day: the
market-data and order jobs stop calling the broker while it is down and say so once (with
the open positions and what protects them), run again when it is back and say that once,
no "job failed" alerts for the known outage, and ``skimd status`` shows what is true."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import Settings, load_settings
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.daemon_alerts import AlertingBrokerEvents
from tests.fakes.notifiers import RecordingNotifier
from tests.fakes.session_broker import ForwardingEvents, SessionBroker

SYD = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 24)
MARKET = DemoMarket(seed=7, universe_size=300, calendar=AsxCalendar("Australia/Sydney"))


def at(hh: int, mm: int) -> datetime:
    return datetime.combine(DAY, time(hh, mm), SYD)


Fault = Callable[[SessionBroker, datetime], None]


def competing_login(broker: SessionBroker, now: datetime) -> None:
    """Taken at 10:40; the adapter retries with a growing back-off; back at 10:46."""
    if at(10, 40) <= now < at(10, 46):
        broker.take(retry_at=now + timedelta(minutes=2))
    elif now == at(10, 46):
        broker.restore()


def silent_drop(broker: SessionBroker, now: datetime) -> None:
    """Gone at 10:40 without a word; back (still without a word) at 10:46."""
    if now == at(10, 40):
        broker.drop("Bad Request: no bridge", silent=True)
    elif now == at(10, 46):
        broker.restore(silent=True)


def run_day(settings: Settings, fault: Fault) -> tuple[SessionBroker, list[dict[str, object]]]:
    """The daemon from 09:40 to 11:00 with ``fault`` applied every minute; the broker and
    the alerts the day stored."""
    clock = SimulatedClock(at(9, 40))
    events = ForwardingEvents()
    broker = SessionBroker(MARKET, clock, events)

    async def minute() -> None:
        fault(broker, clock.now().astimezone(SYD))

    async def scenario() -> None:
        app = bootstrap.build(
            settings,
            access=bootstrap.Access.EXCLUSIVE,
            clock=clock,
            broker=broker,
            notifier=RecordingNotifier("alerts"),
            environ={},
            create_database=True,
            extra_jobs=[(bootstrap.internal_job("fault", 60, "the test's faults"), minute)],
        )
        async with app:
            # what App.broker wires for a broker it builds itself
            events.target = AlertingBrokerEvents(
                app.store_alert, clock, broker="demo", session=app.broker_session
            )
            assert await app.run(simulate_until=at(11, 0), install_signals=False) == 0

    asyncio.run(scenario())
    with bootstrap.build(settings) as reader, reader.database.unit_of_work(read_only=True) as uow:
        alerts = [
            {"kind": r.kind, **json.loads(r.payload)["data"]}
            for r in sorted(uow.outbox.list_all(), key=lambda r: r.id or 0)
        ]
    return broker, alerts


@pytest.mark.parametrize("fault", [competing_login, silent_drop])
def test_an_outage_pauses_the_broker_jobs_and_is_said_once_each_way(
    fault: Fault, make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    broker, alerts = run_day(settings, fault)
    kinds = [a["kind"] for a in alerts]
    assert "job_failed" not in kinds, [a for a in alerts if a["kind"] == "job_failed"]
    assert kinds.count("broker_session_lost") == 1
    assert kinds.count("broker_session_restored") == 1
    (lost,) = [a for a in alerts if a["kind"] == "broker_session_lost"]
    (restored,) = [a for a in alerts if a["kind"] == "broker_session_restored"]
    assert lost["paused"] is True
    assert lost["taken_by_other_login"] is (fault is competing_login)
    # every open position is named with what protects it (the demo's resting stops)
    assert lost["positions"] and all(p["cover"] == "broker_stop" for p in lost["positions"])
    down_since = datetime.fromisoformat(str(restored["down_since"]))
    assert at(10, 40) <= down_since < at(10, 41)
    back = datetime.fromisoformat(str(restored["occurred_at"]))
    assert at(10, 46) <= back <= at(10, 48)
    # at most the call that found the outage (none when the broker said so first), then
    # nothing until the session is back (the probe asks the broker's status, not data)
    assert len(broker.calls_while_down) <= (0 if fault is competing_login else 1)

    with bootstrap.build(settings, clock=SimulatedClock(at(11, 5))) as reader:
        session = reader.status_report()["broker"]
    assert session["current"] is False and session["state"] == "unknown"
    assert session["last_recorded_state"] == "authenticated"
    assert session["daemon_stopped_at"] == at(11, 0).isoformat()
    assert session["session"].startswith("unknown: no daemon running (last: authenticated since ")
