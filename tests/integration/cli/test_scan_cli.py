"""``skimd scan``: the daemon's news and gap scans run once, on the demo market, with the
instance lock held; refused while a daemon runs on the data dir."""

from __future__ import annotations

import io
import json
import os
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.commands import scan
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.instance_lock import InstanceLock
from tests.integration.cli.conftest import cli, settings_of

SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 24)  # a Tuesday with gappers and price-sensitive news (seed 7)


def _at(hh: int, mm: int) -> SimulatedClock:
    return SimulatedClock(datetime.combine(DAY, time(hh, mm), SYDNEY))


async def test_scan_prints_todays_gappers_and_news(initialised: Path) -> None:
    settings = settings_of(initialised)
    clock = _at(10, 5)
    alerts = io.StringIO()
    report = await scan.scan_now(settings, clock=clock, alerts_to=alerts)

    market = DemoMarket(
        seed=settings.demo.seed,
        universe_size=settings.demo.universe_size,
        calendar=bootstrap.build_calendar(settings),
    )
    expected = {
        g.symbol
        for g in market.gaps(clock.now())
        if g.gap_pct >= Decimal("4") and g.open >= Decimal("0.20") and g.volume >= 20_000
    }
    rows = report["candidates"]
    assert {c["ticker"] for c in rows} == expected and expected
    assert all(Decimal(c["gap_pct"]) >= 4 and c["new"] for c in rows)
    assert all(c["state"] == "ranging" and c["open"] and c["prev_close"] for c in rows)
    with_news = [c for c in rows if c["price_sensitive"]]
    assert with_news and all(c["news_headline"] for c in with_news)
    sensitive = {
        a.symbol for a in market.announcements(DAY, until=clock.now()) if a.price_sensitive
    }
    assert {n["ticker"] for n in report["news"]} == sensitive
    assert report["date"] == "2026-11-24" and report["market"].startswith("open")
    json.dumps(report)  # JSON-safe as `--json` prints it

    with bootstrap.build(settings) as app:
        store = app.store
        with store.read() as tx:
            saved = {c.ticker for c in tx.candidates(DAY)}
    assert saved == expected, "the scan saves today's candidates as the daemon's job does"
    assert any(c["ticker"] in alerts.getvalue() for c in rows), "alerts went out, not left"

    text = io.StringIO()
    scan.render(report, text)
    lines = text.getvalue().splitlines()
    assert f"gap candidates: {len(rows)}" in lines
    assert f"price-sensitive announcements: {len(sensitive)}" in lines
    top = rows[0]
    assert any(line.split()[:1] == [top["ticker"]] and top["open"] in line for line in lines)

    again = await scan.scan_now(settings, clock=_at(10, 6), alerts_to=io.StringIO())
    assert {c["ticker"] for c in again["candidates"]} == expected
    assert not any(c["new"] for c in again["candidates"]), "a re-scan updates, never duplicates"


async def test_the_scan_holds_the_instance_lock_while_it_runs(initialised: Path) -> None:
    settings = settings_of(initialised)
    assert bootstrap.daemon_pid(settings) is None
    app = bootstrap.build(settings, access=bootstrap.Access.EXCLUSIVE, clock=_at(10, 5))
    async with app:
        assert bootstrap.daemon_pid(settings) == os.getpid()
        assert app.trading.ctx.broker.kind == "demo"
    assert bootstrap.daemon_pid(settings) is None


def test_scan_is_refused_while_a_daemon_runs(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon = InstanceLock(tmp_path / "data")
    daemon.acquire()
    try:
        assert cli(initialised, "scan", "--json") == 69
    finally:
        daemon.release()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"skimd: the daemon (pid {os.getpid()}) scans on its own; see `skimd status`"
    )
    with bootstrap.build(settings_of(initialised)) as app:
        store = app.store
        with store.read() as tx:
            assert tx.candidates(DAY) == [], "nothing scanned"


def test_a_missing_database_fails_in_one_line_and_releases_the_lock(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(config, "scan") == 78
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "skimd db init" in err
    assert bootstrap.daemon_pid(settings_of(config)) is None
