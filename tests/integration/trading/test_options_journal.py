"""Options strategies in the journal: option executions reported by the broker are grouped
into ``options_strategies`` rows by position sync, and never make equity round trips.

The demo broker trades shares only, so a small subclass also reports synthetic option
executions (due ones only, by the simulated clock) next to its own fills."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.orders import Fill, OptionLeg, OrderRequest, OrderType, Side
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from tests.integration.trading.desk import DAY, MARKET, Desk, liquid_tickers, make_desk

EXPIRY = date(2026, 12, 24)


class OptionsDemoBroker(DemoBroker):
    """The demo broker, plus option executions a test queues in :attr:`option_fills`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_fills: list[Fill] = []

    async def executions(self, since: datetime) -> list[Fill]:
        now = self._clock.now()
        due = [f for f in self.option_fills if since <= f.executed_at <= now]
        fills = [*await super().executions(since), *due]
        return sorted(fills, key=lambda f: (f.executed_at, f.exec_id))


@dataclass(frozen=True)
class Row:
    """An ``options_strategies`` / ``trades`` / ``round_trips`` row read out of its session."""

    id: int | None = None
    name: str = ""
    underlying: str = ""
    legs: str = "[]"
    status: str = ""
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    notes: str | None = None
    exec_id: str = ""
    ticker: str = ""
    qty: Decimal = Decimal(0)
    round_trip_id: int | None = None
    strategy_type: str | None = None
    net_debit_credit: Decimal | None = None
    max_profit: Decimal | None = None
    max_loss: Decimal | None = None
    breakevens: str = "[]"


def _row(obj: Any, *names: str) -> Row:
    return Row(**{n: getattr(obj, n) for n in names})


@dataclass
class Book:
    desk: Desk
    broker: OptionsDemoBroker
    underlying: str

    def option(
        self,
        exec_id: str,
        order: str,
        right: str,
        strike: str,
        side: Side,
        qty: int,
        price: str,
        at: datetime,
    ) -> Fill:
        fill = Fill(
            exec_id=exec_id,
            broker_order_id=order,
            client_order_id=None,
            symbol=self.underlying,
            conid=800_000 + len(self.broker.option_fills),
            side=side,
            qty=qty,
            price=Decimal(price),
            commission=Decimal("3.50"),
            executed_at=at,
            account=self.broker.account_id,
            sec_type="OPT",
            option=OptionLeg(self.underlying, right, Decimal(strike), EXPIRY),
        )
        self.broker.option_fills.append(fill)
        return fill

    def strategies(self) -> list[Row]:
        with self.desk.db.unit_of_work(read_only=True) as uow:
            rows = sorted(uow.options.list_all(), key=lambda r: r.id or 0)
            return [Row(**r.model_dump()) for r in rows]


@pytest.fixture
async def book(data_dir: Path) -> AsyncIterator[Book]:
    calendar = AsxCalendar("Australia/Sydney")
    clock = SimulatedClock(datetime.combine(DAY, time(9, 0), calendar.zone))
    broker = OptionsDemoBroker(
        MARKET, clock, events=RecordingBrokerEvents(), identifier_cache=InMemoryIdentifierCache()
    )
    desk = make_desk(data_dir, clock=clock, broker=broker)
    await broker.connect()
    yield Book(desk, broker, liquid_tickers(DAY, 1)[0])
    desk.close()


def _rows(book: Book) -> tuple[list[Row], list[Row]]:
    with book.desk.db.unit_of_work(read_only=True) as uow:
        trades = [
            _row(t, "id", "exec_id", "ticker", "qty", "round_trip_id")
            for t in uow.trades.list_all()
        ]
        trips = [_row(r, "id", "ticker", "qty", "status") for r in uow.round_trips.list_all()]
    return trades, trips


def _legs(row: Row) -> list[tuple[str, str, str, str, int, str, int]]:
    return [
        (g["right"], g["strike"], g["expiry"], g["side"], g["qty"], g["price"], g["multiplier"])
        for g in json.loads(row.legs)
    ]


async def test_a_vertical_opened_then_closed_is_one_closed_strategy_and_no_round_trip(
    book: Book,
) -> None:
    desk, code = book.desk, book.underlying
    contract = MARKET.ticker(code)
    assert contract is not None
    # shares of the same underlying, bought at the broker: their round trip must stay shares
    desk.at(DAY, 10, 15)
    await book.broker.place_order(
        OrderRequest("MANUAL-SH", code, contract.conid, Side.BUY, 100, OrderType.MKT)
    )
    opened = desk.at(DAY, 10, 30)
    book.option("OPT-1", "combo-open", "C", "45", Side.BUY, 2, "1.20", opened)
    book.option(
        "OPT-2", "combo-open", "C", "48", Side.SELL, 2, "0.40", opened + timedelta(milliseconds=400)
    )
    desk.at(DAY, 10, 31)
    first = await desk.journal.sync.run()
    assert first.new_fills == 3

    (row,) = book.strategies()
    assert (row.name, row.underlying, row.status, row.closed_at) == (
        "vertical call spread",
        code,
        "open",
        None,
    )
    assert row.opened_at == opened
    assert _legs(row) == [
        ("C", "45", "2026-12-24", "BUY", 2, "1.2", 100),
        ("C", "48", "2026-12-24", "SELL", 2, "0.4", 100),
    ]
    # a 2-lot 45/48 debit spread for 0.80: pays 160, can make 3 x 200 - 160, breaks even at 45.80
    assert (row.strategy_type, row.net_debit_credit, row.max_profit, row.max_loss,
            row.breakevens) == ("vertical call spread", Decimal("-160.0"), Decimal("440.0"),
                                Decimal("160.0"), '["45.8000"]')

    closing = desk.at(DAY, 14, 0)
    book.option("OPT-3", "combo-close", "C", "45", Side.SELL, 2, "2.00", closing)
    book.option(
        "OPT-4",
        "combo-close",
        "C",
        "48",
        Side.BUY,
        2,
        "0.70",
        closing + timedelta(milliseconds=300),
    )
    desk.at(DAY, 14, 1)
    second = await desk.journal.sync.run()
    assert second.new_fills == 2

    (row,) = book.strategies()  # the same row, now closed
    assert (row.name, row.status) == ("vertical call spread", "closed")
    assert row.closed_at == closing + timedelta(milliseconds=300)
    assert _legs(row)[0][:5] == ("C", "45", "2026-12-24", "BUY", 2)

    trades, trips = _rows(book)
    options = [t for t in trades if t.exec_id.startswith("OPT-")]
    assert sorted(t.ticker for t in options) == sorted(
        [f"{code} 2026-12-24 45 C x100"] * 2 + [f"{code} 2026-12-24 48 C x100"] * 2
    )
    assert all(t.round_trip_id is None for t in options)
    (trip,) = trips  # the shares' round trip only, untouched by the options
    assert trip.ticker == code and trip.qty == Decimal(100) and trip.status == "open"
    shares = [t for t in trades if t.round_trip_id == trip.id]
    assert [t.ticker for t in shares] == [code] and shares[0].qty == Decimal(100)
    assert second.clean, "flat options and adopted shares reconcile"

    # a re-sync changes nothing
    desk.clock.advance(60)
    again = await desk.journal.sync.run()
    assert again.new_fills == 0
    assert [(r.id, r.status) for r in book.strategies()] == [(row.id, "closed")]


async def test_legs_seen_in_two_syncs_update_one_strategy(book: Book) -> None:
    desk = book.desk
    opened = desk.at(DAY, 11, 0)
    book.option("LEG-1", "leg-a", "P", "44", Side.SELL, 1, "1.10", opened)
    book.option("LEG-2", "leg-b", "P", "42", Side.BUY, 1, "0.50", opened + timedelta(seconds=1.5))
    desk.at(DAY, 11, 0, 1)  # the second leg has not filled yet
    await desk.journal.sync.run()
    (row,) = book.strategies()
    assert (row.name, len(_legs(row))) == ("short put", 1)

    desk.at(DAY, 11, 0, 5)
    outcome = await desk.journal.sync.run()
    assert outcome.new_fills == 1
    (row,) = book.strategies()
    assert (row.name, row.status, row.opened_at) == ("vertical put spread", "open", opened)
    assert [leg[:4] for leg in _legs(row)] == [
        ("P", "42", "2026-12-24", "BUY"),
        ("P", "44", "2026-12-24", "SELL"),
    ]
    _, trips = _rows(book)
    assert trips == []
