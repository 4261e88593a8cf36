"""A broker that says no: the demo broker with refusals injected where a real one refuses.

A real broker refuses an order it will not take (IBKR: precautionary settings, a
confirmation nobody answers, permissions, a price it dislikes) by raising
:class:`~skimd.errors.OrderRejectedError` with its reason; nothing is placed and the same
order may be accepted a minute later. :class:`RefusingBroker` does exactly that for the
sells chosen by a rule, per kind of sell:

- ``refuse(kind)``: every order of that kind;
- ``refuse(kind, every=n)``: the n-th, 2n-th, ... order of that kind.

The kind of a sell is what the order is for (:class:`~skimd.domain.trading.IntentPurpose`:
the resting stop, or the market exit of the software stop, the partial exit, the trail, the
flatten), read from the purpose code the client order id carries. ``refused`` records every
refusal, in order, so a test or bench can check each one was answered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from skimd.clock import Clock
from skimd.domain.orders import OrderRequest, OrderState, Side
from skimd.domain.trading import IntentPurpose
from skimd.errors import OrderRejectedError
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
    kind: IntentPurpose
    client_order_id: str
    symbol: str
    at: datetime


class RefusingBroker(DemoBroker):
    """The demo broker refusing the sells its rule picks (see the module doc); built with
    the demo broker's own arguments."""

    def __init__(self, market: DemoMarket, clock: Clock, **options: Any) -> None:
        super().__init__(market, clock, **options)
        self._at = clock
        self._every: dict[IntentPurpose, int] = {}
        self._seen: Counter[IntentPurpose] = Counter()
        self.refused: list[Refusal] = []

    def refuse(self, kind: IntentPurpose, *, every: int = 1) -> None:
        """Refuse the ``every``-th order of ``kind`` (1: all of them) from now on."""
        if every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self._every[kind] = every

    def accept(self, kind: IntentPurpose) -> None:
        """Stop refusing ``kind``."""
        self._every.pop(kind, None)

    async def place_order(self, request: OrderRequest) -> OrderState:
        kind = sell_kind(request)
        every = None if kind is None else self._every.get(kind)
        # a repeat of an order the broker has is answered as before, never refused
        if kind is not None and every is not None and not await self._known(request):
            self._seen[kind] += 1
            if self._seen[kind] % every == 0:
                self.refused.append(
                    Refusal(kind, request.client_order_id, request.symbol, self._at.now())
                )
                raise OrderRejectedError(
                    f"{request.symbol}: {kind.value} order {request.client_order_id} "
                    f"refused (fault injection: {kind.value} #{self._seen[kind]})"
                )
        return await super().place_order(request)

    async def _known(self, request: OrderRequest) -> bool:
        return await self.find_order(request.client_order_id) is not None
