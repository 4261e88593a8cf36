"""Gap and news scans, opening ranges: driven on the demo market with a simulated clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from skimd.domain.market import Announcement
from skimd.domain.trading import CandidateState
from skimd.errors import DataSourceError
from tests.integration.trading.desk import DAY, MARKET, Desk, with_params


def _today(desk: Desk) -> list:  # type: ignore[type-arg]
    with desk.ctx.store.read() as tx:
        return tx.candidates(desk.ctx.today())


async def test_gap_scan_finds_filters_and_upserts(desk: Desk) -> None:
    desk.at(DAY, 10, 5)
    outcome = await desk.day.scanner.scan_gaps()
    found = {g.symbol for g in outcome.gaps}
    expected = {
        g.symbol
        for g in MARKET.gaps(desk.clock.now())
        if g.gap_pct >= Decimal("4") and g.open >= Decimal("0.20") and g.volume >= 20_000
    }
    assert found == expected and found, "the scan returns exactly the filtered gappers"
    assert all(g.gap_pct >= Decimal("4") for g in outcome.gaps)
    rows = _today(desk)
    assert {c.ticker for c in rows} == found
    assert all(c.status is CandidateState.RANGING and c.range_start_at for c in rows)

    desk.at(DAY, 10, 6)
    again = await desk.day.scanner.scan_gaps()
    assert again.new == []
    after = _today(desk)
    assert len(after) == len(rows), "a re-scan updates, never duplicates"
    assert {c.ticker: c.range_start_at for c in after} == {
        c.ticker: c.range_start_at for c in rows
    }, "a re-scan keeps each candidate's range start"
    news = {a.symbol for a in MARKET.announcements(DAY, desk.clock.now()) if a.price_sensitive}
    assert found & news, "the seeded day has gappers with news"
    alerted = [a["symbol"] for a in desk.alerts("candidate_found")]
    assert sorted(alerted) == sorted(found | news), "one candidate alert per ticker"


async def test_stricter_filters_find_fewer(desk: Desk) -> None:
    desk.at(DAY, 10, 8)  # JZP (+14 %, $20.66) has traded min_volume by now
    with_params(desk, min_gap_pct=Decimal("10"), min_price=Decimal("1"))
    outcome = await desk.day.scanner.scan_gaps()
    assert outcome.gaps, "the seeded day has a big gapper"
    assert all(g.gap_pct >= 10 and g.open >= 1 for g in outcome.gaps)


async def test_before_the_open_the_scan_finds_nothing(desk: Desk) -> None:
    desk.at(DAY, 9, 50)
    assert (await desk.day.scanner.scan_gaps()).gaps == []


async def test_nothing_runs_on_a_holiday(desk: Desk) -> None:
    christmas = date(2026, 12, 25)
    desk.at(christmas, 10, 30)
    assert await desk.day.scan() == "after scan_until"
    desk.at(christmas, 10, 10)
    assert (await desk.day.scanner.scan_gaps()).gaps == []
    assert (await desk.day.poll()).startswith("ranges set 0, entries 0")
    assert await desk.day.news() == "outside news hours"
    assert _today(desk) == []


async def test_ranges_then_tradeable_only_with_news(desk: Desk) -> None:
    desk.at(DAY, 10, 3)
    await desk.day.scanner.scan_gaps()
    start = {c.ticker: c for c in _today(desk)}
    # poll every 5 s through the range window
    end = desk.clock.now() + timedelta(minutes=16)
    while desk.clock.now() < end:
        desk.clock.advance(5)
        await desk.day.watch.poll()
    rows = {c.ticker: c for c in _today(desk)}
    for ticker, c in rows.items():
        if c.status is CandidateState.RANGING:
            continue  # first seen late: its range is still forming
        assert c.orh is not None and c.orl is not None and c.orh >= c.orl
        assert c.range_start_at == start[ticker].range_start_at
        expected = CandidateState.TRADEABLE if c.price_sensitive else CandidateState.SKIPPED
        assert c.status in (expected, CandidateState.ENTERED), ticker
        # the range is the market's high/low from the open to the end of the window
        plan = MARKET.plan(ticker, DAY)
        assert c.orh >= plan.open >= c.orl
    assert any(c.status is not CandidateState.RANGING for c in rows.values())
    tradeable = [c for c in rows.values() if c.status is not CandidateState.SKIPPED]
    alerts = {a["symbol"] for a in desk.alerts("tradeable_candidate")}
    assert alerts == {c.ticker for c in tradeable if c.status is not CandidateState.RANGING}


class NoNews:
    async def announcements(self, day: date) -> list[Announcement]:
        return []


@pytest.mark.parametrize(("require_news", "expected"), [(True, "skipped"), (False, "tradeable")])
async def test_without_news_a_gap_is_tradeable_only_when_news_is_optional(
    desk: Desk, require_news: bool, expected: str
) -> None:
    desk.day.ctx.news = NoNews()
    with_params(desk, require_news=require_news, max_open_positions=1, risk_per_trade=Decimal(1))
    desk.at(DAY, 10, 3)
    await desk.day.scanner.scan_gaps()
    for _ in range(16 * 12):
        desk.clock.advance(5)
        await desk.day.watch.poll()
    states = {c.status.value for c in _today(desk) if c.status is not CandidateState.RANGING}
    assert expected in states
    assert ("skipped" in states) is require_news


class BrokenFeed:
    async def announcements(self, day: date) -> list[Announcement]:
        raise DataSourceError("ASX announcements page: row 3 (ABC): unreadable release time")


async def test_a_malformed_news_page_fails_safely_and_wipes_nothing(desk: Desk) -> None:
    desk.at(DAY, 10, 5)
    await desk.day.scanner.scan_gaps()
    before = _today(desk)
    assert any(c.price_sensitive for c in before)
    desk.day.ctx.news = BrokenFeed()
    desk.at(DAY, 10, 10)
    with pytest.raises(DataSourceError, match="row 3"):
        await desk.day.news()
    assert _today(desk) == [replace(c) for c in before], "candidates untouched"


async def test_after_scan_until_new_gappers_are_reported_not_saved(desk: Desk) -> None:
    desk.at(DAY, 11, 30)
    outcome = await desk.day.scanner.scan_gaps()
    assert outcome.gaps, "the gappers are still reported"
    assert outcome.new == [] and _today(desk) == []


async def test_plans_go_draft_then_active_then_executed(desk: Desk) -> None:
    from skimd.infrastructure.database.tables import TradePlan

    def plans() -> dict[str, str]:
        with desk.db.unit_of_work(read_only=True) as uow:
            return {p.ticker: p.status for p in uow.plans.list_all() if isinstance(p, TradePlan)}

    desk.at(DAY, 10, 3)
    await desk.day.scanner.scan_gaps()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    first = plans()
    assert first and set(first.values()) == {"draft"}
    for _ in range(16 * 12):
        desk.clock.advance(5)
        await desk.day.watch.poll()
    later = plans()
    with desk.ctx.store.read() as tx:
        states = {c.ticker: c.status for c in tx.candidates(DAY)}
    for ticker, status in later.items():
        expected = {
            CandidateState.TRADEABLE: "active",
            CandidateState.SKIPPED: "cancelled",
            CandidateState.ENTERED: "executed",
            CandidateState.RANGING: "draft",
        }.get(states[ticker])
        if expected is not None:
            assert status == expected, ticker
    assert "active" in later.values() or "executed" in later.values()


async def test_a_news_scan_with_nothing_new_commits_nothing(desk: Desk) -> None:
    desk.at(DAY, 10, 5)
    await desk.day.scanner.scan_news()
    alerted = len(desk.alerts("candidate_found"))
    assert alerted, "the seeded day has price-sensitive news before 10:05"
    generation = desk.ctx.store.generation
    await desk.day.scanner.scan_news()  # the same announcements, no candidate yet
    assert desk.ctx.store.generation == generation, "no transaction for nothing"
    assert len(desk.alerts("candidate_found")) == alerted

    await desk.day.scanner.scan_gaps()  # candidates now: the next news scan looks again
    await desk.day.scanner.scan_news()
    news = {a.symbol for a in MARKET.announcements(DAY, desk.clock.now()) if a.price_sensitive}
    rows = _today(desk)
    assert {c.ticker for c in rows} & news
    assert all(c.price_sensitive for c in rows if c.ticker in news)
