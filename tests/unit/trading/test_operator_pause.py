"""A ticker an operator paused is still protected: with resting stops off, its software
stop sells it when the price falls to the stop, pause or not (on the in-memory store)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from skimd.domain.trading import CandidateState, IntentPurpose, IntentStatus, PositionStatus
from skimd.services.trading.day import TradingDay
from skimd.services.trading.operator import Operator, OperatorActions
from skimd.services.trading.params import StrategyParams
from tests.unit.trading.rig import DAY, MARKET, Rig, liquid_tickers, make_rig, range_under


def _falls_to_its_stop(rig: Rig) -> tuple[str, dict[str, Decimal], datetime]:
    """A ticker that breaks out at 11:00 and whose price later falls to the range low, with
    the first 5-second poll at or below it."""
    start = datetime.combine(DAY, time(11, 0), rig.calendar.zone)
    close = datetime.combine(DAY, time(15, 45), rig.calendar.zone)
    for ticker in liquid_tickers(40):
        fields = range_under(ticker, start, "0.03", "0.10")
        crossed = MARKET.first_cross(ticker, start, close, fields["orl"], below=True)
        if crossed is None or crossed[0] < start + timedelta(minutes=5):
            continue
        at = start + timedelta(seconds=5) * ((crossed[0] - start) // timedelta(seconds=5))
        while (last := MARKET.quote(ticker, at).last) is None or last > fields["orl"]:
            at += timedelta(seconds=5)
        return ticker, fields, at
    raise AssertionError("no ticker falls to its stop in the demo market")


async def test_the_software_stop_still_sells_a_paused_ticker() -> None:
    rig = await make_rig(StrategyParams(resting_stop=False))
    operator = OperatorActions(TradingDay(rig.ctx))
    ticker, fields, due = _falls_to_its_stop(rig)
    rig.at(11, 0)
    rig.add(ticker, status=CandidateState.TRADEABLE, price_sensitive=True, **fields)
    assert (await rig.watch.poll()).entered == [ticker]
    operator.pause(Operator(1001, "trader"), ticker, "hold steady")

    rig.clock.advance_to(due - timedelta(seconds=5))
    assert (await rig.watch.poll()).exits == []
    rig.clock.advance_to(due)
    assert (await rig.watch.poll()).exits == [f"{ticker}:stop"]

    (sold,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP_EXIT]
    assert sold.status is IntentStatus.FILLED
    closed = rig.position(ticker)
    assert closed is not None and closed.status is PositionStatus.CLOSED
    assert rig.store.alert_kinds().count("control_action") == 1
