"""How the demo broker's working orders fill: the fill rules and the settlement of a book.

Fills are evaluated lazily and deterministically: :meth:`FillEngine.settle` applies every
fill and expiry between the time an order was last looked at and the instant asked about,
each at its exact simulated instant and in time order, so the fills of a day replayed with a
SimulatedClock do not depend on how often anyone polls.

Fill rules (one fill per order, no partials):

- MKT during the session fills at once at the ask (buy) / bid (sell): last +/- one tick.
  MKT placed before the day's open fills at the opening auction price.
- LMT buy fills when the price is at or below the limit (at the limit, or at a better opening
  price); a marketable limit fills at once at min(limit, ask). Sells mirror it.
- STP sell triggers when the price is at or below the stop and fills one tick worse than the
  trigger price (a gap through the stop fills a tick under the open). STP buy mirrors it.
- DAY orders expire (``cancelled``) at the session close; GTC orders work across days.
- Each fill costs ``commission``. Cash account: buys need cash, sells need shares (no
  shorting); a fill that would break either makes the order ``inactive``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import islice

from skimd.domain.market import asx_tick_size
from skimd.domain.orders import Fill, OrderStatus, OrderType, Side
from skimd.infrastructure.brokers.demo.book_store import Book, BookOrder, Holding
from skimd.infrastructure.brokers.demo.market_port import SimulatedMarket

_AVG_PLACES = Decimal("0.0001")
_ANY_PRICE = Decimal("1e9")  # a market order "crosses" at its first traded instant


@dataclass(frozen=True)
class _Event:
    at: datetime
    seq: int
    order: BookOrder
    price: Decimal | None  # None: the order expires


class FillEngine:
    """Fills and expires the orders of ``book`` against ``market``, booking each fill into
    its cash, holdings and executions. It never saves the book: its callers do, when it
    reports a change."""

    def __init__(
        self, market: SimulatedMarket, book: Book, *, commission: Decimal, account_id: str
    ) -> None:
        self._market = market
        self._book = book
        self._commission = commission
        self._account_id = account_id
        self._exec_ids = {f.exec_id for f in book.fills}
        # the book's working orders, kept up to date by :meth:`working` (a book holds every
        # order ever placed: scanning it all on every call made a long backtest quadratic)
        self._open: dict[str, BookOrder] = {}
        self._known = 0

    def settle(self, now: datetime) -> bool:
        """Apply every fill and expiry of the working orders up to ``now``, in time order;
        True when any happened. Moving an order's ``eval_from`` forward is no change: it only
        says "no crossing before here", so a book saved with an older one re-checks a stretch
        of path that has no crossing and finds the same fills."""
        changed = False
        working = self.working()
        events = [e for o in working if (e := self._next_event(o, now)) is not None]
        for event in sorted(events, key=lambda e: (e.at, e.seq)):
            if event.order.status.is_working:
                self._apply(event)
                changed = True
        for order in working:
            if order.status.is_working:
                order.eval_from = max(order.eval_from, now)
        return changed

    def working(self) -> list[BookOrder]:
        """The book's working orders, in the order they were placed. Orders only join the
        book (at its end) and a finished order never works again, so only the new ones are
        looked at, and the finished ones dropped."""
        orders = self._book.orders
        if len(orders) < self._known:  # not this book's growth: look at all of it again
            self._open, self._known = {}, 0
        if len(orders) > self._known:
            for key, order in islice(orders.items(), self._known, None):
                if order.status.is_working:
                    self._open[key] = order
            self._known = len(orders)
        for key in [k for k, o in self._open.items() if not o.status.is_working]:
            del self._open[key]
        return list(self._open.values())

    def fill_if_marketable(self, order: BookOrder, now: datetime) -> None:
        """Fill a just-placed ``order`` at once when it is marketable at ``now``."""
        event = self._next_event(order, now)
        if event is not None and event.price is not None and event.at <= now:
            self._apply(event)

    def book_fill(self, fill: Fill) -> bool:
        """Book ``fill`` into cash, holdings and executions; False if already booked."""
        if fill.exec_id in self._exec_ids:
            return False
        self._exec_ids.add(fill.exec_id)
        self._book.fills.append(fill)
        self._book.cash += fill.cash_delta
        held = self._book.holdings.setdefault(
            fill.conid, Holding(fill.symbol, fill.conid, 0, Decimal(0))
        )
        if fill.side is Side.BUY:
            total = held.avg_cost * held.qty + fill.gross + fill.commission
            held.qty += fill.qty
            held.avg_cost = (total / held.qty).quantize(_AVG_PLACES)
        else:
            held.qty -= fill.qty
            if held.qty == 0:
                held.avg_cost = Decimal(0)
        return True

    def _next_event(self, order: BookOrder, now: datetime) -> _Event | None:
        end = now if order.expires_at is None else min(now, order.expires_at)
        hit: tuple[datetime, Decimal] | None = None
        if order.eval_from <= end:
            hit = self._cross(order, order.eval_from, end)
        if hit is not None:
            return _Event(hit[0], order.seq, order, self._fill_price(order, *hit))
        if order.expires_at is not None and now >= order.expires_at:
            return _Event(order.expires_at, order.seq, order, None)
        return None

    def _cross(
        self, order: BookOrder, start: datetime, end: datetime
    ) -> tuple[datetime, Decimal] | None:
        req = order.request
        market = self._market
        if req.order_type is OrderType.MKT:
            # a market order fills at its first traded instant (the opening auction if early)
            return market.first_cross(req.symbol, start, end, _ANY_PRICE, below=True)
        if req.order_type is OrderType.LMT:
            assert req.limit_price is not None
            below = req.side is Side.BUY
            return market.first_cross(req.symbol, start, end, req.limit_price, below=below)
        assert req.stop_price is not None
        below = req.side is Side.SELL
        return market.first_cross(req.symbol, start, end, req.stop_price, below=below)

    def _fill_price(self, order: BookOrder, at: datetime, price: Decimal) -> Decimal:
        req = order.request
        tick = asx_tick_size(price)
        day = self._market.session_date(at)
        auction = at == self._market.opens_at(req.symbol, day)
        immediate = at == order.placed_at and not auction
        if req.order_type is OrderType.MKT:
            if not immediate:
                return price
            return price + tick if req.side is Side.BUY else max(price - tick, tick)
        if req.order_type is OrderType.LMT:
            assert req.limit_price is not None
            if req.side is Side.BUY:
                return min(req.limit_price, price + tick if immediate else price)
            return max(req.limit_price, price - tick if immediate else price)
        # stops fill one tick through the trigger
        return price + tick if req.side is Side.BUY else max(price - tick, tick)

    def _apply(self, event: _Event) -> None:
        order, req = event.order, event.order.request
        if event.price is None:
            order.status = OrderStatus.CANCELLED
            order.message = "DAY order expired at the close"
            return
        held = self._book.holdings.get(req.conid)
        gross = event.price * req.qty
        if req.side is Side.SELL and (held is None or held.qty < req.qty):
            order.status = OrderStatus.INACTIVE
            order.message = "no shares left to sell"
            return
        if req.side is Side.BUY and gross + self._commission > self._book.cash:
            order.status = OrderStatus.INACTIVE
            order.message = "insufficient cash at fill time"
            return
        fill = Fill(
            exec_id=f"DEMO-{order.broker_order_id}.1",
            broker_order_id=order.broker_order_id,
            client_order_id=req.client_order_id,
            symbol=req.symbol.strip().upper(),
            conid=req.conid,
            side=req.side,
            qty=req.qty,
            price=event.price,
            commission=self._commission,
            executed_at=event.at,
            account=self._account_id,
        )
        self.book_fill(fill)
        order.status = OrderStatus.FILLED
        order.filled_qty = req.qty
        order.avg_fill_price = event.price
