"""Candidate alerts without the noise, on the demo market and a real database file: one
alert per ticker and day whether news or the gap scan finds it first (also across a
restart), and news too late to trade today sent once, as one digest after the close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.domain.market import Announcement
from skimd.domain.trading import CandidateSource
from tests.integration.trading.desk import DAY, MARKET, Desk, make_desk, with_params


@pytest.fixture
async def restartable(data_dir: Path) -> AsyncIterator[list[Desk]]:
    """Desks over one data dir, the last one open: a restart appends a new one."""
    desks = [make_desk(data_dir)]
    await desks[0].broker.connect()
    yield desks
    desks[-1].close()


async def _restart(desks: list[Desk]) -> Desk:
    old = desks[-1]
    old.close()
    new = make_desk(_data_dir(old), clock=old.clock)
    await new.broker.connect()
    new.day.ctx.params = old.ctx.params
    desks.append(new)
    return new


def _data_dir(desk: Desk) -> Path:
    data_dir = desk.app.data_dir
    assert isinstance(data_dir, Path)
    return data_dir


def _sensitive(until: datetime) -> dict[str, Announcement]:
    first: dict[str, Announcement] = {}
    for a in MARKET.announcements(DAY, until=until):
        if a.price_sensitive:
            first.setdefault(a.symbol, a)
    return first


def _symbols(desk: Desk, kind: str) -> list[str]:
    return [a["symbol"] for a in desk.alerts(kind)]


async def test_a_ticker_is_alerted_once_a_day_by_news_or_gap_across_a_restart(
    restartable: list[Desk],
) -> None:
    desk = restartable[-1]
    desk.at(DAY, 10, 5)
    news = await desk.day.scanner.scan_news()
    outcome = await desk.day.scanner.scan_gaps()
    both = {a.symbol for a in news} & set(outcome.new)
    assert both, "the seeded day has gappers that had news first"
    alerted = _symbols(desk, "candidate_found")
    assert sorted(alerted) == sorted({a.symbol for a in news} | set(outcome.new))
    by_symbol = {a["symbol"]: a for a in desk.alerts("candidate_found")}
    assert {by_symbol[s]["source"] for s in both} == {CandidateSource.NEWS.value}
    with desk.ctx.store.read() as tx:
        assert {c.ticker for c in tx.candidates(DAY)} >= both, "the candidates are all kept"

    desk = await _restart(restartable)
    desk.at(DAY, 10, 10)
    await desk.day.scanner.scan_news()
    await desk.day.scanner.scan_gaps()
    assert sorted(_symbols(desk, "candidate_found")) == sorted(alerted), "nothing said twice"


async def test_a_gap_first_then_its_news_is_one_alert(restartable: list[Desk]) -> None:
    desk = restartable[-1]
    feed, desk.day.ctx.news = desk.ctx.news, None  # the news page is not read yet
    desk.at(DAY, 10, 5)
    gaps = await desk.day.scanner.scan_gaps()
    assert sorted(_symbols(desk, "candidate_found")) == sorted(gaps.new)
    desk.day.ctx.news = feed
    desk.at(DAY, 10, 6)
    news = {a.symbol for a in await desk.day.scanner.scan_news()}
    assert set(gaps.new) & news, "gappers whose news is read after their gap"
    alerts = desk.alerts("candidate_found")
    assert sorted(a["symbol"] for a in alerts) == sorted(set(gaps.new) | news)
    gap_first = {a["symbol"]: a["source"] for a in alerts if a["symbol"] in gaps.new}
    assert set(gap_first.values()) == {CandidateSource.GAP.value}
    with desk.ctx.store.read() as tx:  # the candidate still gets its news
        marked = {c.ticker for c in tx.candidates(DAY) if c.price_sensitive}
    assert set(gaps.new) & news <= marked


async def test_late_news_goes_into_one_digest_after_the_close(restartable: list[Desk]) -> None:
    desk = restartable[-1]
    close = datetime.combine(DAY, time(16, 0), desk.calendar.zone)
    window = datetime.combine(DAY, desk.ctx.params.scan_until, desk.calendar.zone)
    late = sorted(
        (a for a in _sensitive(close).values() if a.released_at > window),
        key=lambda a: (a.released_at, a.symbol),
    )
    assert len(late) >= 2, "the seeded day has news after scan_until"

    for hh, mm in [(9, 30), (10, 5), (10, 30), (12, 30), (15, 55)]:
        desk.at(DAY, hh, mm)
        assert (await desk.day.news()).endswith("price-sensitive announcements")
    sent_alone = set(_symbols(desk, "candidate_found"))
    assert sent_alone and not sent_alone & {a.symbol for a in late}, "late ones wait"
    assert desk.alerts("late_candidates") == []

    desk.at(DAY, 16, 0)
    assert await desk.day.news() == f"{len(late)} late candidates"
    (digest,) = desk.alerts("late_candidates")
    assert [c["symbol"] for c in digest["candidates"]] == [a.symbol for a in late]
    assert [c["headline"] for c in digest["candidates"]] == [a.headline for a in late]
    assert digest["window_closed_at"] == window.isoformat()
    desk.at(DAY, 16, 5)
    await desk.day.news()
    assert len(desk.alerts("late_candidates")) == 1

    desk = await _restart(restartable)
    desk.at(DAY, 16, 10)
    assert (await desk.day.news()).endswith("(sent before)")
    assert len(desk.alerts("late_candidates")) == 1, "a restart does not send it again"


async def test_the_digest_leaves_out_tickers_already_alerted_as_gap_candidates(
    restartable: list[Desk],
) -> None:
    desk = with_params(restartable[-1], scan_until=time(9, 55))  # QMT's news is late now
    close = datetime.combine(DAY, time(16, 0), desk.calendar.zone)
    window = datetime.combine(DAY, time(9, 55), desk.calendar.zone)
    late = {s for s, a in _sensitive(close).items() if a.released_at > window}
    assert "QMT" in late
    desk.at(DAY, 10, 0)
    desk.tradeable("QMT", Decimal("2.81"), Decimal("2.77"))  # a candidate alerted by its gap
    desk.at(DAY, 16, 0)
    await desk.day.news()
    (digest,) = desk.alerts("late_candidates")
    assert {c["symbol"] for c in digest["candidates"]} == late - {"QMT"}
