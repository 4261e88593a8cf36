"""The IBKR Client Portal Web API as a :class:`~skimd.services.ports.broker.Broker`.

Composition: :class:`~.auth.IbkrOAuth` signs, :class:`~.requests.IbkrHttp` paces and
translates errors, :class:`~.connection.BrokerageSession` keeps the brokerage session
alive, :class:`~.market_data.IbkrMarketData` and :class:`~.orders.IbkrOrderDesk` speak the
market-data and order endpoints, and this facade holds the session, the account and the
portfolio, and checks the session is connected before every call.

Choices worth knowing (the market-data and order ones are in their modules):

- Paper guard: an account whose id does not start with ``D`` (IBKR paper accounts are
  ``DU…``) is refused unless ``[broker] live_trading = true`` — at ``connect`` with
  ConfigurationError (exit 78, no restart) and again at every ``place_order`` with
  OrderRejectedError.
- Pushed quotes: :meth:`IbkrBroker.quote_stream` (a
  :class:`~skimd.services.ports.quotes.StreamingBroker`) gives a websocket stream on the same
  OAuth login (the access token and ``/tickle``'s session) and brokerage session.
- ``close()`` stops the keep-alive but does not log out: the one brokerage session per
  username is shared with the daemon when a CLI command uses the same credentials.
- The brokerage session guards every ``/iserver`` call (:mod:`.connection`): re-opened
  after each new live session token, "no bridge" answered by one re-init (then an
  idempotent call is sent again), refused at once while it is known to be down.
  ``health()`` re-initialises once when the status says not authenticated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from skimd.clock import Clock
from skimd.config import IbkrSettings, Settings
from skimd.domain.account import AccountSummary, Position, SessionHealth
from skimd.domain.calendar import MarketCalendar
from skimd.domain.market import Bar, Contract, GapCandidate, Quote
from skimd.domain.orders import Fill, OrderRequest, OrderState
from skimd.errors import BrokerSessionError, ConfigurationError
from skimd.infrastructure.brokers.ibkr import mapping
from skimd.infrastructure.brokers.ibkr.auth import LST_PATH, IbkrOAuth
from skimd.infrastructure.brokers.ibkr.connection import BrokerageSession
from skimd.infrastructure.brokers.ibkr.credentials import load_credentials
from skimd.infrastructure.brokers.ibkr.market_data import IbkrMarketData
from skimd.infrastructure.brokers.ibkr.orders import IbkrOrderDesk
from skimd.infrastructure.brokers.ibkr.pacing_ledger import FileLedger
from skimd.infrastructure.brokers.ibkr.quote_stream import IbkrQuoteStream, WsEndpoint, ws_url
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.infrastructure.brokers.ibkr.rsa_keys import RsaKeys
from skimd.infrastructure.tls import verify_context
from skimd.services.ports.broker import BrokerEvents, IdentifierCache, PacingBudget
from skimd.services.ports.quotes import QuoteStream, StreamStateListener


class IbkrBroker:
    """The ``ibkr`` broker kind. Build it with :func:`build_ibkr_broker`."""

    def __init__(
        self,
        *,
        http: IbkrHttp,
        session: BrokerageSession,
        settings: IbkrSettings,
        live_trading: bool,
        clock: Clock,
        identifier_cache: IdentifierCache,
        calendar: MarketCalendar,
        owned_client: httpx.AsyncClient | None = None,
        ws_endpoint: WsEndpoint | None = None,
    ) -> None:
        self._http = http
        self._ws_endpoint = ws_endpoint
        self._session = session
        self._settings = settings
        self._live_trading = live_trading
        self._clock = clock
        self._owned_client = owned_client
        self._account: str | None = None
        # /portfolio/accounts as connect() read it (IBKR: 1 req/5 s; accounts() reuses it)
        self._portfolio_accounts: list[dict[str, object]] | None = None
        # conid → ticker, learnt by market data, used by orders and the quote stream
        symbols: dict[int, str] = {}
        self._symbols = symbols
        self._market = IbkrMarketData(
            http,
            settings=settings,
            clock=clock,
            calendar=calendar,
            identifier_cache=identifier_cache,
            symbols=symbols,
        )
        self._orders = IbkrOrderDesk(
            http, settings=settings, live_trading=live_trading, symbols=symbols
        )

    @property
    def kind(self) -> str:
        return "ibkr"

    @property
    def has_scanner(self) -> bool:
        return True

    @property
    def account_id(self) -> str | None:
        return self._account

    # -- session ---------------------------------------------------------------------------

    async def connect(self) -> SessionHealth:
        health = await self._session.start()
        if not health.authenticated:
            why = "taken by another login" if health.competing else health.message
            raise BrokerSessionError(
                f"IBKR brokerage session not authenticated ({why or 'no reason given'})"
            )
        accounts = await self._http.get("/iserver/accounts")
        ids = [str(a) for a in (accounts or {}).get("accounts", [])]
        # IBKR wants it before /portfolio/*; kept for accounts() (one call, not two)
        self._portfolio_accounts = list(await self._http.get("/portfolio/accounts") or [])
        wanted = self._settings.account_id or (ids[0] if ids else None)
        if wanted is None or wanted not in ids:
            raise ConfigurationError(
                f"[ibkr] account_id: {wanted!r} is not among this session's accounts"
            )
        if not mapping.is_paper_account(wanted) and not self._live_trading:
            raise ConfigurationError(
                f"[ibkr] account_id: {wanted} is a live account; set [broker] live_trading = "
                "true to trade it"
            )
        self._account = wanted
        return health

    async def close(self) -> None:
        await self._session.stop()
        self._account = None
        self._portfolio_accounts = None
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None

    async def health(self) -> SessionHealth:
        return await self._session.check()

    def pacing_budget(self) -> PacingBudget:
        return self._http.pacing_budget()

    def _acct(self) -> str:
        if self._account is None:
            raise BrokerSessionError("IBKR session not connected; call connect() first")
        return self._account

    # -- accounts -------------------------------------------------------------------------

    async def accounts(self) -> list[AccountSummary]:
        self._acct()
        rows = self._portfolio_accounts
        if rows is None:
            rows = list(await self._http.get("/portfolio/accounts") or [])
        out = []
        for row in rows:
            account_id = str(row.get("accountId") or row.get("id"))
            body = await self._http.get(f"/portfolio/{account_id}/summary")
            out.append(mapping.summary_from(body or {}, account_id))
        return out

    async def account_summary(self) -> AccountSummary:
        account = self._acct()
        body = await self._http.get(f"/portfolio/{account}/summary")
        return mapping.summary_from(body or {}, account)

    # -- market data (ibkr.market_data) ----------------------------------------------------

    async def resolve(self, symbols: Sequence[str]) -> dict[str, Contract]:
        self._acct()
        return await self._market.resolve(symbols)

    async def snapshots(self, conids: Sequence[int]) -> list[Quote]:
        self._acct()
        return await self._market.snapshots(conids)

    async def daily_bars(self, conid: int, days: int) -> list[Bar]:
        self._acct()
        return await self._market.daily_bars(conid, days)

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        self._acct()
        return await self._market.intraday_bars(conid, day, minutes)

    async def scan_gaps(
        self, min_gap_pct: Decimal, min_price: Decimal, min_volume: int
    ) -> list[GapCandidate]:
        self._acct()
        return await self._market.scan_gaps(min_gap_pct, min_price, min_volume)

    def quote_stream(self, on_state: StreamStateListener | None = None) -> QuoteStream:
        """A new, unstarted websocket quote stream (:mod:`.quote_stream`) on this broker's
        login, brokerage session and clock."""
        if self._ws_endpoint is None:
            raise ConfigurationError("IBKR broker built without a websocket endpoint")

        async def tickle() -> object:
            return await self._http.request("POST", "/tickle", idempotent=True)

        return IbkrQuoteStream(
            self._ws_endpoint,
            tickle=tickle,
            session_epoch=lambda: self._session.epoch,
            clock=self._clock,
            on_state=on_state,
            symbols=self._symbols,
        )

    # -- orders (ibkr.orders) --------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderState:
        return await self._orders.place_order(self._acct(), request)

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        return await self._orders.cancel_order(self._acct(), broker_order_id)

    async def order_status(self, broker_order_id: str) -> OrderState:
        self._acct()
        return await self._orders.order_status(broker_order_id)

    async def find_order(self, client_order_id: str) -> OrderState | None:
        self._acct()
        return await self._orders.find_order(client_order_id)

    async def open_orders(self) -> list[OrderState]:
        self._acct()
        return await self._orders.open_orders()

    # -- portfolio ---------------------------------------------------------------------------

    async def positions(self) -> list[Position]:
        account = self._acct()
        rows = await self._http.get(f"/portfolio/{account}/positions/0") or []
        # Share positions only: an option position is keyed by its underlying and would
        # otherwise be adopted as shares (options are journaled from their executions).
        shares = [r for r in rows if str(r.get("assetClass") or "STK").upper() == "STK"]
        out = [mapping.position_from(row, account) for row in shares]
        return [p for p in out if p.qty != 0]

    async def executions(self, since: datetime) -> list[Fill]:
        self._acct()
        days = max(1, min(7, math.ceil((self._clock.now() - since) / timedelta(days=1)) + 1))
        rows = await self._http.get("/iserver/account/trades", {"days": str(days)}) or []
        fills: dict[str, Fill] = {}
        for row in rows:
            try:
                order_id = str(row.get("order_id") or "")
                fill = mapping.fill_from_trade(row, order_id)
            except (KeyError, TypeError, ValueError):
                continue
            if fill.executed_at >= since:
                fills[fill.exec_id] = fill
        return sorted(fills.values(), key=lambda f: (f.executed_at, f.exec_id))


def build_ibkr_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    calendar: MarketCalendar,
    rsa_keys: RsaKeys,
    http_client: httpx.AsyncClient | None = None,
    on_token: Callable[[str], None] | None = None,
    pacing_file: Path | None = None,
) -> IbkrBroker:
    """The IBKR broker for ``settings``. ``http_client`` is used as given (bootstrap owns
    it); without one the broker creates and closes its own, verifying TLS with
    :func:`~skimd.infrastructure.tls.verify_context`. ``rsa_keys`` does the private-key
    work (the daemon's composition root gives a child-process one); the key files are
    checked here, so a missing/unreadable/unusable key fails now with ConfigurationError
    naming the file. ``on_token``
    receives each new live session token (register it with the log redactor).
    ``pacing_file``: the pacing ledger every skimd process of this account shares (IBKR
    counts per user, not per process); None keeps pacing in this process only.
    ``calendar``: the market's sessions (zone, close, early closes) for the history
    requests."""
    ib = settings.ibkr
    credentials = load_credentials(ib, rsa_keys)
    base_url = ib.base_url.rstrip("/")
    auth = IbkrOAuth(
        credentials,
        keys=rsa_keys,
        clock=clock,
        lst_url=base_url + LST_PATH,
        refresh_margin_s=ib.lst_refresh_margin_s,
        on_token=on_token,
    )
    owned = None
    if http_client is None:
        owned = http_client = httpx.AsyncClient(
            timeout=ib.request_timeout_s, verify=verify_context()
        )
    http = IbkrHttp(
        http_client,
        base_url=base_url,
        auth=auth,
        clock=clock,
        events=events,
        ledger=None if pacing_file is None else FileLedger(pacing_file),
        max_attempts=ib.max_get_attempts,
    )
    session = BrokerageSession(
        http,
        clock=clock,
        events=events,
        tokens=auth,
        tickle_interval_s=ib.tickle_interval_s,
        compete_backoff_s=ib.compete_backoff_s,
        compete=ib.compete,
    )
    http.attach_session(session)
    return IbkrBroker(
        http=http,
        session=session,
        settings=ib,
        live_trading=settings.broker.live_trading,
        clock=clock,
        identifier_cache=identifier_cache,
        calendar=calendar,
        owned_client=owned,
        ws_endpoint=WsEndpoint(ws_url(base_url), credentials.access_token),
    )
