"""Finding our orders at a broker whose lists lag behind it, and when "not found" counts.

IBKR's order and trade lists (``/iserver/account/orders``, ``/iserver/account/trades``, and
the per-order status) can miss an order for a few seconds after it was placed, and are
paced at one request per 5 s. So "not found" right after a placing means "not known yet",
never "not there". The rules (the order desk's module doc says what it does with them):

- A look-up asks every way the broker offers: by broker order id when we have one, by
  client order id, then the executions since the intent was written (they carry the client
  order id). Executions found there stand for the order (:func:`state_from_fills`): its
  fills are booked whatever the lists say.
- After a look-up that found nothing, the next one waits (back-off): 5, 10, 20, 40 s, then
  every 60 s, per order. The first look-up is never held back.
- An absence counts (:meth:`OrderLookup.absent`) only when a look-up finds nothing at least
  :data:`ABSENT_AFTER_S` after the last moment the order could have reached the broker: the
  intent's last write when we have no broker id (it is written right before sending, and a
  failed send is written right after); for an order the broker already gave us an id for,
  also at least that long after the first look-up that missed it (an order the broker once
  showed does not vanish by lag, so one empty answer proves nothing).
- What the desk knows from asking lives in this process only; a restarted process asks
  afresh, and the window runs from the times stored with the intent.

A lag longer than :data:`ABSENT_AFTER_S` is outside these rules: an order not shown for that
long, without executions, is taken as not there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from skimd.domain.orders import Fill, OrderState, OrderStatus, OrderType, Side, TimeInForce
from skimd.domain.trading import AVG_PRICE_STEP, IntentRecord, IntentStatus
from skimd.errors import InvalidInputError
from skimd.services.trading.context import TradingContext

ABSENT_AFTER_S = 30.0  # a "few seconds" of IBKR list lag, six of its 5-s pacing slots
FIRST_ASK_S = 5.0  # the next look-up after a miss, doubling ...
MAX_ASK_S = 60.0  # ... up to this

_DUPLICATE_WORDS = (
    "already exists",
    "already registered",
    "duplicate coid",
    "duplicate client order id",
    "duplicate order id",
)


@dataclass
class _Misses:
    first: datetime
    next_at: datetime
    interval: float


class OrderLookup:
    """Looks our orders up at ``ctx.broker`` (read at each call: the broker may be swapped)
    and remembers, per client order id, the look-ups that missed."""

    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx
        self._misses: dict[str, _Misses] = {}

    def due(self, intent: IntentRecord) -> bool:
        """True unless the last look-up for ``intent`` missed less than its back-off ago."""
        misses = self._misses.get(intent.client_order_id)
        return misses is None or self.ctx.now() >= misses.next_at

    def forget(self, intent: IntentRecord) -> None:
        """Stop tracking ``intent`` (it was seen, or it is final)."""
        self._misses.pop(intent.client_order_id, None)

    async def look(self, intent: IntentRecord) -> OrderState | None:
        """The broker's state of ``intent``'s order: by broker id, by client order id, else
        built from its executions; None when none of them shows it (a miss, remembered)."""
        broker = self.ctx.broker
        state = None
        if intent.broker_order_id is not None:
            try:
                state = await broker.order_status(intent.broker_order_id)
            except InvalidInputError:  # not (yet, or no longer) known by that id
                state = None
        if state is None:
            state = await broker.find_order(intent.client_order_id)
        if state is None:
            fills = [f for f in await broker.executions(intent.created_at) if _of(intent, f)]
            if fills:
                state = state_from_fills(intent, fills, ended=self.session_over(intent))
        if state is None:
            self._missed(intent)
        else:
            self.forget(intent)
        return state

    def absent(self, intent: IntentRecord) -> bool:
        """After a look-up that missed: does the absence count (see the module doc)?"""
        since = intent.updated_at or intent.created_at
        misses = self._misses.get(intent.client_order_id)
        if intent.broker_order_id is not None and misses is not None:
            since = max(since, misses.first)
        return (self.ctx.now() - since).total_seconds() >= ABSENT_AFTER_S

    def session_over(self, intent: IntentRecord) -> bool:
        """True for a DAY order whose session has closed: it can no longer be working."""
        if intent.tif != TimeInForce.DAY.value:
            return False
        created_day = self.ctx.calendar.market_date(intent.created_at)
        if created_day != self.ctx.today():
            return True
        session = self.ctx.calendar.session(created_day)
        return session is None or self.ctx.now() >= session.close_at

    def _missed(self, intent: IntentRecord) -> None:
        now = self.ctx.now()
        misses = self._misses.get(intent.client_order_id)
        if misses is None:
            self._misses[intent.client_order_id] = _Misses(
                now, now + timedelta(seconds=FIRST_ASK_S), FIRST_ASK_S
            )
            return
        misses.interval = min(misses.interval * 2, MAX_ASK_S)
        misses.next_at = now + timedelta(seconds=misses.interval)


def adopted(intent: IntentRecord) -> bool:
    """Submitted without a broker id: the broker answered that it already has this client
    order id, but has not shown the order yet."""
    return intent.status is IntentStatus.SUBMITTED and intent.broker_order_id is None


def says_duplicate(message: str, client_order_id: str) -> bool:
    """True when a refusal says the broker already has an order under ``client_order_id``
    (IBKR: "Order with local id … already exists", "… is already registered")."""
    text = message.lower()
    return client_order_id.lower() in text and any(w in text for w in _DUPLICATE_WORDS)


def state_from_fills(intent: IntentRecord, fills: list[Fill], *, ended: bool) -> OrderState:
    """The order as its executions show it: filled when they add up to its quantity,
    otherwise partially filled, or cancelled when its DAY session has ended (the rest
    expired). Several fills average by quantity, to :data:`AVG_PRICE_STEP`."""
    filled = sum(f.qty for f in fills)
    average = fills[0].price
    if len(fills) > 1:
        total = sum((f.price * f.qty for f in fills), Decimal(0))
        average = (total / filled).quantize(AVG_PRICE_STEP)
    if filled >= intent.qty:
        status = OrderStatus.FILLED
    elif ended:
        status = OrderStatus.CANCELLED
    else:
        status = OrderStatus.PARTIALLY_FILLED
    return OrderState(
        broker_order_id=fills[-1].broker_order_id,
        client_order_id=intent.client_order_id,
        status=status,
        symbol=intent.ticker,
        conid=intent.conid,
        side=Side(intent.side),
        qty=intent.qty,
        filled_qty=filled,
        avg_fill_price=average,
        remaining=0 if status.is_terminal else intent.qty - filled,
        order_type=OrderType(intent.order_type),
        limit_price=intent.limit_price,
        stop_price=intent.stop_price,
        tif=TimeInForce(intent.tif),
        message="known from its executions; the broker's order list does not show it",
    )


def _of(intent: IntentRecord, fill: Fill) -> bool:
    if fill.client_order_id == intent.client_order_id:
        return True
    return intent.broker_order_id is not None and fill.broker_order_id == intent.broker_order_id
