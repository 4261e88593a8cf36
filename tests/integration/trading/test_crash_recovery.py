"""A crash between writing an order intent and placing it, or between placing it and
recording the result: the next process reconciles by client order id and the broker ends
up with exactly one order. (The whole-process ``kill -9`` version is the demo e2e test.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from skimd.domain.orders import OrderRequest, OrderState
from skimd.domain.trading import IntentPurpose, IntentStatus, client_order_id
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from tests.integration.trading.desk import DAY, MARKET, breakout_range, liquid_tickers, make_desk


class Crash(BaseException):
    """The process dies here (BaseException: nothing in skimd may swallow it)."""


class CrashingBroker(DemoBroker):
    """The demo broker, with the daemon dying around one ``place_order`` call."""

    crash: str | None = None  # "before" or "after" the broker accepts the order

    async def place_order(self, request: OrderRequest) -> OrderState:
        if self.crash == "before":
            self.crash = None
            raise Crash
        state = await super().place_order(request)
        if self.crash == "after":
            self.crash = None
            raise Crash
        return state


def _broker(desk_clock: object) -> CrashingBroker:
    return CrashingBroker(
        MARKET,
        desk_clock,  # type: ignore[arg-type]
        events=RecordingBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
    )


async def _fills(broker: DemoBroker, coid: str, since: datetime) -> int:
    return sum(1 for f in await broker.executions(since) if f.client_order_id == coid)


@pytest.mark.parametrize("when", ["before", "after"])
async def test_restart_reconciles_and_never_places_twice(data_dir: Path, when: str) -> None:
    first = make_desk(data_dir)
    broker = _broker(first.clock)
    first.day.ctx.broker = broker
    first.day.desk.ctx.broker = broker
    await broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    start = first.at(DAY, 11, 0)
    orh, orl = breakout_range(ticker, start)
    first.tradeable(ticker, orh, orl)
    await broker.snapshots([MARKET.ticker(ticker).conid])  # type: ignore[union-attr]
    broker.crash = when
    await first.day.ensure_ready()
    with pytest.raises(Crash):
        await first.day.watch.poll()
    coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    with first.ctx.store.read() as tx:
        left = tx.intent(coid)
    assert left is not None and left.status is IntentStatus.PENDING, "written before placing"
    assert await _fills(broker, coid, start) == (1 if when == "after" else 0)
    first.close()

    # a new process: same database, same broker (it lives at the broker, not in us)
    second = make_desk(data_dir, clock=first.clock, broker=broker)
    second.clock.advance(5)
    await second.day.poll()
    second.clock.advance(5)
    await second.day.poll()
    with second.ctx.store.read() as tx:
        settled = tx.intent(coid)
        position = tx.open_position_for(ticker)
    assert settled is not None and settled.status is IntentStatus.FILLED
    assert settled.broker_order_id is not None
    assert await _fills(broker, coid, start) == 1, "exactly one order reached the market"
    assert position is not None and position.qty == settled.qty
    held = {p.symbol: p.qty for p in await broker.positions()}
    assert held[ticker] == position.qty
    entries = [a for a in second.alerts("entry_settled") if a["client_order_id"] == coid]
    assert len(entries) == 1 and entries[0]["quantity"] == settled.qty  # told once
    second.close()


async def test_an_unplaced_entry_is_dropped_after_the_entry_window(data_dir: Path) -> None:
    first = make_desk(data_dir)
    broker = _broker(first.clock)
    first.day.ctx.broker = broker
    await broker.connect()
    ticker = liquid_tickers(DAY, 1)[0]
    start = first.at(DAY, 11, 0)
    orh, orl = breakout_range(ticker, start)
    first.tradeable(ticker, orh, orl)
    await broker.snapshots([MARKET.ticker(ticker).conid])  # type: ignore[union-attr]
    broker.crash = "before"
    await first.day.ensure_ready()
    with pytest.raises(Crash):
        await first.day.watch.poll()
    first.close()

    second = make_desk(data_dir, clock=first.clock, broker=broker)
    second.at(DAY, 15, 55)  # restarted in the closing auction: too late to enter
    await second.day.ensure_ready()
    coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    with second.ctx.store.read() as tx:
        dropped = tx.intent(coid)
    assert dropped is not None and dropped.status is IntentStatus.CANCELLED
    assert await broker.find_order(coid) is None
    second.close()
