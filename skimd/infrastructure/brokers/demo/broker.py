"""The demo broker: a paper account trading against :class:`DemoMarket`, same protocols as
IBKR.

Fills are evaluated lazily and deterministically from the injected Clock: every call first
settles all working orders against the price path between the time they were last looked at
and ``clock.now()`` (or call :meth:`DemoBroker.sync` explicitly). The fill rules live
in :mod:`.fills`, the intraday bars in :mod:`.intraday_bars`. Sessions (zone, open, close,
early closes, trading days) are those of the market's calendar.

Orders are idempotent on ``client_order_id``.

Restarts: with a ``book_path`` the broker behaves like a remote broker across crashes of the
daemon. Its whole book (orders including working ones, fills, cash, holdings, the order
sequence, market-data subscriptions) is saved after every change and loaded on construction
(see :mod:`book_store`), so a restarted daemon finds its orders where it left them and
reconciles them by client order id; a restored broker asked the same questions at the same
simulated times gives the same fills as one that never stopped. Without a ``book_path`` the
book lives in memory only and :meth:`DemoBroker.restore` can replay journaled fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from skimd.clock import Clock
from skimd.domain.account import AccountSummary, Position, SessionHealth
from skimd.domain.gaps import GapFilter
from skimd.domain.market import (
    Announcement,
    Bar,
    Contract,
    GapCandidate,
    Quote,
    asx_tick_size,
    is_on_tick,
)
from skimd.domain.orders import (
    Fill,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from skimd.errors import BrokerSessionError, InvalidInputError, OrderRejectedError
from skimd.infrastructure.brokers.demo.book_store import Book, BookOrder, BookStore
from skimd.infrastructure.brokers.demo.fills import FillEngine
from skimd.infrastructure.brokers.demo.market_port import SimulatedMarket
from skimd.infrastructure.brokers.demo.quote_stream import DemoQuoteStream
from skimd.services.ports.broker import (
    INTRADAY_BAR_MINUTES,
    BrokerEvents,
    IdentifierCache,
    PacingBudget,
)
from skimd.services.ports.quotes import StreamStateListener

CONID_CACHE_TTL = timedelta(days=7)


class DemoBroker:
    """A paper account on the simulated ASX (``kind == "demo"``, ``is_paper`` True).

    ``book_path``: keep the book in this JSON file (see the module docs). An existing file is
    loaded and wins over ``starting_cash``; a missing one is created at once with the fresh
    book, so an unwritable location fails at construction (FatalError). A file that cannot be
    read, or that belongs to another market seed/universe or account, raises
    ConfigurationError naming it.
    """

    def __init__(
        self,
        market: SimulatedMarket,
        clock: Clock,
        *,
        events: BrokerEvents,
        identifier_cache: IdentifierCache,
        starting_cash: Decimal = Decimal("100000"),
        commission_per_order: Decimal = Decimal("6"),
        account_id: str = "DU-DEMO",
        snapshot_preflight: bool = True,
        book_path: Path | None = None,
    ) -> None:
        self.market = market
        self._clock = clock
        self._events = events
        self._cache = identifier_cache
        self._commission = commission_per_order
        self.account_id = account_id
        self._preflight = snapshot_preflight
        self._connected = False
        self._authenticated = False
        self._competing = False
        self._message = "not connected"
        self._store: BookStore | None = None
        self._dirty = False
        self._synced_at: datetime | None = None
        self._streams: list[DemoQuoteStream] = []
        book: Book | None = None
        if book_path is not None:
            self._store = BookStore(
                book_path,
                account_id=account_id,
                market_seed=market.seed,
                universe_size=len(market.tickers),
            )
            book = self._store.load()
        self._book = book if book is not None else Book(cash=starting_cash)
        self._by_coid = {o.request.client_order_id: o for o in self._book.orders.values()}
        self._fills = FillEngine(
            market, self._book, commission=commission_per_order, account_id=account_id
        )
        if book is None:
            self._changed()
            self._persist()

    @property
    def book_as_of(self) -> datetime | None:
        """Clock time of the last saved change to the book (None if never saved). A daemon
        resuming a simulated day should not start its clock before it: the book would hold
        fills from its future, and working orders would wait until the clock catches up."""
        return self._book.as_of

    @property
    def kind(self) -> str:
        return "demo"

    @property
    def has_scanner(self) -> bool:
        return True

    # -- session ---------------------------------------------------------------------------

    async def connect(self) -> SessionHealth:
        self._connected = self._authenticated = True
        self._competing = False
        self._message = "demo session authenticated"
        self._session_changed()
        return self._health()

    async def close(self) -> None:
        self._connected = self._authenticated = False
        self._message = "closed"
        self._session_changed()

    async def health(self) -> SessionHealth:
        return self._health()

    def lose_session(self, reason: str = "session expired") -> None:
        """Simulate the brokerage session dropping (e.g. IBKR's nightly reset)."""
        self._authenticated = False
        self._message = reason
        self._events.session_lost(reason)
        self._session_changed()

    def compete(self) -> None:
        """Simulate another login taking the brokerage session."""
        self._competing = True
        self._authenticated = False
        self._message = "another login is competing for the session"
        self._events.session_competing()
        self._session_changed()

    def _session_changed(self) -> None:
        for stream in self._streams:
            stream.session_changed()

    # -- pushed quotes ---------------------------------------------------------------------

    def quote_stream(self, on_state: StreamStateListener | None = None) -> DemoQuoteStream:
        """A new, unstarted stream of this market's ticks on this broker's clock; it is up
        while the session is (see :mod:`.quote_stream`)."""
        stream = DemoQuoteStream(
            self.market,
            self._clock,
            session_ok=lambda: self._connected and self._authenticated,
            on_state=on_state,
        )
        self._streams.append(stream)
        return stream

    def drop_streams(
        self, reason: str = "connection lost", back_after_s: float | None = None
    ) -> None:
        """Simulate the quote stream's connection dropping (the session stays up); with
        ``back_after_s`` it reconnects by itself after that much clock time."""
        for stream in self._streams:
            stream.drop(reason, back_after_s)

    def restore_streams(self) -> None:
        """The dropped quote streams connect again."""
        for stream in self._streams:
            stream.restore()

    def _health(self) -> SessionHealth:
        return SessionHealth(
            authenticated=self._authenticated,
            competing=self._competing,
            connected=self._connected,
            message=self._message,
        )

    def _ready(self) -> None:
        if not (self._connected and self._authenticated):
            raise BrokerSessionError(f"demo broker: session not authenticated ({self._message})")
        self.sync()

    # -- accounts and positions ------------------------------------------------------------

    async def accounts(self) -> list[AccountSummary]:
        return [await self.account_summary()]

    async def account_summary(self) -> AccountSummary:
        self._ready()
        value = sum((p.market_value or Decimal(0) for p in self._positions()), Decimal(0))
        return AccountSummary(
            account_id=self.account_id,
            is_paper=True,
            currency="AUD",
            cash=self._book.cash,
            net_liquidation=self._book.cash + value,
            buying_power=self._book.cash,
        )

    async def positions(self) -> list[Position]:
        self._ready()
        return self._positions()

    def _positions(self) -> list[Position]:
        now = self._clock.now()
        return [
            Position(
                account=self.account_id,
                symbol=h.symbol,
                conid=h.conid,
                qty=h.qty,
                avg_cost=h.avg_cost,
                market_price=self.market.last_price(h.symbol, now),
            )
            for h in sorted(self._book.holdings.values(), key=lambda h: h.symbol)
            if h.qty != 0
        ]

    async def executions(self, since: datetime) -> list[Fill]:
        self._ready()
        return [f for f in self._book.fills if f.executed_at >= since]

    # -- contracts and market data ---------------------------------------------------------

    async def resolve(self, symbols: Sequence[str]) -> dict[str, Contract]:
        self._ready()
        now = self._clock.now()
        out: dict[str, Contract] = {}
        unknown: list[str] = []
        for raw in symbols:
            symbol = raw.strip().upper()
            ticker = self.market.ticker(symbol)
            if ticker is None:
                unknown.append(symbol)
                continue
            conid = self._cache.get(symbol, now)
            if conid is None:
                conid = ticker.conid
                self._cache.put(symbol, conid, now + CONID_CACHE_TTL)
            out[symbol] = Contract(symbol=symbol, conid=conid, name=ticker.name)
        if unknown:
            names = ", ".join(repr(s) for s in unknown)
            raise InvalidInputError(f"demo broker: unknown ASX ticker {names}")
        return out

    async def snapshots(self, conids: Sequence[int]) -> list[Quote]:
        self._ready()
        now = self._clock.now()
        quotes: list[Quote] = []
        for conid in conids:
            ticker = self.market.by_conid(conid)
            if ticker is None:
                raise InvalidInputError(f"demo broker: unknown conid {conid}")
            if self._preflight and conid not in self._book.subscribed:
                self._book.subscribed.add(conid)
                self._changed()
                quotes.append(Quote(conid=conid, symbol=ticker.symbol, at=now))
                continue
            quotes.append(self.market.quote(ticker.symbol, now))
        self._persist()
        return quotes

    async def daily_bars(self, conid: int, days: int) -> list[Bar]:
        self._ready()
        ticker = self.market.by_conid(conid)
        if ticker is None:
            raise InvalidInputError(f"demo broker: unknown conid {conid}")
        if days <= 0:
            return []
        return self.market.daily_bars(ticker.symbol, self._clock.now(), min(days, 1000))

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        """OHLCV per ``minutes`` period from the market's price path, up to the clock."""
        self._ready()
        ticker = self.market.by_conid(conid)
        if ticker is None:
            raise InvalidInputError(f"demo broker: unknown conid {conid}")
        if minutes not in INTRADAY_BAR_MINUTES:
            raise InvalidInputError(
                f"demo broker: intraday bar of {minutes} minutes is not one of "
                f"{', '.join(map(str, INTRADAY_BAR_MINUTES))}"
            )
        return self.market.intraday_bars(ticker.symbol, day, minutes, self._clock.now())

    async def scan_gaps(
        self, min_gap_pct: Decimal, min_price: Decimal, min_volume: int
    ) -> list[GapCandidate]:
        self._ready()
        now = self._clock.now()
        # the market lists today's opened tickers largest gap first, ties by symbol; the
        # screen's ordering is stable, so that order stands
        # (only a ticker gapping enough can pass: the others' quotes, a whole price path
        # each, are not drawn)
        quotes = [
            self.market.quote(p.symbol, now)
            for p in self.market.opened(now)
            if p.gap_pct >= min_gap_pct
        ]
        screen = GapFilter(min_gap_pct, min_price, min_volume)
        return screen.select(quotes, self.market.session_date(now))

    async def announcements(self, day: date) -> list[Announcement]:
        """Announcements of ``day`` released by now (the demo's ASX announcements page)."""
        return self.market.announcements(day, until=self._clock.now())

    def pacing_budget(self) -> PacingBudget:
        return {"global": "unlimited"}

    # -- orders ----------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderState:
        self._ready()
        existing = self._by_coid.get(request.client_order_id)
        if existing is not None:
            return existing.state()
        now = self._clock.now()
        self._check_request(request, now)
        day = self.market.session_date(now)
        seq = self._book.next_seq
        self._book.next_seq += 1
        order = BookOrder(
            seq=seq,
            broker_order_id=f"{int(now.timestamp())}{seq:04d}",
            request=request,
            placed_at=now,
            eval_from=now,
            expires_at=self.market.close_at(day) if request.tif is TimeInForce.DAY else None,
        )
        self._book.orders[order.broker_order_id] = order
        self._by_coid[request.client_order_id] = order
        self._fills.fill_if_marketable(order, now)
        self._changed()
        self._persist()
        return order.state()

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        self._ready()
        order = self._order(broker_order_id)
        if not order.status.is_terminal:
            order.status = OrderStatus.CANCELLED
            order.message = "cancelled by request"
            self._changed()
            self._persist()
        return order.state()

    async def order_status(self, broker_order_id: str) -> OrderState:
        self._ready()
        return self._order(broker_order_id).state()

    async def find_order(self, client_order_id: str) -> OrderState | None:
        self._ready()
        order = self._by_coid.get(client_order_id)
        return None if order is None else order.state()

    async def open_orders(self) -> list[OrderState]:
        self._ready()
        return [o.state() for o in self._working()]

    def _order(self, broker_order_id: str) -> BookOrder:
        order = self._book.orders.get(broker_order_id)
        if order is None:
            raise InvalidInputError(f"demo broker: unknown order id {broker_order_id!r}")
        return order

    def _working(self) -> list[BookOrder]:
        return self._fills.working()

    def _check_request(self, request: OrderRequest, now: datetime) -> None:
        where = f"demo broker: order {request.client_order_id!r} {request.side} {request.symbol}"
        ticker = self.market.by_conid(request.conid)
        if ticker is None or ticker.symbol != request.symbol.strip().upper():
            raise OrderRejectedError(f"{where}: conid {request.conid} is not {request.symbol}")
        for price in (request.limit_price, request.stop_price):
            if price is not None and not is_on_tick(price):
                raise OrderRejectedError(f"{where}: price {price} is off the ASX tick grid")
        day = self.market.session_date(now)
        closed = not self.market.is_trading_day(day) or now >= self.market.close_at(day)
        if closed and (request.tif is TimeInForce.DAY or request.order_type is OrderType.MKT):
            raise OrderRejectedError(f"{where}: the ASX is closed")
        held = self._book.holdings.get(request.conid)
        if request.side is Side.SELL and (held is None or held.qty < request.qty):
            have = 0 if held is None else held.qty
            raise OrderRejectedError(f"{where}: sell {request.qty} exceeds position {have}")
        if request.side is Side.BUY:
            ref = request.limit_price or request.stop_price
            if ref is None:
                last = self.market.last_price(ticker.symbol, now)
                ref = last + asx_tick_size(last)
            cost = ref * request.qty + self._commission
            if cost > self._book.cash:
                raise OrderRejectedError(
                    f"{where}: needs {cost:.2f} AUD, cash is {self._book.cash:.2f} AUD"
                )

    # -- settlement ------------------------------------------------------------------------

    def sync(self) -> None:
        """Settle every working order against the market up to ``clock.now()``: fills and
        expiries happen at their own simulated instants, in time order; then save the book
        if anything changed.

        Cheap when nothing happens, as it runs on every call: a second sync at the same
        instant does nothing (every event up to the last sync is already applied, and orders
        placed since were settled up to now when placed), and only fills and expiries mark
        the book changed. Moving ``eval_from`` forward does not: it only says "no crossing
        before here", so a book saved with an older one re-checks a stretch of path that has
        no crossing and finds the same fills.
        """
        now = self._clock.now()
        if now != self._synced_at:
            if self._fills.settle(now):
                self._changed()
            self._synced_at = now
        self._persist()

    # -- restart ---------------------------------------------------------------------------

    def restore(self, fills: Iterable[Fill]) -> None:
        """Replay previously journaled fills (oldest first) into cash, positions and
        executions, e.g. after a restart. Fills already known (same exec_id) are skipped.
        Working orders are not restored.

        Unnecessary with a ``book_path``: the book already holds every fill, so replaying
        the journal's fills then changes nothing (and saves nothing)."""
        ordered = sorted(fills, key=lambda f: f.executed_at)
        booked = [f for f in ordered if self._fills.book_fill(f)]
        if booked:
            self._book.fills.sort(key=lambda f: f.executed_at)
            self._changed()
            self._persist()

    # -- persistence -----------------------------------------------------------------------

    def _changed(self) -> None:
        self._dirty = True

    def _persist(self) -> None:
        """Save the book if it changed since the last save. A failed save (FatalError)
        leaves it marked changed, so the next call tries again."""
        if not self._dirty:
            return
        if self._store is not None:
            self._book.as_of = self._clock.now()
            self._store.save(self._book)
        self._dirty = False

