"""A broker that says no, or does not answer: the demo broker with the faults a real one
shows injected per kind of sell.

- Refusals. A real broker refuses an order it will not take (IBKR: precautionary settings,
  a confirmation nobody answers, permissions, a price it dislikes) by raising
  :class:`~skimd.errors.OrderRejectedError` with its reason; nothing is placed, and the
  same order may be accepted a minute later. ``refuse(kind)`` refuses every order of that
  kind, ``refuse(kind, every=n)`` the n-th, 2n-th, ... one.
- Time-outs. The order reaches the broker (and may fill at once) but its answer is lost:
  the call raises :class:`~skimd.errors.BrokerUnavailableError`. ``time_out(kind,
  every=n)`` does that to the n-th, 2n-th, ... order of the kind.
- Lag. IBKR's order lists can lag a few seconds behind the orders themselves: with
  ``lag_s`` set, an order placed less than that long ago is missing from
  :meth:`find_order` and :meth:`open_orders` (asking by broker order id still finds it).

The kind of a sell is what the order is for (:class:`~skimd.domain.trading.IntentPurpose`:
the resting stop, or the market exit of the software stop, the partial exit, the trail, the
flatten), read from the purpose code the client order id carries. Every order counts once
toward its kind's rules (a repeat of a client order id the broker has is answered as
before, never refused). ``refused`` and ``timed_out`` record what was done, in order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from skimd.clock import Clock
from skimd.domain.orders import OrderRequest, OrderState, Side
from skimd.domain.trading import IntentPurpose
from skimd.errors import BrokerUnavailableError, OrderRejectedError
from skimd.infrastructure.brokers.demo.broker import DemoBroker
from skimd.infrastructure.brokers.demo.market import DemoMarket

SELL_KINDS = tuple(p for p in IntentPurpose if p.is_exit)
_BY_CODE = {p.code: p for p in IntentPurpose}


def sell_kind(request: OrderRequest) -> IntentPurpose | None:
    """What a sell is for (see :func:`exit_purpose`); None for buys."""
    return exit_purpose(request.client_order_id) if request.side is Side.SELL else None


def exit_purpose(client_order_id: str) -> IntentPurpose | None:
    """The exit purpose a client order id carries (``SK<day>-<TICKER>-<code><position>.<seq>``);
    None for entries and ids skimd did not make."""
    purpose = _BY_CODE.get(client_order_id.rsplit("-", 1)[-1][:1])
    return purpose if purpose is not None and purpose.is_exit else None


@dataclass(frozen=True)
class Refusal:
    """One fault injected: the order's kind, client order id, symbol and when."""

    kind: IntentPurpose
    client_order_id: str
    symbol: str
    at: datetime


class RefusingBroker(DemoBroker):
    """The demo broker with faults injected by rule (see the module doc); built with the
    demo broker's own arguments."""

    def __init__(self, market: DemoMarket, clock: Clock, **options: Any) -> None:
        super().__init__(market, clock, **options)
        self._at = clock
        self._refuse: dict[IntentPurpose, int] = {}
        self._time_out: dict[IntentPurpose, int] = {}
        self._seen: Counter[IntentPurpose] = Counter()
        self._placed_at: dict[str, datetime] = {}
        self.lag_s = 0.0
        self.refused: list[Refusal] = []
        self.timed_out: list[Refusal] = []

    def refuse(self, kind: IntentPurpose, *, every: int = 1) -> None:
        """Refuse the ``every``-th order of ``kind`` (1: all of them) from now on."""
        self._refuse[kind] = _positive(every)

    def accept(self, kind: IntentPurpose) -> None:
        """Stop refusing ``kind``."""
        self._refuse.pop(kind, None)

    def time_out(self, kind: IntentPurpose, *, every: int = 1) -> None:
        """Place the ``every``-th order of ``kind`` but lose its answer, from now on."""
        self._time_out[kind] = _positive(every)

    async def place_order(self, request: OrderRequest) -> OrderState:
        kind = sell_kind(request)
        if kind is None or await self._known(request):
            return await super().place_order(request)
        self._seen[kind] += 1
        n = self._seen[kind]
        fault = Refusal(kind, request.client_order_id, request.symbol, self._at.now())
        refuse = self._refuse.get(kind)
        if refuse is not None and n % refuse == 0:
            self.refused.append(fault)
            raise OrderRejectedError(
                f"{request.symbol}: {kind.value} order {request.client_order_id} refused "
                f"(fault injection: {kind.value} #{n})"
            )
        state = await super().place_order(request)
        self._placed_at[request.client_order_id] = self._at.now()
        time_out = self._time_out.get(kind)
        if time_out is not None and n % time_out == 0:
            self.timed_out.append(fault)
            raise BrokerUnavailableError(
                f"{request.symbol}: order {request.client_order_id} placed, answer lost "
                "(fault injection: time-out)"
            )
        return state

    async def find_order(self, client_order_id: str) -> OrderState | None:
        if self._lagging(client_order_id):
            return None
        return await super().find_order(client_order_id)

    async def open_orders(self) -> list[OrderState]:
        listed = await super().open_orders()
        return [o for o in listed if not self._lagging(o.client_order_id)]

    async def book_orders(self) -> list[OrderState]:
        """The orders the broker really works, lag or not (what a check holds skimd to)."""
        return await super().open_orders()

    async def _known(self, request: OrderRequest) -> bool:
        return await super().find_order(request.client_order_id) is not None

    def _lagging(self, client_order_id: str | None) -> bool:
        placed = None if client_order_id is None else self._placed_at.get(client_order_id)
        return placed is not None and self._at.now() - placed < timedelta(seconds=self.lag_s)


def _positive(every: int) -> int:
    if every < 1:
        raise ValueError(f"every must be at least 1, not {every}")
    return every
