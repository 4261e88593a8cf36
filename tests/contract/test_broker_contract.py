"""Behaviour every Broker implementation must show (see conftest.py to add one)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from broker_contract_env import FILL_PATIENCE_S, BrokerEnv

from skimd.domain.market import Bar, Quote, TickDirection, round_to_tick
from skimd.domain.orders import OrderRequest, OrderState, OrderStatus, OrderType, Side
from skimd.errors import InvalidInputError
from skimd.services.ports.broker import Broker

SYDNEY = ZoneInfo("Australia/Sydney")


async def _quote(broker: Broker, conid: int) -> Quote:
    quote = (await broker.snapshots([conid]))[0]
    if not quote.has_data:
        quote = (await broker.snapshots([conid]))[0]
    assert quote.last is not None, "market is open at the contract suite's start time"
    return quote


async def _resting_buy(broker: Broker, symbol: str, coid: str) -> OrderRequest:
    """A limit buy far below the market: it rests without filling."""
    contract = (await broker.resolve([symbol]))[symbol]
    quote = await _quote(broker, contract.conid)
    assert quote.last is not None
    limit = round_to_tick(quote.last * Decimal("0.5"), TickDirection.DOWN)
    return OrderRequest(coid, symbol, contract.conid, Side.BUY, 10, OrderType.LMT, limit)


async def _market_buy(broker: Broker, symbol: str, coid: str, qty: int = 100) -> OrderRequest:
    contract = (await broker.resolve([symbol]))[symbol]
    return OrderRequest(coid, symbol, contract.conid, Side.BUY, qty, OrderType.MKT)


async def _until_filled(env: BrokerEnv, state: OrderState) -> OrderState:
    for _ in range(FILL_PATIENCE_S):
        if state.status is OrderStatus.FILLED:
            return state
        await env.advance(1.0)
        state = await env.broker.order_status(state.broker_order_id)
    assert state.status is OrderStatus.FILLED, state
    return state


async def test_connect_reports_an_authenticated_session(broker_env: BrokerEnv) -> None:
    health = await broker_env.broker.connect()
    assert health.ok
    again = await broker_env.broker.health()
    assert again.authenticated and again.connected and not again.competing
    assert broker_env.broker.kind in {"demo", "ibkr"}


async def test_resolve_returns_distinct_conids_keyed_by_code(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    first, second = broker_env.symbols[:2]
    contracts = await broker.resolve([first.lower(), f" {second} "])
    assert set(contracts) == {first, second}
    assert contracts[first].conid != contracts[second].conid
    assert all(c.exchange == "ASX" and c.currency == "AUD" for c in contracts.values())
    now = broker_env.clock.now()
    assert broker_env.identifier_cache.get(first, now) == contracts[first].conid


async def test_resolve_unknown_symbol_names_the_ticker(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    with pytest.raises(InvalidInputError, match=broker_env.unknown_symbol):
        await broker.resolve([broker_env.symbols[0], broker_env.unknown_symbol])


async def test_snapshot_may_start_empty_then_has_data(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    symbol = broker_env.symbols[0]
    conid = (await broker.resolve([symbol]))[symbol].conid
    first = await broker.snapshots([conid])
    assert [q.conid for q in first] == [conid]
    second = (await broker.snapshots([conid]))[0]
    assert second.has_data and second.last is not None and second.last > 0
    assert second.symbol == symbol


async def test_place_order_returns_state_with_client_order_id(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    request = await _resting_buy(broker, broker_env.symbols[0], "ct-place-1")
    state = await broker.place_order(request)
    assert state.client_order_id == "ct-place-1"
    assert state.broker_order_id
    assert state.status in {OrderStatus.SUBMITTED, OrderStatus.PENDING_SUBMIT}
    assert (state.symbol, state.side, state.qty) == (request.symbol, Side.BUY, 10)


async def test_same_client_order_id_places_one_order(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    request = await _resting_buy(broker, broker_env.symbols[0], "ct-once-1")
    first = await broker.place_order(request)
    second = await broker.place_order(request)
    assert second.broker_order_id == first.broker_order_id
    found = await broker.find_order("ct-once-1")
    assert found is not None and found.broker_order_id == first.broker_order_id
    working = [o for o in await broker.open_orders() if o.client_order_id == "ct-once-1"]
    assert len(working) == 1


async def test_find_order_for_unknown_client_order_id_is_none(broker: Broker) -> None:
    assert await broker.find_order("ct-never-placed") is None


async def test_cancel_order(broker: Broker, broker_env: BrokerEnv) -> None:
    placed = await broker.place_order(
        await _resting_buy(broker, broker_env.symbols[0], "ct-cancel-1")
    )
    cancelled = await broker.cancel_order(placed.broker_order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    status = await broker.order_status(placed.broker_order_id)
    assert status.status is OrderStatus.CANCELLED and status.remaining == 0
    assert placed.broker_order_id not in {o.broker_order_id for o in await broker.open_orders()}


async def test_filled_market_buy_shows_position_and_execution(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    since = broker_env.clock.now() - timedelta(seconds=1)
    symbol = broker_env.symbols[0]
    before = await broker.account_summary()
    state = await _until_filled(
        broker_env, await broker.place_order(await _market_buy(broker, symbol, "ct-fill-1"))
    )
    assert state.filled_qty == 100 and state.avg_fill_price is not None
    position = {p.symbol: p for p in await broker.positions()}[symbol]
    assert position.qty == 100
    fills = [f for f in await broker.executions(since) if f.client_order_id == "ct-fill-1"]
    assert sum(f.qty for f in fills) == 100
    assert all(f.side is Side.BUY and f.symbol == symbol for f in fills)
    after = await broker.account_summary()
    assert after.cash < before.cash


async def test_executions_have_unique_exec_ids(broker: Broker, broker_env: BrokerEnv) -> None:
    since = broker_env.clock.now() - timedelta(seconds=1)
    for n, symbol in enumerate(broker_env.symbols[:2]):
        placed = await broker.place_order(await _market_buy(broker, symbol, f"ct-uniq-{n}", 50))
        await _until_filled(broker_env, placed)
    fills = await broker.executions(since)
    ids = [f.exec_id for f in fills]
    assert len(ids) >= 2
    assert len(ids) == len(set(ids))
    assert [f.executed_at for f in fills] == sorted(f.executed_at for f in fills)


async def test_account_summary_is_paper(broker: Broker) -> None:
    summary = await broker.account_summary()
    assert summary.is_paper
    assert summary.currency == "AUD"
    assert summary.net_liquidation > 0
    assert summary.account_id in {a.account_id for a in await broker.accounts()}


async def test_daily_bars_are_ordered_by_date(broker: Broker, broker_env: BrokerEnv) -> None:
    symbol = broker_env.symbols[0]
    conid = (await broker.resolve([symbol]))[symbol].conid
    bars = await broker.daily_bars(conid, 10)
    assert 0 < len(bars) <= 10
    days = [b.day for b in bars]
    assert days == sorted(set(days))
    assert days[-1] < broker_env.clock.now().date() + timedelta(days=1)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)


async def test_pacing_budget_names_endpoint_classes(broker: Broker) -> None:
    budget = broker.pacing_budget()
    assert budget and all(isinstance(k, str) for k in budget)


def _check_intraday(bars: list[Bar], day: date, now: datetime) -> None:
    """Oldest first, one bar per start, starts aware UTC on ``day`` and not after ``now``,
    every bar's open and close within its low..high."""
    starts = [b.at for b in bars]
    assert all(at is not None and at.utcoffset() == timedelta(0) for at in starts)
    known = [at for at in starts if at is not None]
    assert known == sorted(set(known))
    assert all(b.day == day and at.astimezone(SYDNEY).date() == day
               for b, at in zip(bars, known, strict=True))
    assert all(b.low <= min(b.open, b.close) and max(b.open, b.close) <= b.high for b in bars)
    assert known[-1] <= now


async def test_intraday_bars_are_ordered_sane_and_never_from_the_future(
    broker: Broker, broker_env: BrokerEnv
) -> None:
    symbol = broker_env.symbols[0]
    conid = (await broker.resolve([symbol]))[symbol].conid
    now = broker_env.clock.now()
    today = now.astimezone(SYDNEY).date()
    bars = await broker.intraday_bars(conid, today)
    assert len(bars) >= 20, "the market has been open half an hour at the suite's start"
    _check_intraday(bars, today, now)
    assert bars[-1].at is not None and now - bars[-1].at < timedelta(minutes=2)

    await broker_env.advance(600)
    later = await broker.intraday_bars(conid, today)
    _check_intraday(later, today, broker_env.clock.now())
    assert len(later) >= len(bars) + 9
    assert later[: len(bars) - 1] == bars[:-1]  # completed bars do not change

    yesterday = today - timedelta(days=1)  # the suite starts on a Tuesday
    five = await broker.intraday_bars(conid, yesterday, minutes=5)
    assert len(five) >= 60  # a whole 10:00-16:00 session
    _check_intraday(five, yesterday, now)
    assert all(b.at is not None and five[0].at is not None
               and (b.at - five[0].at) % timedelta(minutes=5) == timedelta(0) for b in five)

    assert await broker.intraday_bars(conid, today + timedelta(days=1)) == []
    with pytest.raises(InvalidInputError, match="7"):
        await broker.intraday_bars(conid, today, minutes=7)
