"""One message per entry, through the intraday watch on the demo broker: the entry is told
once it is settled (its resting stop taken by the broker, or the software stop guarding it
when the stop is refused or resting stops are off); its placed/filled events are never
messages of their own. (An entry that ends unfilled: ``test_order_desk``.)"""

from __future__ import annotations

from dataclasses import replace

from skimd.domain.alerts import EntrySettled
from skimd.domain.protection import Cover
from skimd.domain.trading import CandidateState, IntentPurpose, IntentStatus
from skimd.services.trading.params import StrategyParams
from tests.fakes.refusing_broker import RefusingBroker
from tests.unit.trading.rig import Rig, liquid_tickers, make_rig, range_under


async def _enter(rig: Rig, polls: int = 4) -> tuple[str, EntrySettled]:
    """A breakout at 11:00, then ``polls`` more polls 5 s apart; the entry's one message."""
    ticker = liquid_tickers(1)[0]
    now = rig.at(11, 0)
    rig.add(
        ticker,
        status=CandidateState.TRADEABLE,
        price_sensitive=True,
        **range_under(ticker, now, "0.05", "0.25"),
    )
    assert (await rig.watch.poll()).entered == [ticker]
    for _ in range(polls):
        rig.clock.advance(5)
        await rig.watch.poll()
    settled = [a for a in rig.store.alerts if isinstance(a, EntrySettled)]
    assert len(settled) == 1, rig.store.alert_kinds()
    return ticker, settled[0]


async def test_an_entry_and_its_stop_make_exactly_one_message() -> None:
    rig = await make_rig()
    ticker, settled = await _enter(rig)
    assert rig.store.alert_kinds() == ["entry_settled"]
    (stop,) = [i for i in rig.intents() if i.purpose is IntentPurpose.STOP]
    assert stop.status is IntentStatus.SUBMITTED  # resting at the broker
    position = rig.position(ticker)
    assert position is not None
    assert (settled.symbol, settled.quantity, settled.price) == (
        ticker,
        position.qty,
        position.avg_price,
    )
    assert settled.stop == stop.stop_price and settled.cover is Cover.BROKER_STOP
    assert settled.occurred_at == position.opened_at  # in the same poll as its fill


async def test_a_refused_stop_still_settles_the_entry_on_the_software_stop() -> None:
    rig = await make_rig(broker_class=RefusingBroker)
    broker = rig.broker
    assert isinstance(broker, RefusingBroker)
    broker.refuse(IntentPurpose.STOP)
    _, settled = await _enter(rig)
    assert settled.cover is Cover.SOFTWARE_STOP
    kinds = rig.store.alert_kinds()
    assert kinds.count("entry_settled") == 1
    assert "protection_fallback" in kinds  # the failure keeps its own (critical) alert
    assert "order_placed" not in kinds and "order_filled" not in kinds


async def test_with_resting_stops_off_the_fill_settles_the_entry() -> None:
    rig = await make_rig(replace(StrategyParams(), resting_stop=False))
    _, settled = await _enter(rig)
    assert settled.cover is Cover.SOFTWARE_STOP and settled.fees is not None
    assert rig.store.alert_kinds() == ["entry_settled"]
    assert [i for i in rig.intents() if i.purpose is IntentPurpose.STOP] == []
