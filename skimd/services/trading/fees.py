"""What the broker charged for our orders, for the alerts that state net P&L.

The order desk learns prices from order states, which carry no commission; the broker's
executions do (the journal books the same executions at its sync, so the figures agree).
The desk asks for them only when it is about to queue an alert that states fees (an entry
settled, an exit), before the unit of work that queues it. A broker that cannot answer
leaves the fees unknown (the alert says so); it never holds a fill's booking back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog

from skimd.domain.orders import Fill, OrderState, Side
from skimd.domain.trading import IntentPurpose, IntentRecord, IntentStatus
from skimd.errors import SkimdError
from skimd.services.ports.broker import Broker
from skimd.services.trading.context import TradingContext

log = structlog.get_logger(__name__)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderFees:
    """The executions the broker showed (since some moment), to share out by order."""

    fills: Sequence[Fill] = ()

    def share(self, orders: Iterable[IntentRecord], qty: int) -> Decimal | None:
        """The commissions of ``orders``' executions pro rata for ``qty`` of their executed
        shares, to the cent; None when they show fewer than ``qty`` shares (not known yet)."""
        mine = [f for f in self.fills if any(_of(o, f) for o in orders)]
        executed = sum(f.qty for f in mine)
        if qty <= 0 or executed < qty:
            return None
        commission = sum((f.commission for f in mine), Decimal(0))
        return (commission * qty / executed).quantize(CENT)


ANSWERED = frozenset({IntentStatus.SUBMITTED, IntentStatus.PARTIALLY_FILLED, IntentStatus.FILLED})
"""Intent statuses that mean the broker took the order."""


def first_answer(intent: IntentRecord) -> bool:
    """True while the broker has not yet taken ``intent``, as far as we know."""
    return intent.broker_order_id is None or intent.status in (
        IntentStatus.PENDING,
        IntentStatus.UNKNOWN,
    )


def opened_today(ctx: TradingContext, opened_at: datetime) -> bool:
    return ctx.calendar.market_date(opened_at) == ctx.today()


async def fees_for(
    ctx: TradingContext, intent: IntentRecord, state: OrderState | None
) -> OrderFees | None:
    """The executions to state fees from, when applying ``state`` to ``intent`` (None: the
    broker refused it) may queue an entry or an exit message; else None, without asking
    the broker. Those are: a sell that fills, the first answer to a stop for a position
    entered today (taken or refused), an entry that fills while resting stops are off.
    Called after the order went out, never before: a stop is not held back for fees."""
    fills_now = (
        state is not None
        and state.filled_qty > intent.filled_qty
        and state.avg_fill_price is not None
    )
    sells = fills_now and intent.side == Side.SELL.value
    protects = intent.purpose is IntentPurpose.STOP and first_answer(intent)
    enters = fills_now and intent.purpose is IntentPurpose.ENTRY and not ctx.params.resting_stop
    if not (sells or protects or enters):
        return None
    since = intent.created_at
    if intent.position_id is not None:
        with ctx.store.read() as tx:
            position = tx.position(intent.position_id)
        if position is not None:
            if not sells and not opened_today(ctx, position.opened_at):
                return None  # a later day's stop: no entry message, no fees needed
            since = min(since, position.opened_at)
    return await fees_since(ctx.broker, since)


async def fees_since(broker: Broker, since: datetime) -> OrderFees | None:
    """The broker's executions since ``since``; None when it cannot say now."""
    try:
        return OrderFees(tuple(await broker.executions(since)))
    except SkimdError as exc:
        log.warning("executions not read; fees left unknown", error=str(exc))
        return None


def _of(intent: IntentRecord, fill: Fill) -> bool:
    if fill.client_order_id is not None and fill.client_order_id == intent.client_order_id:
        return True
    return intent.broker_order_id is not None and fill.broker_order_id == intent.broker_order_id
