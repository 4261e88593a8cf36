"""The IBKR Client Portal Web API as a :class:`~skimd.infrastructure.brokers.protocols.Broker`.

Composition: :class:`~.auth.IbkrOAuth` signs, :class:`~.requests.IbkrHttp` paces and
translates errors, :class:`~.connection.BrokerageSession` keeps the brokerage session
alive, and this facade speaks the endpoints.

Choices worth knowing:

- Paper guard: an account whose id does not start with ``D`` (IBKR paper accounts are
  ``DU…``) is refused unless ``[broker] live_trading = true`` — at ``connect`` with
  ConfigurationError (exit 78, no restart) and again at every ``place_order`` with
  OrderRejectedError.
- Exactly-once orders rest on ``cOID`` (= ``client_order_id``). An order POST or a
  confirmation reply is never retried blindly. After a timeout/5xx the order is looked up by
  its cOID in ``/iserver/account/orders``: found → its state is returned; absent →
  BrokerUnavailableError ("outcome unknown; not resent"). IBKR may still be processing it,
  so sending again could double it; the caller retries ``place_order`` later with the same
  client order id, which IBKR refuses as a duplicate if the first one did land (and that
  refusal is again resolved by a lookup).
- Confirmation questions are answered "yes" only when every ``messageIds`` code is in
  ``[ibkr] confirm_question_ids``; any other question is answered "no" and the order is
  rejected with OrderRejectedError carrying the question text.
- Snapshots: the first request for a conid only subscribes (IBKR's pre-flight). The facade
  subscribes every new conid, then polls (bounded by ``snapshot_poll_attempts``) until the
  fields arrive; conids still empty come back as Quotes without data.
- History (daily and intraday bars): every request holds one of the ``history`` pacer's
  5 concurrent slots (IBKR answers a sixth in flight with 429), and a 429 there pauses
  history only.
- ``close()`` stops the keep-alive but does not log out: the one brokerage session per
  username is shared with the daemon when a CLI command uses the same credentials.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import structlog

from skimd.clock import Clock
from skimd.config import IbkrSettings, Settings
from skimd.domain.account import AccountSummary, Position, SessionHealth
from skimd.domain.gaps import GapFilter
from skimd.domain.market import Bar, Contract, GapCandidate, Quote
from skimd.domain.orders import Fill, OrderQuestion, OrderRequest, OrderState, OrderType
from skimd.errors import (
    BrokerSessionError,
    BrokerUnavailableError,
    ConfigurationError,
    InvalidInputError,
    OrderRejectedError,
    SkimdError,
)
from skimd.infrastructure.brokers.ibkr import mapping
from skimd.infrastructure.brokers.ibkr.auth import LST_PATH, IbkrOAuth
from skimd.infrastructure.brokers.ibkr.connection import BrokerageSession, parse_status
from skimd.infrastructure.brokers.ibkr.credentials import load_credentials
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp, IbkrRequestError
from skimd.infrastructure.brokers.protocols import (
    INTRADAY_BAR_MINUTES,
    BrokerEvents,
    IdentifierCache,
    PacingBudget,
)

log = structlog.get_logger(__name__)

SNAPSHOT_BATCH = 100
MAX_QUESTIONS = 8
_BARS_DONE_AT = time(16, 15)  # after the closing auction today's daily bar is complete
_INTRADAY_DONE_AT = time(17, 0)  # a session's intraday bars all start before this


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
        owned_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http
        self._session = session
        self._settings = settings
        self._live_trading = live_trading
        self._clock = clock
        self._cache = identifier_cache
        self._owned_client = owned_client
        self._account: str | None = None
        self._subscribed: set[int] = set()
        self._symbols: dict[int, str] = {}
        self._coid_by_order: dict[str, str] = {}

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
        await self._http.get("/portfolio/accounts")  # IBKR wants it before /portfolio/*
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
        if self._owned_client is not None:
            await self._owned_client.aclose()
            self._owned_client = None

    async def health(self) -> SessionHealth:
        return parse_status(await self._http.post("/iserver/auth/status", idempotent=True))

    def pacing_budget(self) -> PacingBudget:
        return self._http.pacing_budget()

    def _acct(self) -> str:
        if self._account is None:
            raise BrokerSessionError("IBKR session not connected; call connect() first")
        return self._account

    # -- accounts -------------------------------------------------------------------------

    async def accounts(self) -> list[AccountSummary]:
        self._acct()
        rows = await self._http.get("/portfolio/accounts") or []
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

    # -- contracts and market data ------------------------------------------------------------

    async def resolve(self, symbols: Sequence[str]) -> dict[str, Contract]:
        self._acct()
        now = self._clock.now()
        out: dict[str, Contract] = {}
        unknown: list[str] = []
        for symbol in dict.fromkeys(s.strip().upper() for s in symbols):
            conid = self._cache.get(symbol, now)
            name = None
            if conid is None:
                conid, name = await self._search(symbol)
                if conid is None:
                    unknown.append(symbol)
                    continue
                expires = now + timedelta(days=self._settings.conid_cache_days)
                self._cache.put(symbol, conid, expires)
            self._symbols[conid] = symbol
            out[symbol] = Contract(symbol=symbol, conid=conid, name=name)
        if unknown:
            raise InvalidInputError(f"IBKR: unknown ASX ticker(s) {', '.join(unknown)}")
        return out

    async def _search(self, symbol: str) -> tuple[int | None, str | None]:
        rows = await self._http.get(
            "/iserver/secdef/search", {"symbol": symbol, "secType": "STK"}
        )
        if not isinstance(rows, list):
            return None, None
        for row in rows:
            if str(row.get("symbol", "")).upper() != symbol:
                continue
            exchanges = " ".join(
                str(s.get("exchange", "")) for s in row.get("sections") or [] if s
            )
            if row.get("description") == "ASX" or "ASX" in exchanges.split(";"):
                try:
                    return int(row["conid"]), row.get("companyName")
                except (KeyError, TypeError, ValueError):
                    continue
        return None, None

    async def snapshots(self, conids: Sequence[int]) -> list[Quote]:
        self._acct()
        wanted = list(dict.fromkeys(int(c) for c in conids))
        rows: dict[int, dict[str, Any]] = {}
        fresh = [c for c in wanted if c not in self._subscribed]
        for batch in _batches(fresh, SNAPSHOT_BATCH):  # the pre-flight: subscribe only
            await self._snapshot_call(batch, rows)
        missing = wanted
        for attempt in range(self._settings.snapshot_poll_attempts):
            if attempt > 0:
                await self._clock.sleep(self._settings.snapshot_poll_interval_s)
            for batch in _batches(missing, SNAPSHOT_BATCH):
                await self._snapshot_call(batch, rows)
            missing = [c for c in missing if not mapping.snapshot_has_data(rows.get(c, {}))]
            if not missing:
                break
        now = self._clock.now()
        return [
            mapping.quote_from_snapshot(
                rows.get(c) or {"conid": c}, self._symbols.get(c, ""), now
            )
            for c in (int(c) for c in conids)
        ]

    async def _snapshot_call(self, batch: list[int], rows: dict[int, dict[str, Any]]) -> None:
        body = await self._http.get(
            "/iserver/marketdata/snapshot",
            {"conids": ",".join(map(str, batch)), "fields": ",".join(mapping.SNAPSHOT_FIELDS)},
        )
        self._subscribed.update(batch)
        for row in body if isinstance(body, list) else []:
            try:
                conid = int(row["conid"])
            except (KeyError, TypeError, ValueError):
                continue
            merged = {**rows.get(conid, {}), **row}
            rows[conid] = merged
            symbol = row.get(mapping.F_SYMBOL)
            if symbol:
                self._symbols.setdefault(conid, str(symbol))

    async def daily_bars(self, conid: int, days: int) -> list[Bar]:
        self._acct()
        if days <= 0:
            return []
        period = min(1000, math.ceil(days * 1.5) + 5)
        body = await self._history(
            {"conid": str(conid), "period": f"{period}d", "bar": "1d", "outsideRth": "false"}
        )
        symbol = self._symbols.get(conid) or str((body or {}).get("symbol") or conid)
        bars = mapping.bars_from_history(body, symbol)
        local = self._clock.now().astimezone(mapping.SYDNEY)
        if local.time() < _BARS_DONE_AT:
            bars = [b for b in bars if b.day < local.date()]
        return bars[-days:]

    async def intraday_bars(self, conid: int, day: date, minutes: int = 1) -> list[Bar]:
        """One history request, ``period=1d``. Today: no ``startTime``, so the period ends
        at IBKR's now. A past session: ``startTime`` = 17:00 Sydney that day (after the
        closing auction), the reference point IBKR's period reaches back from. Rows of
        another date and rows starting after our clock are dropped whatever IBKR sends,
        so neither a neighbouring session nor clock skew leaks into the result."""
        self._acct()
        if minutes not in INTRADAY_BAR_MINUTES:
            raise InvalidInputError(
                f"IBKR: intraday bar of {minutes} minutes is not one of "
                f"{', '.join(map(str, INTRADAY_BAR_MINUTES))}"
            )
        now = self._clock.now()
        today = now.astimezone(mapping.SYDNEY).date()
        if day > today:
            return []
        params = {
            "conid": str(conid),
            "exchange": "ASX",
            "period": "1d",
            "bar": mapping.history_bar_size(minutes),
            "outsideRth": "false",
        }
        if day < today:
            end = datetime.combine(day, _INTRADAY_DONE_AT, mapping.SYDNEY)
            params["startTime"] = mapping.history_time(end)
        body = await self._history(params)
        symbol = self._symbols.get(conid) or str((body or {}).get("symbol") or conid)
        bars = mapping.intraday_bars_from_history(body, symbol, day)
        return [b for b in bars if b.at is not None and b.at <= now]

    async def _history(self, params: dict[str, str]) -> Any:
        """``/iserver/marketdata/history`` inside one of its concurrent-request slots
        (IBKR serves at most 5 at once and answers more with 429)."""
        try:
            pacer = self._http.pacer("history")
        except KeyError:  # limits configured without a history class: global pacing only
            return await self._http.get("/iserver/marketdata/history", params)
        async with pacer.slot():
            return await self._http.get("/iserver/marketdata/history", params)

    async def scan_gaps(
        self, min_gap_pct: Decimal, min_price: Decimal, min_volume: int
    ) -> list[GapCandidate]:
        self._acct()
        screen = GapFilter(min_gap_pct, min_price, min_volume)
        body = await self._http.post(
            "/iserver/scanner/run",
            {
                "instrument": self._settings.scanner_instrument,
                "location": self._settings.scanner_location,
                "type": self._settings.scanner_type,
                "filter": [
                    {"code": "priceAbove", "value": float(screen.min_price)},
                    {"code": "volumeAbove", "value": screen.min_volume},
                ],
            },
            idempotent=True,
        )
        contracts = (body or {}).get("contracts", []) if isinstance(body, dict) else []
        conids: list[int] = []
        for row in contracts:
            try:
                conid = int(row.get("con_id") or row["conidex"].split("@")[0])
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            conids.append(conid)
            if row.get("symbol"):
                self._symbols.setdefault(conid, str(row["symbol"]).upper())
        day = self._clock.now().astimezone(mapping.SYDNEY).date()
        # snapshots() already names each quote by the scanner row's symbol when IBKR's
        # snapshot leaves it out
        return screen.select(await self.snapshots(conids) if conids else [], day)

    # -- orders ----------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> OrderState:
        account = self._acct()
        where = f"order {request.client_order_id!r} ({request.symbol})"
        if not mapping.is_paper_account(account) and not self._live_trading:
            raise OrderRejectedError(f"{where}: {account} is a live account and live trading "
                                     "is off ([broker] live_trading)")
        payload = {"orders": [_order_json(request, account)]}
        body = await self._send_order_step(
            request, where, f"/iserver/account/{account}/orders", payload
        )
        if isinstance(body, OrderState):
            return body
        for _ in range(MAX_QUESTIONS):
            outcome = await self._handle_order_reply(request, where, body)
            if isinstance(outcome, OrderState):
                return outcome
            body = outcome
        raise OrderRejectedError(f"{where}: IBKR kept asking questions; not placed")

    async def _send_order_step(
        self, request: OrderRequest, where: str, path: str, payload: Any
    ) -> Any:
        """One non-idempotent POST of the placement dialogue; resolves unknown outcomes by
        looking the order up by its cOID (returning its OrderState when found)."""
        try:
            return await self._http.post(path, payload, idempotent=False)
        except IbkrRequestError as exc:
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            raise OrderRejectedError(f"{where}: IBKR refused it: {exc.error}") from exc
        except BrokerUnavailableError as exc:
            found = await self.find_order(request.client_order_id)
            if found is not None:
                log.warning("ibkr_order_found_after_failure", coid=request.client_order_id)
                return found
            raise BrokerUnavailableError(
                f"{where}: outcome unknown ({exc}); not found at IBKR, not resent"
            ) from exc

    async def _handle_order_reply(
        self, request: OrderRequest, where: str, body: Any
    ) -> OrderState | Any:
        """An OrderState when placed, or the next response body after answering a question."""
        if isinstance(body, dict) and body.get("error"):
            found = await self.find_order(request.client_order_id)
            if found is not None:
                return found
            raise OrderRejectedError(f"{where}: IBKR refused it: {_one_line(body['error'])}")
        rows = body if isinstance(body, list) else [body]
        if not rows or not isinstance(rows[0], dict):
            raise BrokerUnavailableError(f"{where}: unexpected IBKR answer to an order")
        row = rows[0]
        if row.get("order_id") is not None:
            return await self._placed_state(request, row)
        if row.get("id") is None:
            raise BrokerUnavailableError(f"{where}: unexpected IBKR answer to an order")
        message = row.get("message") or []
        question = OrderQuestion(
            id=str(row["id"]),
            message=_one_line(" ".join(map(str, message)) if isinstance(message, list)
                              else message),
            message_ids=tuple(str(m) for m in row.get("messageIds") or ()),
        )
        if not question.allowed_by(self._settings.confirm_question_ids):
            try:
                await self._http.post(f"/iserver/reply/{question.id}", {"confirmed": False})
            except SkimdError as exc:  # best effort: the question expires on its own anyway
                log.warning("ibkr_reply_no_failed", error=str(exc))
            codes = ",".join(question.message_ids) or "no code"
            raise OrderRejectedError(
                f"{where}: IBKR asked ({codes}) {question.message!r}; not on the confirm "
                "list, order not placed"
            )
        return await self._send_order_step(
            request, where, f"/iserver/reply/{question.id}", {"confirmed": True}
        )

    async def _placed_state(self, request: OrderRequest, row: dict[str, Any]) -> OrderState:
        order_id = str(row["order_id"])
        self._coid_by_order[order_id] = request.client_order_id
        try:
            return await self.order_status(order_id)
        except (BrokerUnavailableError, InvalidInputError):
            status = mapping.parse_status(row.get("order_status"), 0, request.qty)
            return OrderState(
                broker_order_id=order_id,
                client_order_id=request.client_order_id,
                status=status,
                symbol=request.symbol,
                conid=request.conid,
                side=request.side,
                qty=request.qty,
                remaining=0 if status.is_terminal else request.qty,
                order_type=request.order_type,
                limit_price=request.limit_price,
                stop_price=request.stop_price,
                tif=request.tif,
            )

    async def cancel_order(self, broker_order_id: str) -> OrderState:
        account = self._acct()
        try:
            await self._http.delete(f"/iserver/account/{account}/order/{broker_order_id}")
        except IbkrRequestError as exc:
            raise InvalidInputError(
                f"IBKR: cannot cancel order {broker_order_id!r}: {exc.error}"
            ) from exc
        return await self.order_status(broker_order_id)

    async def order_status(self, broker_order_id: str) -> OrderState:
        self._acct()
        try:
            row = await self._http.get(f"/iserver/account/order/status/{broker_order_id}")
        except IbkrRequestError as exc:
            raise InvalidInputError(
                f"IBKR: unknown order id {broker_order_id!r}: {exc.error}"
            ) from exc
        if not isinstance(row, dict) or row.get("order_id") is None:
            raise InvalidInputError(f"IBKR: unknown order id {broker_order_id!r}")
        return mapping.order_state_from(
            row,
            client_order_id=self._coid_by_order.get(str(row["order_id"])),
            symbol=self._symbols.get(int(row.get("conid") or 0), ""),
        )

    async def _orders(self) -> list[OrderState]:
        body = await self._http.get("/iserver/account/orders")
        rows = (body.get("orders") or []) if isinstance(body, dict) else []
        out = []
        for row in rows:
            try:
                state = mapping.order_state_from(row)
            except (ValueError, TypeError, KeyError):
                continue
            if state.client_order_id:
                self._coid_by_order[state.broker_order_id] = state.client_order_id
            out.append(state)
        return out

    async def find_order(self, client_order_id: str) -> OrderState | None:
        self._acct()
        matches = [o for o in await self._orders() if o.client_order_id == client_order_id]
        return matches[-1] if matches else None

    async def open_orders(self) -> list[OrderState]:
        self._acct()
        return [o for o in await self._orders() if o.status.is_working]

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


def _order_json(request: OrderRequest, account: str) -> dict[str, Any]:
    order: dict[str, Any] = {
        "acctId": account,
        "conid": request.conid,
        "orderType": request.order_type.value,
        "side": request.side.value,
        "quantity": request.qty,
        "tif": request.tif.value,
        "cOID": request.client_order_id,
        "outsideRTH": False,
    }
    if request.order_type is OrderType.LMT and request.limit_price is not None:
        order["price"] = float(request.limit_price)
    if request.order_type is OrderType.STP and request.stop_price is not None:
        order["price"] = float(request.stop_price)  # IBKR: a STP order's price is its stop
    return order


def _batches(items: list[int], size: int) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())[:300]


def build_ibkr_broker(
    settings: Settings,
    *,
    clock: Clock,
    events: BrokerEvents,
    identifier_cache: IdentifierCache,
    http_client: httpx.AsyncClient | None = None,
    on_token: Callable[[str], None] | None = None,
) -> IbkrBroker:
    """The IBKR broker for ``settings``. ``http_client`` is used as given (bootstrap owns
    it); without one the broker creates and closes its own. Key files are read here, so a
    missing/unreadable key fails now with ConfigurationError naming the file. ``on_token``
    receives each new live session token (register it with the log redactor)."""
    ib = settings.ibkr
    credentials = load_credentials(ib)
    base_url = ib.base_url.rstrip("/")
    auth = IbkrOAuth(
        credentials,
        clock=clock,
        lst_url=base_url + LST_PATH,
        refresh_margin_s=ib.lst_refresh_margin_s,
        on_token=on_token,
    )
    owned = None
    if http_client is None:
        owned = http_client = httpx.AsyncClient(timeout=ib.request_timeout_s)
    http = IbkrHttp(
        http_client,
        base_url=base_url,
        auth=auth,
        clock=clock,
        events=events,
        max_attempts=ib.max_get_attempts,
    )
    session = BrokerageSession(
        http,
        clock=clock,
        events=events,
        tickle_interval_s=ib.tickle_interval_s,
        compete_backoff_s=ib.compete_backoff_s,
    )
    return IbkrBroker(
        http=http,
        session=session,
        settings=ib,
        live_trading=settings.broker.live_trading,
        clock=clock,
        identifier_cache=identifier_cache,
        owned_client=owned,
    )
