"""``skimd web``'s round-trip reads (SqlTripReads) on real database files: the date and
ticker filters, the order, the page and the count, one round trip by id with its trades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import RoundTrip, Trade
from skimd.infrastructure.database.trip_reads import SqlTripReads

DAY = datetime(2026, 11, 23, 23, 20, tzinfo=UTC)  # 10:20 on the 24th in Sydney


def fill(db: TradingDatabase) -> None:
    """Trip 1 BHP opened day 0, closed day 2; 2 CBA day 1 (open); 3 BHP day 5."""
    with db.unit_of_work() as uow:
        for ticker, opened, closed in (("BHP", 0, 2), ("CBA", 1, None), ("BHP", 5, 5)):
            trip = RoundTrip(
                ticker=ticker, qty=Decimal(100), entry_avg=Decimal("45.5"),
                status="closed" if closed is not None else "open",
                opened_at=DAY + timedelta(days=opened),
                closed_at=None if closed is None else DAY + timedelta(days=closed, hours=5),
                net_pnl=Decimal("-1.25") if closed is not None else None,
            )
            uow.session.add(trip)
            uow.session.flush()
            uow.session.add(Trade(exec_id=f"E{trip.id}", ticker=ticker, side="BUY",
                                  qty=Decimal(100), price=Decimal("45.5"),
                                  executed_at=trip.opened_at, round_trip_id=trip.id))


def ids(rows: list[dict[str, object]]) -> list[object]:
    return [r["id"] for r in rows]


def test_find_filters_by_ticker_and_by_opened_or_closed_in_range(db: TradingDatabase) -> None:
    fill(db)
    reads = SqlTripReads(db.unit_of_work)
    rows, total = reads.find(None, None, None, 10)
    assert ids(rows) == [3, 2, 1] and total == 3  # latest opened first
    assert ids(reads.find(None, None, "BHP", 10)[0]) == [3, 1]
    # day 2 only: trip 1 closed then (opened before)
    rows, total = reads.find(DAY + timedelta(days=2), DAY + timedelta(days=3), None, 10)
    assert ids(rows) == [1] and total == 1
    rows, total = reads.find(DAY + timedelta(days=1), None, None, 10)
    assert ids(rows) == [3, 2, 1]
    assert ids(reads.find(None, DAY + timedelta(days=1), None, 10)[0]) == [1]


def test_find_pages_and_counts_everything_matching(db: TradingDatabase) -> None:
    fill(db)
    reads = SqlTripReads(db.unit_of_work)
    first, total = reads.find(None, None, None, 2)
    second, _ = reads.find(None, None, None, 2, offset=2)
    assert (ids(first), ids(second), total) == ([3, 2], [1], 3)


def test_get_returns_one_round_trip_as_the_journal_lists_it(db: TradingDatabase) -> None:
    fill(db)
    reads = SqlTripReads(db.unit_of_work)
    row = reads.get(1)
    assert row is not None
    assert row["ticker"] == "BHP" and row["net_pnl"] == "-1.25" and row["trades"] == 1
    assert row["holding_seconds"] == 2 * 86400 + 5 * 3600
    assert row["opened_at"] == DAY.isoformat()
    assert reads.get(99) is None
