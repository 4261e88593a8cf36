"""The day's other jobs: a gap scan from a universe when the broker has no scanner, the
purge, and the journal's end of day (plans, watchlist, mistakes, the digest)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from skimd.domain.trading import CandidateRecord, PositionRecord
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database.tables import MistakeEntry, TradePlan, Watchlist
from tests.integration.trading.desk import (
    DAY,
    MARKET,
    Desk,
    breakout_range,
    liquid_tickers,
    make_desk,
    with_params,
)


class NoScannerBroker(DemoBroker):
    """The demo broker without its scanner (as a broker that offers none)."""

    @property
    def has_scanner(self) -> bool:
        return False


async def test_without_a_scanner_the_universe_is_scanned_with_snapshots(data_dir: Path) -> None:
    desk = make_desk(data_dir)
    broker = NoScannerBroker(
        MARKET,
        desk.clock,
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
    )
    desk.day.ctx.broker = broker
    await broker.connect()
    desk.at(DAY, 10, 5)
    scanner_view = {
        g.symbol for g in await DemoBroker.scan_gaps(broker, Decimal(4), Decimal("0.2"), 20_000)
    }
    assert scanner_view, "the seeded day has gappers"
    quiet = liquid_tickers(DAY, 3)
    with_params(desk, universe=tuple(sorted(scanner_view)) + tuple(quiet))
    await broker.snapshots([MARKET.ticker(t).conid for t in (*scanner_view, *quiet)])  # type: ignore[union-attr]
    outcome = await desk.day.scanner.scan_gaps()
    assert {g.symbol for g in outcome.gaps} == scanner_view - (set(quiet) - scanner_view)
    assert all(g.gap_pct >= 4 for g in outcome.gaps)
    with desk.ctx.store.read() as tx:
        assert {c.ticker for c in tx.candidates(DAY)} == scanner_view
    desk.close()


async def test_purge_keeps_candidates_tied_to_open_positions(desk: Desk) -> None:
    old_day = DAY - timedelta(days=45)
    now = desk.at(DAY, 9, 55)
    with desk.ctx.store.transaction() as tx:
        tx.save_candidate(CandidateRecord(scan_date=old_day, ticker="OLD"), now)
        held = tx.save_candidate(CandidateRecord(scan_date=old_day, ticker="HELD"), now)
        tx.save_candidate(CandidateRecord(scan_date=DAY - timedelta(days=2), ticker="NEW"), now)
        tx.save_position(
            PositionRecord(
                ticker="HELD",
                qty=10,
                avg_price=Decimal(1),
                entry_date=old_day,
                opened_at=now,
                candidate_id=held.id,
            )
        )
    assert await desk.day.purge() == "purged 1 old candidates"
    with desk.ctx.store.read() as tx:
        assert tx.candidate(old_day, "OLD") is None
        assert tx.candidate(old_day, "HELD") is not None
        assert tx.candidate(DAY - timedelta(days=2), "NEW") is not None


async def test_end_of_day_writes_plans_watchlist_mistakes_and_the_digest(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    orh, _ = breakout_range(ticker, desk.clock.now())
    # no price-sensitive news, and a stop so close that the day stops it out
    record = desk.tradeable(ticker, orh, orh + Decimal("0.03"))
    with desk.ctx.store.transaction() as tx:
        tx.save_candidate(record.with_(price_sensitive=False), desk.clock.now())
    await desk.broker.snapshots([record.conid or 0])
    assert (await desk.day.watch.poll()).entered == [ticker]
    for _ in range(2000):  # until the resting stop fills
        desk.clock.advance(5)
        await desk.day.watch.poll()
        with desk.ctx.store.read() as tx:
            if tx.open_position_for(ticker) is None:
                break
    desk.at(DAY, 16, 15)
    outcome = await desk.journal.run(date(2026, 11, 24))
    assert outcome.plans == 1 and outcome.mistakes >= 1 and outcome.sync.clean
    with desk.db.unit_of_work(read_only=True) as uow:
        plans = [p for p in uow.plans.list_all() if isinstance(p, TradePlan)]
        mistakes = [m for m in uow.mistakes.list_all() if isinstance(m, MistakeEntry)]
        lists = [w for w in uow.watchlists.list_all() if isinstance(w, Watchlist)]
        assert [(p.ticker, p.status) for p in plans] == [(ticker, "executed")]
        assert plans[0].trade_id is not None
        assert "entry_without_news" in {m.category for m in mistakes}
        assert all(m.cost is not None and m.cost >= 0 for m in mistakes)
        assert [w.name for w in lists] == ["candidates 2026-11-24"]
    digests = desk.alerts("reconciliation_digest")
    assert len(digests) == 1 and digests[0]["clean"] is True
    assert [a["trading_day"] for a in desk.alerts("daily_summary")] == ["2026-11-24"]
    # a second end of day changes nothing
    again = await desk.journal.run(date(2026, 11, 24))
    assert again.sync.new_fills == 0
    assert len(desk.alerts("reconciliation_digest")) == 1
    with desk.db.unit_of_work(read_only=True) as uow:
        assert len(uow.plans.list_all()) == 1 and len(uow.mistakes.list_all()) == len(mistakes)
