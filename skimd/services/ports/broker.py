"""What the services need from a broker, as small protocols composed into :class:`Broker`.

The services own these ports; ``skimd.infrastructure.brokers`` implements them (``ibkr``,
``demo``) and nothing in the services imports an implementation.

Every broker kind (``ibkr``, ``demo``) implements all of :class:`Broker`; services depend on
the narrowest protocol they use, so fakes stay small.

Shared contract of every method:

- Data methods need an open session: call :meth:`BrokerSession.connect` first. Without one
  they raise :class:`~skimd.errors.BrokerSessionError`.
- Failures are ours, never a library's: :class:`~skimd.errors.BrokerUnavailableError`
  (timeouts, 5xx; retry), :class:`~skimd.errors.RateLimitedError` (pacing; ``retry_after``),
  :class:`~skimd.errors.BrokerSessionError` / ``BrokerAuthError`` (session gone; halt
  entries), :class:`~skimd.errors.OrderRejectedError` (order refused; nothing was placed),
  :class:`~skimd.errors.InvalidInputError` (an unknown ticker; names it).
- Symbols are ASX codes, upper case, without exchange suffix (``"BHP"``). Brokers normalise
  input with ``.strip().upper()`` and key results by the normalised code.
- Datetimes in and out are aware UTC; prices are Decimal.
- Things the daemon must alert on (session lost, competing login, rate limit penalty) are
  reported through the :class:`BrokerEvents` the broker was built with, in addition to
  whatever the failing call raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from skimd.domain.account import AccountSummary, Position, SessionHealth
from skimd.domain.market import Announcement, Bar, Contract, GapCandidate, Quote
from skimd.domain.orders import Fill, OrderRequest, OrderState

PacingBudget = dict[str, str | float | int]
"""``pacing_budget()`` result: endpoint class → remaining budget (``"unlimited"`` for demo),
e.g. ``{"global": 48, "snapshot": 9, "orders": "penalty until 2025-03-04T00:10:00+00:00"}``."""


INTRADAY_BAR_MINUTES: tuple[int, ...] = (1, 2, 3, 5, 10, 15, 30, 60)
"""Bar lengths :meth:`MarketData.intraday_bars` accepts (minutes)."""


class IdentifierCache(Protocol):
    """Symbol → conid cache shared across restarts (the database implements it in
    production; :mod:`skimd.infrastructure.brokers.identifier_cache` in memory).

    ``get`` returns None for an unknown or expired entry (``now >= expires_at``).
    Synchronous: it is a local lookup.
    """

    def get(self, symbol: str, now: datetime) -> int | None: ...

    def put(self, symbol: str, conid: int, expires_at: datetime) -> None: ...


class BrokerEvents(Protocol):
    """Callbacks a broker uses to report conditions the daemon must alert on.

    Called synchronously from inside broker calls; implementations must be quick and must
    not raise (queue the alert, do not send it inline).
    """

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        """The brokerage session is no longer authenticated (``reason``: one line);
        ``retry_at`` (aware UTC) is when the broker will next try to restore it, if known."""

    def session_competing(self, retry_at: datetime | None = None) -> None:
        """Another login is competing for the brokerage session; ``retry_at`` as above."""

    def session_restored(self) -> None:
        """The brokerage session is authenticated again after ``session_lost`` or
        ``session_competing`` (called once per recovery, not on every healthy call)."""

    def session_renewed(self, expires_at: datetime | None) -> None:
        """A new session credential was obtained (IBKR: a new live session token, about
        daily and after a 401); ``expires_at`` is aware UTC when the broker says."""

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        """Calls in ``endpoint_class`` (e.g. ``"snapshot"``, ``"orders"``, ``"global"``) are
        blocked until ``until`` (aware UTC), e.g. IBKR's 10-minute penalty box after a 429."""


class BrokerSession(Protocol):
    async def connect(self) -> SessionHealth:
        """Open (or reuse) the session: auth, brokerage session, accounts. Idempotent.

        Raises BrokerAuthError / BrokerSessionError / BrokerUnavailableError.
        """

    async def close(self) -> None:
        """Release the session and any HTTP resources the broker owns. Idempotent."""

    async def health(self) -> SessionHealth:
        """Current session state; does not raise for an unauthenticated session (that is
        what it reports), only for an unreachable broker (BrokerUnavailableError)."""


class AccountReader(Protocol):
    async def accounts(self) -> list[AccountSummary]:
        """Every account this session can see."""

    async def account_summary(self) -> AccountSummary:
        """The configured trading account."""


class ContractResolver(Protocol):
    async def resolve(self, symbols: Sequence[str]) -> dict[str, Contract]:
        """ASX codes → contracts, via the IdentifierCache. Raises InvalidInputError naming
        every ticker the broker does not know."""


class MarketData(Protocol):
    async def snapshots(self, conids: Sequence[int]) -> list[Quote]:
        """One Quote per requested conid, in request order. The first request for a conid
        may return a Quote without data (``has_data`` False); ask again."""

    async def daily_bars(self, conid: int, days: int) -> list[Bar]:
        """Up to ``days`` completed daily bars, oldest first (strictly increasing ``day``)."""

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        """The session's bars of ``minutes`` length for the Sydney date ``day`` (today: up to
        now), oldest first, each with ``at`` set (aware UTC start).

        Bars start on the ``minutes`` grid counted from 10:00 Sydney; a period without
        trades has no bar. ``day`` is every bar's ``day``. No bar starts after the broker's
        clock; today's last bar may still be forming (its prices are those traded so far).
        Empty for a future date or a day without a session. ``minutes`` must be one of
        :data:`INTRADAY_BAR_MINUTES` (the bar sizes IBKR serves), else InvalidInputError;
        an unknown conid is InvalidInputError too.
        """


class GapScanner(Protocol):
    @property
    def has_scanner(self) -> bool:
        """True when :meth:`scan_gaps` is available; when False, callers scan the configured
        universe with snapshots instead and never call :meth:`scan_gaps`."""

    async def scan_gaps(
        self, min_gap_pct: Decimal, min_price: Decimal, min_volume: int
    ) -> list[GapCandidate]:
        """Today's opened ASX stocks gapping up at least ``min_gap_pct`` percent over the
        previous close, priced at least ``min_price`` and traded at least ``min_volume``
        shares, largest gap first. Empty before the open."""


class OrderGateway(Protocol):
    """Orders by client order id.

    Lag: the lists behind :meth:`find_order`, :meth:`open_orders` and :meth:`order_status`
    (and :meth:`PortfolioReader.executions`) may not show an order for a few seconds after
    it was placed (IBKR's ``/iserver/account/orders`` and ``/trades``, paced at one request
    per 5 s). None / InvalidInputError right after a placing means "not known yet", not
    "not there"; callers ask again before concluding (see
    :mod:`skimd.services.trading.order_lookup`).
    """

    async def place_order(self, request: OrderRequest) -> OrderState:
        """Place ``request`` with its client order id; return its state right after placing.

        Exactly once: if an order with this ``client_order_id`` already exists, nothing new
        is placed: its current state is returned, or, when the broker refuses the duplicate
        id and its lists do not show the order yet (IBKR), OrderRejectedError whose message
        names the id and says it already exists ("already exists" / "already registered"):
        the order IS there. Confirmation questions are answered inside (allow-listed ones
        confirmed, any other rejects the order with OrderRejectedError naming the question).
        Raises OrderRejectedError when the broker refuses the order. On
        BrokerUnavailableError the outcome is unknown: call :meth:`find_order` before
        retrying.
        """

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        """Request cancellation; return the state after the request (``cancelled``, or the
        terminal state if it already filled). Unknown id → InvalidInputError."""

    async def order_status(self, broker_order_id: str) -> OrderState:
        """Current state of one order. Unknown id → InvalidInputError."""

    async def find_order(self, client_order_id: str) -> OrderState | None:
        """The order placed with ``client_order_id`` (today's orders at least), or None."""

    async def open_orders(self) -> list[OrderState]:
        """Orders that are still working (``status.is_working``)."""


class PortfolioReader(Protocol):
    async def positions(self) -> list[Position]:
        """Non-zero positions of the trading account."""

    async def executions(self, since: datetime) -> list[Fill]:
        """Fills executed at or after ``since``, oldest first; ``exec_id`` unique."""


class PacingReporter(Protocol):
    def pacing_budget(self) -> PacingBudget:
        """Remaining request budget per endpoint class (see :data:`PacingBudget`)."""


@runtime_checkable
class AnnouncementFeed(Protocol):
    """Company announcements for a Sydney session date (the demo market implements it;
    the real ASX source lives in ``infrastructure/news``)."""

    async def announcements(self, day: date) -> list[Announcement]:
        """Announcements released on ``day`` up to now, oldest first."""


class Broker(
    BrokerSession,
    AccountReader,
    ContractResolver,
    MarketData,
    GapScanner,
    OrderGateway,
    PortfolioReader,
    PacingReporter,
    Protocol,
):
    """Everything a broker kind provides. ``kind`` is ``"ibkr"`` or ``"demo"``."""

    @property
    def kind(self) -> str: ...
