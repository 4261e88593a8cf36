"""Order rows as IBKR documents them (OpenAPI spec v2.29.0, https://api.ibkr.com/gw/api/v3/api-docs).

``/iserver/account/order/status/{orderId}``: ``size`` is the *remaining* unfilled quantity,
``total_size`` the order's, ``cum_fill`` the filled; the row carries no cOID. Live orders carry
the cOID as ``order_ref`` (IBKR's Web API documentation, "Monitoring Live Orders").
"""

from __future__ import annotations

from decimal import Decimal

from skimd.domain.orders import OrderStatus, OrderType, Side
from skimd.infrastructure.brokers.ibkr import mapping


def test_order_status_size_is_the_remaining_quantity() -> None:
    row = {"order_id": 7, "conid": 1, "side": "B", "order_type": "LIMIT",
           "order_status": "Submitted", "size": "3.0", "cum_fill": "2.0"}
    state = mapping.order_state_from(row, client_order_id="c-1")
    assert (state.qty, state.filled_qty, state.remaining) == (5, 2, 3)
    assert state.status is OrderStatus.PARTIALLY_FILLED


def test_order_status_example_from_ibkrs_spec() -> None:
    row = {"order_id": 1799796559, "conid": 265598, "symbol": "AAPL", "side": "S",
           "size": "0.0", "total_size": "5.0", "cum_fill": "5.0", "order_status": "Filled",
           "order_type": "MARKET", "tif": "DAY", "average_price": "192.26",
           "order_status_description": "Order Filled"}
    state = mapping.order_state_from(row, client_order_id="ours-1")
    assert (state.broker_order_id, state.client_order_id, state.side) == (
        "1799796559", "ours-1", Side.SELL)
    assert (state.qty, state.filled_qty, state.remaining, state.status) == (
        5, 5, 0, OrderStatus.FILLED)
    assert (state.order_type, state.avg_fill_price) == (OrderType.MKT, Decimal("192.26"))


def test_live_order_names_its_coid_in_order_ref() -> None:
    row = {"orderId": 1234568790, "conid": 265598, "ticker": "AAPL", "side": "SELL",
           "totalSize": 5.0, "filledQuantity": 5.0, "status": "Filled",
           "orderType": "Market", "timeInForce": "GTC", "order_ref": "Order123",
           "avgPrice": "192.26"}
    state = mapping.order_state_from(row)
    assert (state.client_order_id, state.qty, state.status) == ("Order123", 5, OrderStatus.FILLED)
