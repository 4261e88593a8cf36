"""The demo broker with IBKR's order-list behaviour: lists that lag behind a placement,
placings that time out after the order reached the broker, and duplicate client order ids
refused rather than answered.

What IBKR does, and this broker copies:

- ``/iserver/account/orders`` (``find_order``, ``open_orders``), the per-order status and
  ``/iserver/account/trades`` (``executions``) can miss an order, or its executions, for a
  few seconds after it was placed. Here: an order is invisible to ``find_order``,
  ``open_orders`` and ``order_status`` (unknown id: InvalidInputError, like the adapter;
  a cancel goes through but its answer is read back the same way) until ``list_lag_s`` of
  clock time after it was placed, and an
  execution is invisible to ``executions`` until ``trades_lag_s`` after it happened.
- Orders the lists no longer show at all (a gateway that restarted lists only its own
  session's orders): :meth:`forget` hides them for good; their executions stay.
- A placing that times out after the order reached IBKR: the adapter looks it up by cOID
  and, not finding it (lag), raises BrokerUnavailableError "outcome unknown". Here: the next
  ``time_out_placings`` placings that ``time_out_when`` accepts do exactly that.
- A second placing under a cOID IBKR already has is refused; the adapter looks it up and,
  not finding it (lag), raises OrderRejectedError with IBKR's text, which names the id.
  Here: the same (the plain demo broker would return the existing order's state instead).

``placings`` records every ``place_order`` call's client order id, accepted or not, and
``lookups`` every ``find_order`` call as (client order id, clock time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from skimd.domain.orders import Fill, OrderRequest, OrderState
from skimd.errors import BrokerUnavailableError, InvalidInputError, OrderRejectedError
from skimd.infrastructure.brokers.demo.broker import DemoBroker


class LaggingBroker(DemoBroker):
    def __init__(
        self,
        *args: Any,
        list_lag_s: float = 0.0,
        trades_lag_s: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.list_lag_s = list_lag_s
        self.trades_lag_s = trades_lag_s
        self.time_out_placings = 0
        self.time_out_when: Callable[[OrderRequest], bool] = lambda request: True
        self.placings: list[str] = []
        self.lookups: list[tuple[str, datetime]] = []
        self._placed_at: dict[str, datetime] = {}
        self._forgotten: set[str] = set()

    # -- what the lists show ---------------------------------------------------------------

    def forget(self, client_order_id: str) -> None:
        """The lists (and the per-order status) never show this order again."""
        self._forgotten.add(client_order_id)

    def listed(self, client_order_id: str | None) -> bool:
        if client_order_id is None:
            return True
        if client_order_id in self._forgotten:
            return False
        placed = self._placed_at.get(client_order_id)
        return placed is None or self._clock.now() >= placed + timedelta(seconds=self.list_lag_s)

    async def truth(self, client_order_id: str) -> OrderState | None:
        """The order as the broker really holds it (what the tests check against)."""
        return await super().find_order(client_order_id)

    async def working_truth(self) -> list[OrderState]:
        return await super().open_orders()

    async def all_executions(self, since: datetime) -> list[Fill]:
        return await super().executions(since)

    # -- the protocol ----------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderState:
        self.placings.append(request.client_order_id)
        if await super().find_order(request.client_order_id) is not None:
            seen = await self.find_order(request.client_order_id)
            if seen is not None:
                return seen
            raise OrderRejectedError(
                f"order {request.client_order_id!r} ({request.symbol}): IBKR refused it: "
                f"Order with local id {request.client_order_id} already exists"
            )
        state = await super().place_order(request)
        self._placed_at[request.client_order_id] = self._clock.now()
        if self.time_out_placings > 0 and self.time_out_when(request):
            self.time_out_placings -= 1
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            raise BrokerUnavailableError(
                f"order {request.client_order_id!r} ({request.symbol}): outcome unknown "
                "(timed out); not found at IBKR, not resent"
            )
        return state

    async def find_order(self, client_order_id: str) -> OrderState | None:
        self.lookups.append((client_order_id, self._clock.now()))
        found = await super().find_order(client_order_id)
        return found if found is not None and self.listed(client_order_id) else None

    async def open_orders(self) -> list[OrderState]:
        return [o for o in await super().open_orders() if self.listed(o.client_order_id)]

    async def order_status(self, broker_order_id: str) -> OrderState:
        state = await super().order_status(broker_order_id)
        if not self.listed(state.client_order_id):
            raise InvalidInputError(f"IBKR: unknown order id {broker_order_id!r}")
        return state

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        """The cancel reaches the order (IBKR's DELETE by id), but the status the adapter
        reads back afterwards is as lagging as ``order_status``."""
        await super().cancel_order(broker_order_id)
        return await self.order_status(broker_order_id)

    async def executions(self, since: datetime) -> list[Fill]:
        shown_until = self._clock.now() - timedelta(seconds=self.trades_lag_s)
        return [f for f in await super().executions(since) if f.executed_at <= shown_until]
