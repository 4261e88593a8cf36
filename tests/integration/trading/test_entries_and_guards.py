"""Breakout entries and the guards in front of them."""

from __future__ import annotations

from decimal import Decimal

from skimd.domain.trading import CandidateState, IntentPurpose, IntentStatus, client_order_id
from tests.integration.trading.desk import DAY, Desk, breakout_range, liquid_tickers, with_params


def _intents(desk: Desk) -> list:  # type: ignore[type-arg]
    start, end = desk.calendar.day_bounds(desk.ctx.today())
    with desk.ctx.store.read() as tx:
        return tx.intents_between(start, end)


async def _breakout(desk: Desk, ticker: str) -> None:
    """Make ``ticker`` tradeable with a range just under its price (market data pre-flighted,
    as the warm-up does)."""
    orh, orl = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, orl)
    assert record.conid is not None
    await desk.broker.snapshots([record.conid])


async def test_one_breakout_places_exactly_one_entry(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    await _breakout(desk, ticker)
    first = await desk.day.watch.poll()
    assert first.entered == [ticker]
    desk.clock.advance(5)
    second = await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert second.entered == []
    coid = client_order_id(DAY, ticker, IntentPurpose.ENTRY)
    entries = [i for i in _intents(desk) if i.purpose is IntentPurpose.ENTRY]
    assert [i.client_order_id for i in entries] == [coid]
    assert await desk.broker.find_order(coid) is not None
    with desk.ctx.store.read() as tx:
        assert tx.candidate(DAY, ticker).status is CandidateState.ENTERED  # type: ignore[union-attr]
        position = tx.open_position_for(ticker)
    assert position is not None and position.qty == entries[0].qty
    assert position.stop is not None
    (told,) = desk.alerts("entry_settled")  # the entry's one message
    assert (told["client_order_id"], told["quantity"]) == (coid, position.qty)
    assert not desk.alerts("order_placed") and not desk.alerts("order_filled")


async def test_size_respects_risk_and_position_value(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    with_params(desk, risk_per_trade=Decimal("300"), max_position_value=Decimal("1000000"))
    await _breakout(desk, ticker)
    await desk.day.watch.poll()
    (intent,) = [i for i in _intents(desk) if i.purpose is IntentPurpose.ENTRY]  # + its stop
    with desk.ctx.store.read() as tx:
        cand = tx.candidate(DAY, ticker)
    assert cand is not None and cand.orl is not None and intent.limit_price is not None
    risk = (intent.limit_price - cand.orl) * intent.qty
    assert risk <= Decimal("300")
    assert (intent.limit_price - cand.orl) * (intent.qty + 1) > Decimal("300"), "as big as allowed"


async def test_position_value_caps_size(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    with_params(desk, risk_per_trade=Decimal("100000"), max_position_value=Decimal("2000"))
    await _breakout(desk, ticker)
    await desk.day.watch.poll()
    (intent,) = [i for i in _intents(desk) if i.purpose is IntentPurpose.ENTRY]  # + its stop
    assert intent.limit_price * intent.qty <= Decimal("2000")
    assert intent.limit_price * (intent.qty + 1) > Decimal("2000")


async def test_kill_switch_blocks_and_alerts_once_then_unlock_enters(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    with desk.ctx.store.transaction() as tx:
        tx.lock_guard("trader said stop", desk.clock.now())
    await _breakout(desk, ticker)
    for _ in range(3):
        out = await desk.day.watch.poll()
        assert out.blocked == [ticker]
        desk.clock.advance(5)
    assert _intents(desk) == []
    trips = desk.alerts("guard_tripped")
    assert len(trips) == 1 and trips[0]["guard"] == "kill_switch"
    with desk.ctx.store.transaction() as tx:
        tx.unlock_guard(desk.clock.now())
    await _breakout(desk, ticker)  # the range again just under the new price
    assert (await desk.day.watch.poll()).entered == [ticker]


async def test_max_open_positions_blocks_once(desk: Desk) -> None:
    a, b, c = liquid_tickers(DAY, 3)
    desk.at(DAY, 11, 0)
    with_params(desk, max_open_positions=2)
    for ticker in (a, b, c):
        await _breakout(desk, ticker)
    out = await desk.day.watch.poll()
    assert sorted(out.entered) == sorted([a, b]) and out.blocked == [c]
    desk.clock.advance(5)
    await _breakout(desk, c)
    await desk.day.watch.poll()
    trips = desk.alerts("guard_tripped")
    assert [t["guard"] for t in trips] == ["max_positions"]


async def test_max_orders_per_day(desk: Desk) -> None:
    a, b = liquid_tickers(DAY, 2)
    desk.at(DAY, 11, 0)
    with_params(desk, max_orders_per_day=1)
    await _breakout(desk, a)
    await _breakout(desk, b)
    out = await desk.day.watch.poll()
    assert out.entered == [a] and out.blocked == [b]
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert [t["guard"] for t in desk.alerts("guard_tripped")] == ["max_orders_per_day"]


async def test_daily_loss_cap_trips_on_a_losing_day(desk: Desk) -> None:
    ticker, other = liquid_tickers(DAY, 2)
    desk.at(DAY, 11, 0)
    with_params(desk, daily_loss_cap=Decimal("0.01"), resting_stop=False)
    await _breakout(desk, ticker)
    await desk.day.watch.poll()
    with desk.ctx.store.read() as tx:
        held = tx.open_position_for(ticker)
    assert held is not None
    # walk forward until the position shows a loss at the market's price
    from tests.integration.trading.desk import MARKET

    for _ in range(2000):
        desk.clock.advance(5)
        last = MARKET.price_at(ticker, desk.clock.now())
        if last is not None and last < held.avg_price:
            break
    await _breakout(desk, other)
    out = await desk.day.watch.poll()
    assert other in out.blocked
    assert "daily_loss_cap" in [t["guard"] for t in desk.alerts("guard_tripped")]


async def test_price_band_refuses_a_limit_far_from_last(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    with_params(desk, entry_slippage_ticks=50, price_band_pct=Decimal("0.5"))
    await _breakout(desk, ticker)
    out = await desk.day.watch.poll()
    desk.clock.advance(5)
    await desk.day.watch.poll()
    assert out.blocked == [ticker] and _intents(desk) == []
    assert [t["guard"] for t in desk.alerts("guard_tripped")] == ["price_band"]


async def test_no_entries_in_the_closing_auction(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 15, 52)
    await _breakout(desk, ticker)
    for _ in range(3):
        out = await desk.day.watch.poll()
        assert out.blocked == [ticker]
        desk.clock.advance(5)
    assert _intents(desk) == []
    assert [t["guard"] for t in desk.alerts("guard_tripped")] == ["closing_auction"]


async def test_an_entry_not_filled_in_time_is_cancelled(desk: Desk) -> None:
    ticker = liquid_tickers(DAY, 1)[0]
    desk.at(DAY, 11, 0)
    # a limit far below the market never fills
    with_params(desk, entry_slippage_ticks=-40, price_band_pct=Decimal("50"))
    orh, _ = breakout_range(ticker, desk.clock.now())
    record = desk.tradeable(ticker, orh, orh - Decimal("1.50"))
    await desk.broker.snapshots([record.conid or 0])
    await desk.day.watch.poll()
    (intent,) = [i for i in _intents(desk) if i.purpose is IntentPurpose.ENTRY]  # + its stop
    assert intent.status is IntentStatus.SUBMITTED
    desk.clock.advance(61)
    await desk.day.watch.poll()
    (intent,) = [i for i in _intents(desk) if i.purpose is IntentPurpose.ENTRY]  # + its stop
    assert intent.status is IntentStatus.CANCELLED
    with desk.ctx.store.read() as tx:
        assert tx.candidate(DAY, ticker).status is CandidateState.EXPIRED  # type: ignore[union-attr]


async def test_the_price_band_allows_two_ticks_on_a_penny_stock(desk: Desk) -> None:
    from skimd.domain.market import TickDirection, round_to_tick
    from skimd.services.trading.guards import check_price_band

    last = Decimal("0.250")  # half-cent ticks: two of them are 4 %, over the 3 % band
    two_ticks = round_to_tick(last + Decimal("0.010"), TickDirection.UP)
    now = desk.at(DAY, 11, 0)
    assert check_price_band(
        desk.ctx, ticker="PNY", limit_price=two_ticks, last=last, now=now
    ).allowed
    three = check_price_band(
        desk.ctx, ticker="PNY", limit_price=last + Decimal("0.015"), last=last, now=now
    )
    assert not three.allowed and three.kind is not None and three.kind.value == "price_band"
