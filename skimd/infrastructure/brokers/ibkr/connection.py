"""The IBKR brokerage session: open it, re-open it after every new live session token, keep
it alive, and report when it is lost, taken or back.

What IBKR documents (sources beside each):

- The OAuth login session is read-only; ``/iserver/*`` (market data, scanners, orders) needs
  the brokerage session that ``POST /iserver/auth/ssodh/init`` opens, one per username
  (https://ibkrcampus.com/ibkr-quant-news/tutorial-web-api-connect-to-brokerage-session/).
  ``compete: true`` asks to take it from another login (IBind's
  ``initialize_brokerage_session(compete=True)``,
  https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client_mixins/session_mixin.py);
  ours comes from ``[ibkr] compete``.
- A new live session token needs a new ``ssodh/init``: IBind re-runs ``oauth_init`` (new
  token, then ``initialize_brokerage_session``) whenever the session is unhealthy
  (https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client.py).
- ``/iserver/auth/status`` (and ``/tickle``'s ``iserver.authStatus``) report whether the
  *brokerage* session is ``authenticated``, whether another connection is ``competing``, and
  whether we are ``connected`` to the gateway, plus a ``message`` (IBKR's OpenAPI model
  ``BrokerageSessionStatus``, https://api.ibkr.com/gw/api/v3/api-docs, as generated in
  https://github.com/nautechsystems/nautilus_trader/blob/develop/crates/adapters/interactive_brokers/client/docs/BrokerageSessionStatus.md).
  Before ``ssodh/init`` — and after a new token, IBKR's nightly reset or a competing login —
  the brokerage session is not open, so ``authenticated`` is false: "Market Data and Trading
  is not possible if not authenticated" (IBKR's description of the endpoint, in
  https://docs.rs/ib_client/1.0.0/i686-unknown-linux-gnu/ib_client/apis/session_api/fn.iserver_auth_status_post.html);
  the login session itself still answers (``connected``). ``/iserver/*`` then answers ``400
  "Bad Request: no bridge"`` (IBind's ``_request``). IBind counts only authenticated, not
  competing and connected as healthy (session_mixin.py); so do we (``SessionHealth.ok``).
- ``/tickle`` about once a minute keeps the session ("approximately every 60 seconds",
  session_mixin.py ``tickle``).

The lifecycle here (an asyncio task sleeping on the injected Clock; no threads):

- An *init* is ``ssodh/init``, then a bounded wait (``settle_timeout_s``, polling
  ``/iserver/auth/status`` every ``settle_poll_s`` on the Clock) until authenticated or
  competing; after a re-init (not the first: ``connect()`` does it) ``GET /iserver/accounts``,
  which IBKR wants before ``/iserver/account/*`` calls.
- New token: before the next ``/iserver`` call or tickle, when a renewal is due or any call
  derived a new token, re-init at once (its ``ssodh/init`` is the request that derives a due
  token). ``BrokerEvents.session_renewed(expires_at)`` once per token.
- "No bridge", or ``authenticated: false`` from ``/tickle`` or ``/iserver/auth/status``:
  re-init once (unless another call already did since). Up again: carry on (logged only).
  Still down: ``session_lost(reason, retry_at)`` once.
- Competing: ``session_competing(retry_at)`` once per episode; the first re-init waits
  ``compete_backoff_s`` (never fight the other login at once), later ones twice as long each
  time up to ``max_backoff_s``. Tickles continue meanwhile.
- While down and before the next re-init, guarded calls raise BrokerSessionError at once
  without reaching IBKR (:meth:`BrokerageSession.before_call`).
- ``session_restored()`` once, the first time the session is up after a reported loss or
  competing login. The back-off returns to its base after a few healthy tickles in a row.
- The keep-alive task starts in an empty ``contextvars.Context``: it must not log in the
  context of whatever job happened to connect (e.g. ``job=warmup``).

The keep-alive never raises out of its task: failures are logged and it tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from skimd.clock import Clock
from skimd.domain.account import SessionHealth
from skimd.errors import BrokerSessionError, SkimdError, TransientError
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.services.ports.broker import BrokerEvents

log = structlog.get_logger(__name__)

INIT_PATH = "/iserver/auth/ssodh/init"
STATUS_PATH = "/iserver/auth/status"
_STABLE_TICKLES = 3  # healthy tickles in a row that reset the back-off


class TokenSource(Protocol):
    """The live session token as the session needs to know it (:class:`~.auth.IbkrOAuth`)."""

    @property
    def generation(self) -> int: ...

    @property
    def expires_at(self) -> datetime | None: ...

    def renewal_due(self) -> bool: ...


def parse_status(body: Any) -> SessionHealth:
    """A SessionHealth from ``/iserver/auth/status`` or ``/tickle`` (``iserver.authStatus``)."""
    if isinstance(body, dict) and isinstance(body.get("iserver"), dict):
        body = body["iserver"].get("authStatus", {})
    if not isinstance(body, dict):
        return SessionHealth(False, False, False, "unexpected status response")
    return SessionHealth(
        authenticated=bool(body.get("authenticated", False)),
        competing=bool(body.get("competing", False)),
        connected=bool(body.get("connected", True)),
        message=str(body.get("message") or body.get("fail") or ""),
    )


class BrokerageSession:
    """Owns the keep-alive task and the session's state; the :class:`~.requests.SessionGuard`
    of :class:`IbkrHttp`. ``start()`` is idempotent; ``stop()`` cancels the task."""

    def __init__(
        self,
        http: IbkrHttp,
        *,
        clock: Clock,
        events: BrokerEvents,
        tokens: TokenSource,
        tickle_interval_s: float = 60.0,
        compete_backoff_s: float = 60.0,
        max_backoff_s: float = 900.0,
        compete: bool = True,
        settle_timeout_s: float = 20.0,
        settle_poll_s: float = 1.0,
    ) -> None:
        self._http = http
        self._clock = clock
        self._events = events
        self._tokens = tokens
        self._interval = tickle_interval_s
        self._base_backoff = compete_backoff_s
        self._max_backoff = max_backoff_s
        self._compete = compete
        self._settle_timeout = settle_timeout_s
        self._settle_poll = settle_poll_s
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.health = SessionHealth(False, False, False, "not started")
        self._started = False
        self._epoch = 0  # successful inits so far
        self._inited_generation = 0  # token generation the session was last opened with
        self._renewed_generation = 0  # token generation last reported as renewed
        self._reported: str | None = None  # "lost" / "competing" until restored
        self._backoff = compete_backoff_s
        self._next_reinit_at: float | None = None  # monotonic; set while down
        self._healthy_streak = 0
        self.init_calls = 0

    @property
    def epoch(self) -> int:
        """Grows with every brokerage session opened (or found up again after a loss): a
        change means what was bound to the old session (websocket subscriptions) is gone."""
        return self._epoch

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> SessionHealth:
        """Open the session (if not up) and start the keep-alive task. While a re-init is
        scheduled (back-off) the known state is returned without calling IBKR: a caller
        retrying ``connect()`` every few seconds must not fight a competing login."""
        self._started = True
        if not self.health.ok and (self._next_reinit_at is None or self._reinit_due()):
            async with self._lock:
                if not self.health.ok and (self._next_reinit_at is None or self._reinit_due()):
                    await self._reinit("brokerage session start")
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._keep_alive(), name="ibkr-tickle", context=contextvars.Context()
            )
        return self.health

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def status(self) -> SessionHealth:
        """``/iserver/auth/status`` as it is (no action taken)."""
        return parse_status(await self._http.request("POST", STATUS_PATH, idempotent=True))

    async def check(self) -> SessionHealth:
        """The session's state for ``health()``: ``authenticated: false`` (not competing,
        no re-init pending) is re-initialised once first."""
        health = await self.status()
        if not self._started:
            return health
        if health.ok:
            if self._reported is not None or self._next_reinit_at is not None:
                async with self._lock:
                    self._went_up(health, "status says authenticated")
            return health
        if health.competing:
            self._went_down(health, "taken by another login", attempt=False)
            return health
        if self._next_reinit_at is not None:
            return health
        async with self._lock:
            return await self._reinit("status says not authenticated")

    # -- the SessionGuard of IbkrHttp --------------------------------------------------------

    async def before_call(self) -> int:
        """See :class:`~.requests.SessionGuard`: re-init after a new token or when a
        back-off ran out; BrokerSessionError while known down."""
        if not self._started:
            return self._epoch
        if self._next_reinit_at is not None:
            if self._clock.monotonic() < self._next_reinit_at:
                raise BrokerSessionError(self._down_message())
            async with self._lock:
                if self._reinit_due():
                    await self._reinit("re-init after back-off")
        elif self._token_changed():
            async with self._lock:
                if self._next_reinit_at is None and self._token_changed():
                    await self._reinit("new live session token")
        if self._next_reinit_at is not None:
            raise BrokerSessionError(self._down_message())
        return self._epoch

    async def recover(self, epoch: int, reason: str) -> bool:
        """See :class:`~.requests.SessionGuard`."""
        async with self._lock:
            if self._epoch != epoch:
                return self.health.ok and self._next_reinit_at is None
            if self._next_reinit_at is not None and not self._reinit_due():
                return False
            health = await self._reinit(reason)
            return health.ok

    # -- internals ---------------------------------------------------------------------------

    def _token_changed(self) -> bool:
        return self._tokens.renewal_due() or self._tokens.generation != self._inited_generation

    def _reinit_due(self) -> bool:
        at = self._next_reinit_at
        return at is not None and self._clock.monotonic() >= at

    def _down_message(self) -> str:
        at = self._next_reinit_at
        when = ""
        if at is not None:
            retry = self._wall(at)
            when = f"; retry at {retry.isoformat(timespec='seconds')}"
        if self.health.competing:
            return f"IBKR brokerage session taken by another login{when}"
        why = self.health.message or "not authenticated"
        return f"IBKR brokerage session down ({why}){when}"

    def _wall(self, monotonic_at: float) -> datetime:
        return self._clock.now() + timedelta(seconds=monotonic_at - self._clock.monotonic())

    async def _reinit(self, reason: str) -> SessionHealth:
        """One init (call with the lock held); records the outcome and reports it."""
        try:
            health = await self._init_and_wait(query_accounts=self._epoch > 0)
        except TransientError as exc:
            log.warning("ibkr_session_init_failed", reason=reason, error=str(exc))
            health = SessionHealth(False, False, False, str(exc))
        finally:
            self._report_new_token()
        if health.ok:
            log.info("ibkr_session_initialised", reason=reason)
            self._went_up(health, reason)
        else:
            self._went_down(health, reason, attempt=True)
        return health

    async def _init_and_wait(self, *, query_accounts: bool) -> SessionHealth:
        self.init_calls += 1
        body = await self._http.request(
            "POST", INIT_PATH, json={"publish": True, "compete": self._compete}, idempotent=True
        )
        health = parse_status(body)
        deadline = self._clock.monotonic() + self._settle_timeout
        while not (health.authenticated or health.competing) and (
            self._clock.monotonic() < deadline
        ):
            await self._clock.sleep(self._settle_poll)
            health = await self.status()
        if health.ok and query_accounts:
            await self._http.request("GET", "/iserver/accounts", idempotent=True)
        return health

    def _report_new_token(self) -> None:
        generation = self._tokens.generation
        if generation and generation != self._renewed_generation:
            self._renewed_generation = generation
            self._events.session_renewed(self._tokens.expires_at)

    def _went_up(self, health: SessionHealth, reason: str) -> None:
        self.health = health
        self._epoch += 1
        self._inited_generation = self._tokens.generation
        self._next_reinit_at = None
        if self._reported is not None:
            self._reported = None
            log.info("ibkr_session_restored", reason=reason)
            self._events.session_restored()

    def _went_down(self, health: SessionHealth, reason: str, *, attempt: bool) -> None:
        """Down after an init ``attempt`` (the next waits longer) or as observed (a re-init
        is scheduled unless one already is); reported once per kind."""
        self.health = health
        self._healthy_streak = 0
        if attempt or self._next_reinit_at is None:
            self._next_reinit_at = self._clock.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self._max_backoff)
        retry_at = self._wall(self._next_reinit_at)
        kind = "competing" if health.competing else "lost"
        if self._reported == kind:
            return
        self._reported = kind
        if health.competing:
            log.warning("ibkr_session_competing", retry_at=retry_at.isoformat())
            self._events.session_competing(retry_at)
        else:
            why = f"{health.message or 'not authenticated after ssodh/init'} ({reason})"
            log.warning("ibkr_session_lost", reason=why, retry_at=retry_at.isoformat())
            self._events.session_lost(why, retry_at)

    async def _keep_alive(self) -> None:
        delay = self._interval
        while True:
            await self._clock.sleep(delay)
            try:
                delay = await self._check_once()
            except SkimdError as exc:
                log.warning("ibkr_tickle_failed", error=str(exc))
                delay = self._interval

    async def _check_once(self) -> float:
        """One keep-alive step; returns the delay until the next one."""
        if self._reinit_due():
            async with self._lock:
                if self._reinit_due():
                    await self._reinit("re-init after back-off")
            return self._next_delay()
        if self._next_reinit_at is None and self._token_changed():
            async with self._lock:
                if self._next_reinit_at is None and self._token_changed():
                    await self._reinit("new live session token")
        health = parse_status(await self._http.request("POST", "/tickle", idempotent=True))
        if health.ok:
            self._healthy_streak += 1
            if self._healthy_streak >= _STABLE_TICKLES:
                self._backoff = self._base_backoff
            if self._next_reinit_at is not None or self._reported is not None:
                async with self._lock:
                    self._went_up(health, "tickle says authenticated")
        elif self._next_reinit_at is None:
            if health.competing:
                self._went_down(health, "taken by another login", attempt=False)
            else:
                async with self._lock:
                    if self._next_reinit_at is None:
                        await self._reinit("tickle says not authenticated")
        return self._next_delay()

    def _next_delay(self) -> float:
        at = self._next_reinit_at
        if at is None:
            return self._interval
        return max(1.0, min(self._interval, at - self._clock.monotonic()))
