"""Pushed quotes from IBKR's websocket ``/ws``: the IBKR
:class:`~skimd.services.ports.quotes.QuoteStream`.

How a connection is made (IBKR's "Establishing the Websocket with OAuth",
https://www.interactivebrokers.com/campus/ibkr-api-page/cpapi-v1/#websockets, and
https://interactivebrokers.github.io/cpwebapi/RealtimeSubscription.html; IBind's
``IbkrWsClient`` does the same,
https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_ws_client.py):

1. ``POST /tickle`` (signed with the live session token like every REST call) gives the
   ``session`` value and the brokerage session's state; not authenticated → stay down (the
   :class:`~.connection.BrokerageSession` re-opens it) and try again after the back-off.
2. ``wss://<host>/v1/api/ws?oauth_token=<access token>`` with the cookie ``api=<session>``
   (the consumer's access token, not the live session token). A socket that still answers
   ``{"message": "waiting for session"}`` is sent ``{"session": ...}`` once (IBKR's second
   documented way); a second such answer is an auth failure.
3. Up when IBKR's greeting says the brokerage session is authenticated (``sts``, sent on
   connect after ``system``); then ``smd`` for the whole followed set (the snapshot's field
   list, so a pushed quote reads like a polled one).

While connected: ``tic`` every ``tic_interval_s`` (IBKR: at least once a minute); IBKR sends
a heartbeat every ~10 s, so no message at all for ``heartbeat_timeout_s`` means the socket
is dead (down, close, reconnect); so does a socket still without its authenticated ``sts``
``open_timeout_s`` after it opened. ``sts`` not authenticated → down. A new brokerage session
(``session_epoch`` changed: a re-init after a new live session token, the nightly reset or a
competing login) → reconnect with a fresh ``/tickle`` session and re-subscribe everything.
Reconnects back off from ``backoff_s`` (2 s: beyond ``/tickle``'s 1-per-second pacing, so
a retry does not queue behind its own last tickle) doubling to ``max_backoff_s``; every wait
is on the injected Clock. Market-data deltas merge into whole quotes and conflate in
:class:`~.ws_messages.QuoteBook`.

Secrets: the access token goes only into the URL of the handshake and the session only into
its cookie; neither is logged, kept in an exception text or shown by ``repr``. The
websockets library logs through a logger of our own held at INFO, so its DEBUG lines (which
would print the request line and headers) never exist.

``websockets`` is imported when the first connection is opened, not with this module: a
daemon without a stream never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import structlog

from skimd.clock import Clock
from skimd.domain.market import Quote
from skimd.errors import (
    BrokerAuthError,
    BrokerSessionError,
    BrokerUnavailableError,
    InvalidInputError,
    SkimdError,
)
from skimd.infrastructure.brokers.ibkr import ws_messages as wm
from skimd.infrastructure.brokers.ibkr.connection import parse_status
from skimd.services.ports.quotes import StreamState, StreamStateListener

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

log = structlog.get_logger(__name__)

DEFAULT_LINE_LIMIT = 100  # IBKR's default market-data lines per username
USER_AGENT = "ClientPortalGW/1"  # what IBind sends with OAuth
_WIRE_LOG = logging.getLogger("skimd.ibkr.ws.wire")
_WIRE_LOG.setLevel(logging.INFO)  # never DEBUG: websockets' debug lines carry the headers


@dataclass(frozen=True, repr=False)
class WsEndpoint:
    """Where and as whom the websocket logs in. ``url`` is ``ws(s)://host/v1/api/ws``
    without a query."""

    url: str
    access_token: str

    def __repr__(self) -> str:
        return f"WsEndpoint(url={self.url!r}, access_token=**********)"


def ws_url(base_url: str) -> str:
    """The websocket URL beside a REST base URL (``https://api.ibkr.com/v1/api`` →
    ``wss://api.ibkr.com/v1/api/ws``)."""
    base = base_url.rstrip("/")
    for http, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(http):
            return ws + base[len(http):] + "/ws"
    raise InvalidInputError(f"IBKR base_url {base_url!r} is not an http(s) URL")


@dataclass(frozen=True, repr=False)
class _Login:
    session: str


class IbkrQuoteStream:
    """See the module doc. ``tickle`` sends a signed ``POST /tickle`` and returns its body;
    ``session_epoch`` grows with every new brokerage session; ``symbols`` (conid → ticker,
    shared with market data) names quotes whose messages carry no symbol."""

    def __init__(
        self,
        endpoint: WsEndpoint,
        *,
        tickle: Callable[[], Awaitable[Any]],
        session_epoch: Callable[[], int],
        clock: Clock,
        on_state: StreamStateListener | None = None,
        symbols: MutableMapping[int, str] | None = None,
        line_limit: int = DEFAULT_LINE_LIMIT,
        tic_interval_s: float = 30.0,
        heartbeat_timeout_s: float = 35.0,
        open_timeout_s: float = 15.0,
        backoff_s: float = 2.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        self._endpoint = endpoint
        self._tickle = tickle
        self._session_epoch = session_epoch
        self._clock = clock
        self._on_state = on_state
        self._line_limit = line_limit
        self._tic_interval = tic_interval_s
        self._hb_timeout = heartbeat_timeout_s
        self._open_timeout = open_timeout_s
        self._base_backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._book = wm.QuoteBook(symbols if symbols is not None else {})
        self._followed: set[int] = set()
        self._state = StreamState(False, clock.now(), "not started")
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._live = False  # the current socket is greeted and subscribed
        self._connecting = False  # an attempt is between /tickle and its socket opening
        self._went_live = False  # the current attempt got as far as up
        self._wake = asyncio.Event()
        self._stopped = False
        self._last_seen = 0.0
        self._ending: str | None = None  # why the current socket is being closed by us
        self._ssl: ssl_module.SSLContext | None = None
        self.connections = 0  # sockets opened so far (observable, like BrokerageSession's)
        self._frames: int | None = None  # messages handled on the current socket

    def __repr__(self) -> str:
        return f"IbkrQuoteStream(url={self._endpoint.url!r}, up={self._state.up})"

    # -- the QuoteStream protocol -----------------------------------------------------------

    @property
    def line_limit(self) -> int:
        return self._line_limit

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def followed(self) -> frozenset[int]:
        return frozenset(self._followed)

    @property
    def connecting(self) -> bool:
        """An attempt to connect is under way (from ``/tickle`` until its socket is open)."""
        return self._connecting

    @property
    def frames(self) -> int | None:
        """Messages read AND handled on the current socket (``None`` while none is open).
        Observable like :attr:`connecting`, so a test can wait until the stream has dealt
        with everything a server wrote, instead of sleeping."""
        return self._frames

    async def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self._stopped = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name="ibkr-quote-stream", context=contextvars.Context()
        )

    async def stop(self) -> None:
        self._stopped = True
        ws, live = self._ws, self._live
        if ws is not None and live:
            with contextlib.suppress(Exception):
                for conid in sorted(self._followed):
                    await ws.send(wm.unsubscribe_frame(conid))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._state = StreamState(False, self._clock.now(), "stopped")
        self._book.take()
        self._wake.set()

    async def follow(self, conids: Collection[int]) -> None:
        wanted = {int(c) for c in conids}
        if len(wanted) > self._line_limit:
            raise InvalidInputError(
                f"IBKR quote stream: {len(wanted)} conids exceed the {self._line_limit} "
                "market-data lines"
            )
        added = sorted(wanted - self._followed)
        dropped = sorted(self._followed - wanted)
        self._followed = wanted
        self._book.keep_only(wanted)
        ws = self._ws
        if ws is None or not self._live:
            return  # subscribed when the socket is up
        for conid in dropped:
            await self._send(ws, wm.unsubscribe_frame(conid))
        for conid in added:
            if conid in self._followed:
                await self._send(ws, wm.subscribe_frame(conid))

    async def next_quotes(self, timeout_s: float) -> list[Quote]:
        if self._stopped or not self._state.up:
            return []
        if not self._book.pending:
            self._wake.clear()
            await self._wait(timeout_s)
            if self._stopped or not self._state.up:
                return []
        return self._book.take()

    # -- the connection loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self._base_backoff
        while not self._stopped:
            self._connecting = True
            try:
                await self._connection()
                reason = "IBKR closed the websocket"
            except SkimdError as exc:
                reason = str(exc)
            except Exception as exc:  # a bug must not end the stream for the day
                log.exception("ibkr_stream_failed")
                reason = f"IBKR quote stream failed ({type(exc).__name__})"
            finally:  # also when stop() cancels an attempt: none is under way any more
                self._connecting = False
            if self._went_live:
                self._went_live = False
                backoff = self._base_backoff  # it worked; the next failure starts over
            self._went_down(reason)
            if self._stopped:
                return
            log.debug("ibkr_stream_retry", reason=reason, in_s=backoff)
            await self._clock.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _connection(self) -> None:
        """One socket's life: returns when IBKR closes it normally, raises SkimdError when
        it could not be opened or was lost."""
        login = await self._login()
        epoch = self._session_epoch()
        ws = await self._open(login)
        self._connecting = False
        self._ws, self._live, self._ending = ws, False, None
        self._frames = 0
        self._book.reset_fields()
        self._last_seen = self._clock.monotonic()
        keeper = asyncio.get_running_loop().create_task(self._keep(ws, epoch), name="ibkr-ws-tic")
        sent_session = False
        try:
            async for raw in ws:
                self._last_seen = self._clock.monotonic()
                message = wm.parse(raw)
                if isinstance(message, wm.WaitingForSession):
                    if sent_session:
                        raise BrokerAuthError("IBKR websocket did not accept the session")
                    sent_session = True
                    await self._send(ws, wm.session_frame(login.session))
                else:
                    await self._handle(ws, message)
                self._frames = (self._frames or 0) + 1
        except self._closed_errors() as exc:
            raise BrokerUnavailableError(
                self._ending or f"IBKR websocket connection lost ({_close_text(exc)})"
            ) from exc
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self._ws, self._live, self._frames = None, False, None
            with contextlib.suppress(Exception):
                await ws.close()
        if self._ending:
            raise BrokerUnavailableError(self._ending)

    async def _handle(self, ws: ClientConnection, message: wm.Message) -> None:
        if isinstance(message, wm.MarketData):
            if message.conid in self._followed and self._live:
                self._book.apply(message, self._clock.now())
                if self._book.pending:
                    self._wake.set()
        elif isinstance(message, wm.AuthStatus) and message.authenticated is False:
            why = "taken by another login" if message.competing else (
                message.message or "not authenticated")
            raise BrokerSessionError(f"IBKR websocket: brokerage session {why}")
        elif isinstance(message, wm.AuthStatus) and not self._live:
            self._live = True
            for conid in sorted(self._followed):
                if conid in self._followed:
                    await self._send(ws, wm.subscribe_frame(conid))
            self._went_live = True
            self._went_up()
        elif isinstance(message, wm.ServerError):
            log.warning("ibkr_stream_error", conid=message.conid, error=message.text)

    async def _keep(self, ws: ClientConnection, epoch: int) -> None:
        """``tic`` on time; close the socket when IBKR went quiet, did not say the session
        is authenticated in time, or the brokerage session changed under it."""
        step = max(0.5, min(self._tic_interval, self._hb_timeout, self._open_timeout) / 3)
        opened = self._clock.monotonic()
        next_tic = opened + self._tic_interval
        while True:
            await self._clock.sleep(step)
            now = self._clock.monotonic()
            quiet = now - self._last_seen
            if not self._live and now - opened > self._open_timeout:
                await self._end(ws, "IBKR websocket did not confirm the session in "
                                    f"{self._open_timeout:.0f} s")
                return
            if quiet > self._hb_timeout:
                await self._end(ws, f"no heartbeat from IBKR for {quiet:.0f} s")
                return
            if self._session_epoch() != epoch:
                await self._end(ws, "new brokerage session")
                return
            if now >= next_tic:
                next_tic = now + self._tic_interval
                await self._send(ws, wm.TIC)

    async def _end(self, ws: ClientConnection, reason: str) -> None:
        self._ending = reason
        self._went_down(reason)
        with contextlib.suppress(Exception):
            await ws.close()

    async def _login(self) -> _Login:
        body = await self._tickle()
        health = parse_status(body)
        if not health.ok:
            why = "taken by another login" if health.competing else (
                health.message or "not authenticated")
            raise BrokerSessionError(f"IBKR brokerage session {why}; stream waits for it")
        session = body.get("session") if isinstance(body, dict) else None
        if not isinstance(session, str) or not session:
            raise BrokerUnavailableError("IBKR /tickle gave no session for the websocket")
        return _Login(session)

    async def _open(self, login: _Login) -> ClientConnection:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        url = f"{self._endpoint.url}?oauth_token={quote(self._endpoint.access_token, safe='')}"
        ssl = self._tls() if url.startswith("wss://") else None
        opening = connect(
            url,
            additional_headers={"Cookie": f"api={login.session}"},
            user_agent_header=USER_AGENT,
            ssl=ssl,
            open_timeout=None,  # our own deadline, on the Clock
            ping_interval=None,  # liveness is IBKR's heartbeat, watched on the Clock
            close_timeout=2,
            logger=_WIRE_LOG,
        )
        async def opened() -> ClientConnection:
            return await opening

        try:
            ws = await self._within(self._open_timeout, opened())
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise BrokerAuthError(
                    f"IBKR websocket refused the login (HTTP {status})") from exc
            raise BrokerUnavailableError(
                f"IBKR websocket handshake failed (HTTP {status})") from exc
        except TimeoutError as exc:
            raise BrokerUnavailableError(
                f"IBKR websocket did not open within {self._open_timeout:.0f} s") from exc
        except (OSError, WebSocketException) as exc:
            raise BrokerUnavailableError(
                f"IBKR websocket cannot connect ({type(exc).__name__})") from exc
        self.connections += 1
        return ws

    def _tls(self) -> ssl_module.SSLContext:
        if self._ssl is None:
            from skimd.infrastructure.tls import verify_context

            self._ssl = verify_context()
        return self._ssl

    @staticmethod
    def _closed_errors() -> tuple[type[BaseException], ...]:
        from websockets.exceptions import ConnectionClosedError

        return (ConnectionClosedError, OSError)

    async def _send(self, ws: ClientConnection, text: str) -> None:
        """Send one frame; a socket that is going away is noticed by the reader."""
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed, OSError):
            await ws.send(text)

    # -- waiting and state ------------------------------------------------------------------------

    async def _within(self, seconds: float, work: Awaitable[Any]) -> Any:
        """``work``'s result, or TimeoutError after ``seconds`` of Clock time."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise TimeoutError
        return task.result()

    async def _wait(self, seconds: float) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        timer = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()

    def _went_up(self) -> None:
        if self._state.up:
            return
        self._state = StreamState(True, self._clock.now())
        log.info("ibkr_stream_up", conids=len(self._followed))
        self._notify()

    def _went_down(self, reason: str) -> None:
        if not self._state.up:
            if self._state.reason != reason:
                self._state = replace(self._state, reason=reason)
            return
        self._state = StreamState(False, self._clock.now(), reason)
        self._book.take()  # stale by the time the stream is back; polling takes over
        self._wake.set()
        log.warning("ibkr_stream_down", reason=reason)
        self._notify()

    def _notify(self) -> None:
        if self._on_state is not None and not self._stopped:
            self._on_state(self._state)


def _close_text(exc: BaseException) -> str:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is not None:
        return f"code {rcvd.code}"
    return type(exc).__name__


__all__ = ["DEFAULT_LINE_LIMIT", "IbkrQuoteStream", "WsEndpoint", "ws_url"]
