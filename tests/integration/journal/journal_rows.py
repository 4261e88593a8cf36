"""A small journal written straight into the tables, and a fake intraday price source.

Times are Sydney (UTC+10 in July). ``DAY`` (2024-07-03) has two round trips closed:

- BHP, round trip opened 2024-07-01 10:20 (1000 @ 45.10, the ORH breakout of that day's
  candidate, with a trade plan), half sold 07-03 11:00 @ 46.00 and half 14:30 @ 45.50;
  gross 650, fees 18, net 632; one mistake recorded.
- XYZ, a manual trade on ``DAY`` (no candidate, no plan), bought 10:30 @ 2.00 and sold 15:00
  @ 1.90: gross -100, fees 12, net -112.

Also: CBA closed at 2024-07-03 14:30 UTC, which is 00:30 on 07-04 in Sydney (so it belongs
to 07-04, not ``DAY``), and an open round trip in WES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from skimd.domain.market import PricePoint
from skimd.errors import DataSourceError
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import (
    Candidate,
    MistakeEntry,
    RoundTrip,
    Trade,
    TradePlan,
)

SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2024, 7, 3)
NOW = datetime(2024, 7, 3, 7, 0, tzinfo=UTC)  # 17:00 Sydney


def syd(day: int, hh: int, mm: int) -> datetime:
    return datetime(2024, 7, day, hh, mm, tzinfo=SYDNEY).astimezone(UTC)


@dataclass
class Seeded:
    bhp: int
    xyz: int
    cba: int
    wes: int
    trades: int


def seed_journal(db: TradingDatabase) -> Seeded:
    d = Decimal
    with db.unit_of_work() as uow:

        def trip(ticker: str, conid: int, status: str, **kw: object) -> int:
            row = uow.round_trips.add(
                RoundTrip(account="U1", ticker=ticker, conid=conid, status=status, **kw)
            )
            assert row.id is not None
            return row.id

        def trade(exec_id: str, rt: int, ticker: str, side: str, qty: int, price: str,
                  at: datetime, commission: str = "6") -> int:
            row = uow.trades.add(
                Trade(exec_id=exec_id, account="U1", ticker=ticker, conid=7, side=side,
                      qty=d(qty), price=d(price), commission=d(commission), executed_at=at,
                      round_trip_id=rt)
            )
            assert row.id is not None
            return row.id

        bhp = trip("BHP", 4036812, "closed", qty=d(1000), entry_avg=d("45.1"),
                   exit_avg=d("45.75"), gross_pnl=d("650"), fees=d("18"), net_pnl=d("632"),
                   opened_at=syd(1, 10, 20), closed_at=syd(3, 14, 30))
        entry = trade("BHP-1", bhp, "BHP", "BUY", 1000, "45.10", syd(1, 10, 20))
        trade("BHP-2", bhp, "BHP", "SELL", 500, "46.00", syd(3, 11, 0))
        trade("BHP-3", bhp, "BHP", "SELL", 500, "45.50", syd(3, 14, 30))
        cand = uow.candidates.add(
            Candidate(scan_date=date(2024, 7, 1), ticker="BHP", gap_pct=d("3.2"),
                      prev_close=d("43.70"), orh=d("45.00"), orl=d("44.50"),
                      news_headline="Quarterly | activities report", price_sensitive=True,
                      status="entered", created_at=NOW, updated_at=NOW)
        )
        uow.plans.add(
            TradePlan(ticker="BHP", entry=d("45.05"), stop=d("44.50"), target=d("47.00"),
                      qty=1000, status="executed", candidate_id=cand.id, trade_id=entry,
                      created_at=NOW, updated_at=NOW)
        )
        uow.mistakes.add(
            MistakeEntry(round_trip_id=bhp, category="chased_entry",
                         note="entry 45.10 is 0.2% over the ORH", cost=d("12.50"),
                         created_at=NOW)
        )

        xyz = trip("XYZ", 99, "closed", qty=d(1000), entry_avg=d("2"), exit_avg=d("1.9"),
                   gross_pnl=d("-100"), fees=d("12"), net_pnl=d("-112"),
                   opened_at=syd(3, 10, 30), closed_at=syd(3, 15, 0))
        trade("XYZ-1", xyz, "XYZ", "BUY", 1000, "2.00", syd(3, 10, 30))
        trade("XYZ-2", xyz, "XYZ", "SELL", 1000, "1.90", syd(3, 15, 0))

        cba = trip("CBA", 55, "closed", qty=d(10), entry_avg=d("120"), exit_avg=d("121"),
                   gross_pnl=d("10"), fees=d("12"), net_pnl=d("-2"),
                   opened_at=syd(3, 10, 5), closed_at=datetime(2024, 7, 3, 14, 30, tzinfo=UTC))
        trade("CBA-1", cba, "CBA", "BUY", 10, "120", syd(3, 10, 5))
        trade("CBA-2", cba, "CBA", "SELL", 10, "121", datetime(2024, 7, 3, 14, 30, tzinfo=UTC))

        wes = trip("WES", 66, "open", qty=d(100), entry_avg=d("70"), fees=d("6"),
                   opened_at=syd(3, 10, 40))
        trade("WES-1", wes, "WES", "BUY", 100, "70", syd(3, 10, 40))
    return Seeded(bhp=bhp, xyz=xyz, cba=cba, wes=wes, trades=8)


@dataclass
class FakePricePath:
    """Intraday prices every 5 minutes, 10:00-16:00 Sydney; ``failing`` tickers raise."""

    failing: set[str] = field(default_factory=set)
    calls: list[tuple[str, int | None, date]] = field(default_factory=list)

    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        self.calls.append((ticker, conid, day))
        if ticker in self.failing:
            raise DataSourceError(f"no intraday bars for {ticker}")
        base = {"BHP": Decimal("45.40"), "XYZ": Decimal("1.95")}.get(ticker, Decimal(10))
        start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=SYDNEY)
        return [
            PricePoint(
                at=(start + timedelta(minutes=5 * i)).astimezone(UTC),
                price=base + Decimal(i % 7 - 3) / 100,
            )
            for i in range(73)
        ]
