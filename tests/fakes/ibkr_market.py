"""Days of prices, fills and stop triggers for the fake IBKR, read off the demo market.

:class:`FakeIbkrMarket` binds a :class:`~tests.fakes.ibkr_server.FakeIbkr` to a seeded
:class:`~skimd.infrastructure.brokers.demo.market.DemoMarket` (the same model of ASX days the
demo trades: gaps at the open, intraday paths, closes, a calendar with holidays). Before the
fake answers a request, :meth:`FakeIbkrMarket.before` brings it up to the request's instant:

- the instruments the request is about carry the market's quote at that instant (last, bid,
  ask, open, high, low, volume, previous close; IBKR's ``C`` prefix after the close);
- the scanner answers the day's largest opening gaps (IBKR's top-%-gainers scan returns at
  most 50 rows: https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/#scanner);
- daily history is the market's completed sessions, intraday history its 1-minute bars;
- the websocket's streamed conids move with the market when :meth:`FakeIbkrMarket.push` is
  called for an instant (a tick: only the fields that changed go out);
- every working order is settled against the market's path since it was last looked at, at
  the instant it crossed: a marketable order fills at once, a resting LMT when the price
  reaches it, a STP sell when the price trades at or below its stop (one tick through the
  trigger, or the opening price when the session gaps through it), and DAY orders expire at
  the session close. A sell never takes the account short (IBKR refuses it; here it stays
  working). Fills land in the fake's executions, so ``/iserver/account/trades``,
  ``/portfolio/{acct}/positions`` and the order endpoints agree.

Nothing here reads a wall clock: the request's instant is the fake's clock's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from skimd.domain.market import asx_tick_size
from skimd.infrastructure.brokers.demo.intraday_bars import intraday_bars
from skimd.infrastructure.brokers.demo.market import DemoMarket
from tests.fakes.ibkr_server import (
    BASE_PATH,
    SNAPSHOT_PATH,
    FakeIbkr,
    FakeInstrument,
    FakeOrder,
    daily_bar,
)

SCANNER_ROWS = 50
DAILY_HISTORY_DAYS = 60
_WORKING = ("PreSubmitted", "Submitted")


@dataclass
class SettledFill:
    """A fill the market gave one of the fake's orders (for the soak's day figures)."""

    order_id: str
    coid: str
    symbol: str
    side: str
    order_type: str
    qty: int
    price: Decimal
    at: datetime


class FakeIbkrMarket:
    """Drives ``fake``'s prices, scanner, history and fills from ``market``."""

    def __init__(self, fake: FakeIbkr, market: DemoMarket) -> None:
        self.fake = fake
        self.market = market
        self.fills: list[SettledFill] = []
        self.expired: list[str] = []  # order ids of DAY orders expired at the close
        self._looked_at: dict[str, datetime] = {}  # order id -> settled up to
        fake.auto_fill_market = False  # market orders fill here, on the market's path
        for ticker in market.tickers:
            fake.add_instrument(
                FakeInstrument(
                    symbol=ticker.symbol,
                    conid=ticker.conid,
                    name=ticker.name,
                    prev_close=Decimal(1),
                )
            )

    # -- the hook ------------------------------------------------------------------------

    def before(self, request: httpx.Request) -> None:
        """Bring the fake to ``now`` for ``request``: settle orders, refresh what it reads."""
        now = self.fake.clock.now()
        self.settle(now)
        path = request.url.path.removeprefix(BASE_PATH)
        params = dict(request.url.params)
        if path == SNAPSHOT_PATH:
            for conid in _ints(params.get("conids", "")):
                self.refresh(conid, now)
        elif path == "/iserver/scanner/run":
            self.fake.scanner_conids = [p.conid for p in self.market.opened(now)][:SCANNER_ROWS]
            for conid in self.fake.scanner_conids:
                self.refresh(conid, now)
        elif path == "/iserver/marketdata/history":
            conid = int(params.get("conid", "0") or 0)
            if self.market.by_conid(conid) is not None:
                self.refresh(conid, now)
                self._history(conid, now)
        elif path.startswith("/portfolio/"):
            for conid in {e.order.conid for e in self.fake.executions}:
                self.refresh(conid, now)

    def refresh(self, conid: int, now: datetime) -> None:
        ticker = self.market.by_conid(conid)
        inst = self.fake.instruments.get(conid)
        if ticker is None or inst is None:
            return
        q = self.market.quote(ticker.symbol, now)
        inst.prev_close = q.prev_close or inst.prev_close
        inst.last, inst.bid, inst.ask = q.last, q.bid, q.ask
        inst.open, inst.high, inst.low = q.open, q.high, q.low
        inst.volume = q.volume or 0
        day = self.market.session_date(now)
        inst.closed = not self.market.is_trading_day(day) or now >= self.market.close_at(day)

    def push(self, now: datetime) -> int:
        """The websocket's ticks: bring every conid streamed on it to the market's quote at
        ``now`` and push the fields that changed; how many messages went out."""
        count = 0
        for conid in sorted(self.fake.ws.subscribed()):
            self.refresh(conid, now)
            count += self.fake.ws.publish(conid)
        return count

    def _history(self, conid: int, now: datetime) -> None:
        ticker = self.market.by_conid(conid)
        assert ticker is not None
        bars = self.market.daily_bars(ticker.symbol, now, DAILY_HISTORY_DAYS)
        self.fake.bars[conid] = [
            daily_bar(b.day, str(b.open), str(b.high), str(b.low), str(b.close), b.volume)
            for b in bars
        ]
        rows: list[dict[str, Any]] = []
        day = self.market.session_date(now)
        for _ in range(7):  # the sessions of the last week, for requests about past days
            for bar in intraday_bars(self.market, ticker.symbol, day, 1, now):
                assert bar.at is not None
                rows.append({"o": float(bar.open), "h": float(bar.high), "l": float(bar.low),
                             "c": float(bar.close), "v": bar.volume,
                             "t": int(bar.at.timestamp() * 1000)})
            day -= timedelta(days=1)
        self.fake.intraday[conid] = sorted(rows, key=lambda r: int(r["t"]))

    # -- fills -------------------------------------------------------------------------

    def settle(self, now: datetime) -> None:
        """Fill or expire every working order up to ``now``, in time order."""
        events: list[tuple[datetime, int, FakeOrder, Decimal | None]] = []
        for order in self.fake.orders.values():
            if order.status not in _WORKING:
                continue
            start = self._looked_at.setdefault(order.order_id, now)
            event = self._next_event(order, start, now)
            if event is not None:
                events.append((event[0], int(order.order_id), order, event[1]))
            self._looked_at[order.order_id] = now
        for at, _, order, price in sorted(events, key=lambda e: (e[0], e[1])):
            if order.status not in _WORKING:
                continue
            if price is None:
                order.status = "Cancelled"
                self.expired.append(order.order_id)
            elif order.side == "SELL" and self._held(order) < order.qty - order.filled:
                continue  # IBKR would not take the account short
            else:
                self.fake.fill(order.order_id, price)
                self.fake.executions[-1].at = at
                self.fills.append(SettledFill(order.order_id, order.coid, order.symbol,
                                              order.side, order.order_type,
                                              order.qty, price, at))

    def _next_event(
        self, order: FakeOrder, start: datetime, now: datetime
    ) -> tuple[datetime, Decimal | None] | None:
        expires = self._expiry(order, start)
        end = now if expires is None else min(now, expires)
        hit = self._cross(order, start, end) if start <= end else None
        if hit is not None:
            return hit[0], self._fill_price(order, *hit)
        if expires is not None and now >= expires:
            return expires, None
        return None

    def _expiry(self, order: FakeOrder, placed: datetime) -> datetime | None:
        if order.tif != "DAY":
            return None
        day = self.market.session_date(placed)
        while not self.market.is_trading_day(day) or placed >= self.market.close_at(day):
            day += timedelta(days=1)
            placed = datetime.combine(day, datetime.min.time(), self.market.calendar.zone)
        return self.market.close_at(day)

    def _cross(
        self, order: FakeOrder, start: datetime, end: datetime
    ) -> tuple[datetime, Decimal] | None:
        symbol = order.symbol
        if order.order_type == "MKT":
            return self.market.first_cross(symbol, start, end, Decimal("1e9"), below=True)
        assert order.price is not None
        # LMT: a buy fills at or below its limit; STP: a sell triggers at or below its stop
        below = order.side == ("BUY" if order.order_type == "LMT" else "SELL")
        return self.market.first_cross(symbol, start, end, order.price, below=below)

    @staticmethod
    def _fill_price(order: FakeOrder, at: datetime, price: Decimal) -> Decimal:
        tick = asx_tick_size(price)
        if order.order_type == "LMT":
            assert order.price is not None
            return min(order.price, price) if order.side == "BUY" else max(order.price, price)
        if order.order_type == "MKT":
            return price + tick if order.side == "BUY" else max(price - tick, tick)
        return price + tick if order.side == "BUY" else max(price - tick, tick)

    def _held(self, order: FakeOrder) -> int:
        held = 0
        for e in self.fake.executions:
            if e.order.account == order.account and e.order.conid == order.conid:
                held += e.qty if e.order.side == "BUY" else -e.qty
        return held

    # -- figures -----------------------------------------------------------------------

    def fills_on(self, day: date) -> list[SettledFill]:
        zone = self.market.calendar.zone
        return [f for f in self.fills if f.at.astimezone(zone).date() == day]


def _ints(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        try:
            out.append(int(part))
        except ValueError:
            continue
    return out


__all__ = ["FakeIbkrMarket", "SettledFill"]
