"""Pure broker domain rules: gaps, ASX ticks, order validation, questions, caches, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from skimd.domain.account import AccountSummary, Position, SessionHealth
from skimd.domain.market import (
    Quote,
    TickDirection,
    asx_tick_size,
    gap_pct,
    is_on_tick,
    round_to_tick,
)
from skimd.domain.orders import (
    Fill,
    OrderQuestion,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from skimd.errors import InvalidInputError
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache

D = Decimal
NOW = datetime(2025, 3, 4, 0, 0, tzinfo=UTC)


def test_gap_pct_is_percent_over_previous_close() -> None:
    assert gap_pct(D("1.00"), D("1.05")) == D("5.0000")
    assert gap_pct(D("0.200"), D("0.190")) == D("-5.0000")
    assert gap_pct(D("3"), D("3.1")) == D("3.3333")
    with pytest.raises(ValueError, match="positive"):
        gap_pct(D("0"), D("1"))


@pytest.mark.parametrize(
    ("price", "tick"),
    [(D("0.05"), D("0.001")), (D("0.099"), D("0.001")), (D("0.10"), D("0.005")),
     (D("1.995"), D("0.005")), (D("2.00"), D("0.01")), (D("120"), D("0.01"))],
)  # fmt: skip
def test_asx_tick_size_bands(price: Decimal, tick: Decimal) -> None:
    assert asx_tick_size(price) == tick


def test_round_to_tick_directions_and_band_edges() -> None:
    assert round_to_tick(D("1.2370"), TickDirection.DOWN) == D("1.235")
    assert round_to_tick(D("1.2370"), TickDirection.UP) == D("1.240")
    assert round_to_tick(D("1.2370")) == D("1.235")
    assert round_to_tick(D("1.9990"), TickDirection.UP) == D("2.00")
    assert round_to_tick(D("0.0001"), TickDirection.DOWN) == D("0.001")
    assert is_on_tick(D("1.235")) and not is_on_tick(D("1.237")) and not is_on_tick(D("0"))


def test_quote_gap_and_data_flags() -> None:
    empty = Quote(conid=1, symbol="BHP", at=NOW)
    assert not empty.has_data and empty.gap_pct is None and not empty.is_open
    pre_open = Quote(conid=1, symbol="BHP", at=NOW, prev_close=D("40"))
    assert pre_open.has_data and not pre_open.is_open
    live = Quote(conid=1, symbol="BHP", at=NOW, last=D("42"), open=D("42"), prev_close=D("40"))
    assert live.is_open and live.gap_pct == D("5.0000")
    with pytest.raises(ValueError, match="aware"):
        Quote(conid=1, symbol="BHP", at=datetime(2025, 3, 4))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qty": 0}, "qty must be positive"),
        ({"order_type": OrderType.LMT}, "needs limit_price"),
        ({"order_type": OrderType.STP}, "needs stop_price"),
        ({"limit_price": D("1.00")}, "takes no limit"),
        ({"order_type": OrderType.LMT, "limit_price": D("-1")}, "must be positive"),
        ({"client_order_id": " "}, "client_order_id is empty"),
    ],
)
def test_order_request_validation(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {
        "client_order_id": "c1", "symbol": "BHP", "conid": 1, "side": Side.BUY,
        "qty": 10, "order_type": OrderType.MKT,
    }  # fmt: skip
    with pytest.raises(InvalidInputError, match=message):
        OrderRequest(**{**base, **kwargs})  # type: ignore[arg-type]


def test_order_status_terminality() -> None:
    terminal = {s for s in OrderStatus if s.is_terminal}
    assert terminal == {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.INACTIVE,
    }
    assert OrderStatus.PARTIALLY_FILLED.is_working


def test_fill_cash_delta_includes_commission() -> None:
    def fill(side: Side) -> Fill:
        return Fill("e1", "o1", "c1", "BHP", 1, side, 100, D("2.50"), D("6"), NOW, "DU1")

    assert fill(Side.BUY).cash_delta == D("-256.00")
    assert fill(Side.SELL).cash_delta == D("244.00")


def test_question_allowed_only_when_every_code_is_listed() -> None:
    allowed = {"o163", "o354"}
    assert OrderQuestion("q1", "price exceeds", ("o163",)).allowed_by(allowed)
    assert not OrderQuestion("q2", "mixed", ("o163", "o999")).allowed_by(allowed)
    assert not OrderQuestion("q3", "no codes").allowed_by(allowed)


def test_account_value_helpers() -> None:
    pos = Position("DU1", "BHP", 1, 100, D("40"), D("42"))
    assert pos.market_value == D("4200") and pos.unrealized_pnl == D("200")
    assert Position("DU1", "BHP", 1, 100, D("40")).market_value is None
    summary = AccountSummary("DU1", True, "AUD", D("10"), D("11"), D("10"))
    assert summary.equity == D("11")
    assert SessionHealth(True, False, True).ok
    assert not SessionHealth(True, True, True).ok


def test_identifier_cache_expires_entries() -> None:
    cache = InMemoryIdentifierCache()
    cache.put("bhp", 4036812, NOW + timedelta(hours=1))
    assert cache.get("BHP", NOW) == 4036812
    assert cache.get("BHP", NOW + timedelta(hours=1)) is None
    assert cache.get("CBA", NOW) is None
    with pytest.raises(ValueError, match="aware"):
        cache.put("CBA", 1, datetime(2025, 3, 4))


def test_recording_events_keep_order() -> None:
    events = RecordingBrokerEvents()
    events.session_competing()
    events.rate_limited("snapshot", NOW)
    events.session_lost("nightly reset")
    assert events.kinds() == ["session_competing", "rate_limited", "session_lost"]
    assert events.events[1].until == NOW and events.events[2].detail == "nightly reset"
