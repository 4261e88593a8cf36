"""``skimd status``: daemon, market, today's trading state and the job plan, read-only."""

from __future__ import annotations

import io
import json
import os
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.commands.status import render
from skimd.domain.broker_session import SessionRecord, SessionState
from skimd.domain.market import Bar
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    client_order_id,
)
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.instance_lock import InstanceLock
from skimd.services.status import SESSION_NOT_RECORDED
from tests.integration.cli.conftest import cli, settings_of

SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 24)
TRADING_JOBS = {"warmup", "purge", "news", "scan", "watch", "end_of_day"}


def _sydney(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), SYDNEY)


def test_without_a_database_status_says_so_and_exits_0(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(config, "status", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["database"]["exists"] is False
    assert report["guard"] is None and report["candidates"] == [] and report["orders"] == []
    assert report["daemon"] == "not running"
    jobs = {j["job"]: j for j in report["jobs"]}
    assert set(jobs) >= TRADING_JOBS
    assert all(j["next_run"] and j["last_run"] is None for j in jobs.values())

    assert cli(config, "status") == 0
    text = capsys.readouterr().out
    assert "database: none yet at " in text and "skimd db init" in text
    assert "last no record" in text


def _seed(settings_path: Path) -> None:
    """Today: one ranging candidate, one open position with a stored close, an entry that
    filled and a stop resting; yesterday: one order (not today's); the switch locked."""
    settings = settings_of(settings_path)
    opened = _sydney(DAY - timedelta(days=1), 10, 20)
    with bootstrap.build(settings) as app:
        store = app.store
        with store.transaction() as tx:
            tx.save_candidate(
                CandidateRecord(
                    scan_date=DAY,
                    ticker="VOK",
                    status=CandidateState.TRADEABLE,
                    conid=101,
                    gap_pct=Decimal("14.75"),
                    prev_close=Decimal("20.95"),
                    open_price=Decimal("24.04"),
                    volume=8_463_492,
                    news_headline="Maiden Mineral Resource Estimate",
                    price_sensitive=True,
                    orh=Decimal("24.50"),
                    orl=Decimal("23.80"),
                ),
                _sydney(DAY, 10, 20),
            )
            pos = tx.save_position(
                PositionRecord(
                    ticker="RJQ",
                    qty=200,
                    avg_price=Decimal("23.91"),
                    entry_date=opened.date(),
                    opened_at=opened,
                    conid=102,
                    stop=Decimal("23.10"),
                )
            )
            tx.save_bars(
                [
                    Bar("RJQ", DAY - timedelta(days=2), *[Decimal("22")] * 4, volume=1),
                    Bar(
                        "RJQ",
                        DAY - timedelta(days=1),
                        Decimal("23.9"),
                        Decimal("25.2"),
                        Decimal("23.5"),
                        Decimal("25.04"),
                        1_000_000,
                    ),
                ]
            )
            tx.add_intent(
                IntentRecord(
                    client_order_id=client_order_id(
                        DAY - timedelta(days=1), "RJQ", IntentPurpose.ENTRY
                    ),
                    ticker="RJQ",
                    conid=102,
                    side="BUY",
                    qty=200,
                    order_type="LMT",
                    purpose=IntentPurpose.ENTRY,
                    created_at=opened,
                    status=IntentStatus.FILLED,
                    limit_price=Decimal("23.95"),
                    filled_qty=200,
                    avg_fill_price=Decimal("23.91"),
                    position_id=pos.id,
                )
            )
            tx.add_intent(
                IntentRecord(
                    client_order_id=client_order_id(
                        DAY, "RJQ", IntentPurpose.STOP, position_id=pos.id
                    ),
                    ticker="RJQ",
                    conid=102,
                    side="SELL",
                    qty=200,
                    order_type="STP",
                    purpose=IntentPurpose.STOP,
                    created_at=_sydney(DAY, 9, 46),
                    status=IntentStatus.SUBMITTED,
                    stop_price=Decimal("23.10"),
                    position_id=pos.id,
                )
            )
            tx.lock_guard("loss cap review", _sydney(DAY, 10, 30))
    db = open_trading_database(settings, create=False)
    try:
        with db.unit_of_work() as uow:
            run = uow.job_runs.start("scan", _sydney(DAY, 10, 14))
            assert run.id is not None
            uow.job_runs.finish(run.id, _sydney(DAY, 10, 14), "ok", "3 gap candidates (1 new)")
    finally:
        db.close()


def test_status_reports_todays_trading_from_the_database(initialised: Path) -> None:
    _seed(initialised)
    clock = SimulatedClock(_sydney(DAY, 11, 0))
    with bootstrap.build(settings_of(initialised), clock=clock) as app:
        report = app.status_report()

    assert report["market"] == "open; today 10:00-16:00"
    assert report["database"]["exists"] is True
    assert report["broker"]["kind"] == "demo"
    assert report["broker"]["session"] == SESSION_NOT_RECORDED
    assert report["broker"]["state"] == "unknown" and report["broker"]["paused"] is False
    assert report["guard"]["locked"] is True and report["guard"]["reason"] == "loss cap review"

    (cand,) = report["candidates"]
    assert cand == {
        "ticker": "VOK",
        "state": "tradeable",
        "gap_pct": "14.75",
        "open": "24.04",
        "prev_close": "20.95",
        "volume": 8_463_492,
        "price_sensitive": True,
        "news_headline": "Maiden Mineral Resource Estimate",
        "orh": "24.50",
        "orl": "23.80",
    }

    (pos,) = report["positions"]
    assert pos["ticker"] == "RJQ" and pos["qty"] == 200
    assert Decimal(pos["avg_price"]) == Decimal("23.91") and Decimal(pos["stop"]) == Decimal("23.1")
    assert Decimal(pos["last_price"]) == Decimal("25.04")
    assert pos["last_price_date"] == "2026-11-23"
    assert Decimal(pos["unrealised_pnl"]) == (Decimal("25.04") - Decimal("23.91")) * 200

    (order,) = report["orders"]  # yesterday's entry is not one of today's orders
    assert order["client_order_id"].startswith("SK20261124-RJQ-S")
    assert (order["side"], order["qty"], order["order_type"]) == ("SELL", 200, "STP")
    assert (order["status"], order["filled_qty"]) == ("submitted", 0)

    jobs = {j["job"]: j for j in report["jobs"]}
    assert jobs["scan"]["last_run"]["outcome"] == "ok"
    assert jobs["scan"]["last_run"]["message"] == "3 gap candidates (1 new)"
    assert jobs["watch"]["last_run"] is None
    assert jobs["watch"]["next_run"] == _sydney(DAY, 11, 0).isoformat()
    assert jobs["end_of_day"]["next_run"] == _sydney(DAY, 16, 15).isoformat()
    assert jobs["warmup"]["next_run"] == _sydney(DAY + timedelta(days=1), 9, 45).isoformat()

    out = io.StringIO()
    render(report, out)
    text = out.getvalue()
    assert "guard: LOCKED since" in text and "loss cap review" in text
    assert "candidates today: 1" in text and "VOK" in text and "price-sensitive news" in text
    assert "open positions: 1" in text and "unrealised 226" in text
    assert "orders today: 1" in text and "SK20261124-RJQ-S" in text
    assert "last ok at " in text and "last no record" in text
    assert f"session {SESSION_NOT_RECORDED}" in text


def test_next_runs_skip_holidays_and_wait_for_the_open(initialised: Path) -> None:
    # Christmas Eve 2026 closes early; the 25th, the weekend and Boxing Day (Mon 28th) are shut.
    clock = SimulatedClock(_sydney(date(2026, 12, 24), 20, 1))
    with bootstrap.build(settings_of(initialised), clock=clock) as app:
        report = app.status_report()
    jobs = {j["job"]: j["next_run"] for j in report["jobs"]}
    assert report["market"] == "closed; today 10:00-14:10 (early close)"
    assert jobs["watch"] == _sydney(date(2026, 12, 29), 10, 0).isoformat()
    assert jobs["warmup"] == _sydney(date(2026, 12, 29), 9, 45).isoformat()
    assert jobs["news"] == _sydney(date(2026, 12, 24), 20, 5).isoformat()


def test_status_works_while_the_daemon_runs(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(initialised)
    daemon = InstanceLock(tmp_path / "data")
    daemon.acquire()
    try:
        assert cli(initialised, "status", "--json") == 0
    finally:
        daemon.release()
    report = json.loads(capsys.readouterr().out)
    assert report["pid"] == os.getpid() and report["daemon"] == f"running (pid {os.getpid()})"
    assert report["guard"]["locked"] is True
    assert {"candidates", "positions", "orders", "broker", "jobs"} <= set(report)
    assert [p["ticker"] for p in report["positions"]] == ["RJQ"]


def _record(settings_path: Path, record: SessionRecord) -> None:
    with bootstrap.build(settings_of(settings_path)) as app, app.store.transaction() as tx:
        tx.record_session(record)


def _status_while_running(
    settings_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], str]:
    daemon = InstanceLock(tmp_path / "data")
    daemon.acquire()
    try:
        assert cli(settings_path, "status", "--json") == 0
        report = json.loads(capsys.readouterr().out)
        assert cli(settings_path, "status") == 0
        text = capsys.readouterr().out
    finally:
        daemon.release()
    return report["broker"], text


def test_status_shows_a_competing_session_paused_until_its_retry_and_the_last_renewal(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    since = _sydney(DAY, 10, 3)
    _record(
        initialised,
        SessionRecord(
            state=SessionState.COMPETING,
            at=since + timedelta(minutes=2),
            since=since,
            reason="another login is competing for the brokerage session",
            paused_until=since + timedelta(minutes=4),
            renewed_at=_sydney(DAY, 9, 44),
            renewal_expires_at=_sydney(DAY + timedelta(days=1), 9, 44),
        ),
    )
    broker, text = _status_while_running(initialised, tmp_path, capsys)
    assert broker["state"] == "competing" and broker["current"] is True
    assert broker["paused"] is True and broker["paused_until"] == _sydney(DAY, 10, 7).isoformat()
    assert broker["since"] == since.isoformat()
    assert broker["last_renewal"] == _sydney(DAY, 9, 44).isoformat()
    assert (
        "session COMPETING (taken by another login) since 2026-11-24 10:03:00: another login is "
        "competing for the brokerage session; market-data and order jobs paused until "
        "2026-11-24 10:07:00; last renewal 2026-11-24 09:44:00, expires 2026-11-25 09:44:00"
    ) in text
    assert "session ok" not in text


def test_status_never_shows_a_stopped_daemons_session_as_current(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    up = SessionRecord(state=SessionState.UP, at=_sydney(DAY, 9, 58), since=_sydney(DAY, 9, 45))
    _record(initialised, up.moved(_sydney(DAY, 16, 30), stopped_at=_sydney(DAY, 16, 30)))
    assert cli(initialised, "status", "--json") == 0  # no daemon now
    broker = json.loads(capsys.readouterr().out)["broker"]
    assert broker["state"] == "unknown" and broker["current"] is False
    assert broker["last_recorded_state"] == "authenticated"
    assert broker["daemon_stopped_at"] == _sydney(DAY, 16, 30).isoformat()
    assert cli(initialised, "status") == 0
    assert (
        "session unknown: no daemon running (last: authenticated since 2026-11-24 09:45:00, "
        "recorded 2026-11-24 16:30:00 by a daemon that stopped at 2026-11-24 16:30:00)"
    ) in capsys.readouterr().out

    # a new daemon that has not recorded anything yet: still not shown as current
    broker, text = _status_while_running(initialised, tmp_path, capsys)
    assert broker["state"] == "unknown" and broker["paused"] is False
    assert "session unknown: not yet recorded by this daemon" in text


def test_status_reads_a_session_recorded_by_an_earlier_version(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_of(initialised)
    db = open_trading_database(settings, create=False)
    try:
        with db.unit_of_work() as uow:  # the health-check form version 1 wrote
            uow.settings.set_user(
                "daemon.broker_session",
                {
                    "connected": True,
                    "authenticated": False,
                    "competing": False,
                    "message": "IBKR brokerage session not authenticated",
                    "at": _sydney(DAY, 9, 58).isoformat(),
                },
                _sydney(DAY, 9, 58),
            )
    finally:
        db.close()
    broker, text = _status_while_running(initialised, tmp_path, capsys)
    assert broker["state"] == "lost" and broker["reason"] == (
        "IBKR brokerage session not authenticated"
    )
    assert "session LOST: IBKR brokerage session not authenticated" in text
