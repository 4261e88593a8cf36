"""Paced, signed HTTP to IBKR; httpx errors become skimd errors here.

Every request takes its turn from :class:`~.pacing.Pacing` (its endpoint class and the
global one) after it is signed and right before it goes to the transport (:class:`PacedAuth`
wraps the OAuth signer, so the LST exchange and a re-signed retry after a 401 take turns
too), and its round trip feeds the pacing's latency estimate. A 429 penalises the class for
``penalty_s`` (IBKR's 10-minute penalty box) in the shared ledger, reports it through
``BrokerEvents.rate_limited`` and raises RateLimitedError; calls during the penalty raise
at once without reaching IBKR. Idempotent calls are retried with backoff on timeouts,
connection errors and 5xx (bounded attempts); non-idempotent ones (order placement) are
never retried here — the facade decides what is safe.

The brokerage session (see :mod:`.connection`) is a condition of ``/iserver/*`` calls, not
an error of one request: with a :class:`SessionGuard` attached, each such call first lets
the guard make sure the session is up (re-initialising it after a new live session token,
refusing at once while it is known to be down), and a ``400 "Bad Request: no bridge"``
answer (IBKR's word for "no brokerage session", recognised by that status and text as
IBind does, https://github.com/Voyz/ibind/blob/master/ibind/client/ibkr_client.py) makes
the guard re-initialise once; then an idempotent call is sent again, a non-idempotent one
(an order) is not and raises :class:`NoBridgeError`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import httpx

from skimd.clock import Clock
from skimd.errors import (
    BrokerAuthError,
    BrokerSessionError,
    BrokerUnavailableError,
    RateLimitedError,
)
from skimd.infrastructure.brokers.ibkr.pacing import Pacer, Pacing, RateLimit
from skimd.infrastructure.brokers.ibkr.pacing_ledger import PacingLedger
from skimd.services.ports.broker import BrokerEvents, PacingBudget

PENALTY_S = 600.0


class IbkrRequestError(BrokerUnavailableError):
    """IBKR answered a 4xx other than 401/429. ``status`` and ``error`` (IBKR's own text,
    never a secret) let the facade decide, e.g. turn an order's 400 into a rejection."""

    def __init__(self, message: str, status: int, error: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


NO_BRIDGE_TEXT = "no bridge"
SESSION_PATHS = ("/iserver/auth/",)  # the session's own endpoints: never guarded


class NoBridgeError(BrokerSessionError):
    """IBKR answered ``400 "Bad Request: no bridge"``: there was no brokerage session to
    carry the call, so IBKR did not act on it. ``recovered``: the session was re-initialised
    after it (a caller may then look the effect up and decide to send again)."""

    def __init__(self, message: str, *, recovered: bool) -> None:
        super().__init__(message)
        self.recovered = recovered


def is_no_bridge(exc: BaseException) -> bool:
    """True for IBKR's "no bridge" answer (HTTP 400 whose error text says so)."""
    return (
        isinstance(exc, IbkrRequestError)
        and exc.status == 400
        and NO_BRIDGE_TEXT in exc.error.lower()
    )


def needs_bridge(path: str) -> bool:
    """``/iserver/*`` calls need the brokerage session, except the session's own."""
    path = "/" + path.lstrip("/")
    return path.startswith("/iserver/") and not path.startswith(SESSION_PATHS)


class SessionGuard(Protocol):
    """The brokerage session as :class:`IbkrHttp` sees it (implemented by
    :class:`~.connection.BrokerageSession`)."""

    async def before_call(self) -> int:
        """Make sure the session can take a call (raise BrokerSessionError when it is
        known to be down); return its epoch (it grows with every successful init)."""

    async def recover(self, epoch: int, reason: str) -> bool:
        """A call sent at ``epoch`` met a session condition: re-initialise once, unless
        that already happened since; True when the session is up."""


class IbkrHttp:
    """One injected ``httpx.AsyncClient`` + OAuth + pacing. Paths are relative to
    ``base_url`` (e.g. ``"/iserver/accounts"``)."""

    _guard: SessionGuard | None = None  # see attach_session

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        auth: httpx.Auth,
        clock: Clock,
        events: BrokerEvents,
        limits: Mapping[str, RateLimit] | None = None,
        ledger: PacingLedger | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        penalty_s: float = PENALTY_S,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._auth = auth
        self._clock = clock
        self._events = events
        self.pacing = Pacing(clock, limits=limits, ledger=ledger)
        self._max_attempts = max(1, max_attempts)
        self._backoff_s = backoff_s
        self._penalty_s = penalty_s

    def url(self, path: str) -> str:
        return f"{self._base}/{path.lstrip('/')}"

    def pacer(self, name: str) -> Pacer:
        return self.pacing.pacer(name)

    def pacing_budget(self) -> PacingBudget:
        """Calls each class could make right now (account-wide); a penalised class says
        until when."""
        return dict(self.pacing.budget())

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.session_call("GET", path, params=params, idempotent=True)

    async def post(
        self, path: str, json: Any = None, *, idempotent: bool = False
    ) -> Any:
        return await self.session_call("POST", path, json=json, idempotent=idempotent)

    async def delete(self, path: str) -> Any:
        return await self.session_call("DELETE", path, idempotent=False)

    def attach_session(self, guard: SessionGuard | None) -> None:
        """Guard ``/iserver/*`` calls made through :meth:`get`/:meth:`post`/:meth:`delete`
        with the brokerage session (the session itself calls :meth:`request` directly)."""
        self._guard = guard

    async def session_call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
    ) -> Any:
        """:meth:`request` under the session guard (see the module doc)."""
        send = partial(self.request, method, path, params=params, json=json,
                       idempotent=idempotent)
        guard = self._guard
        if guard is None or not needs_bridge(path):
            return await send()
        epoch = await guard.before_call()
        try:
            return await send()
        except IbkrRequestError as exc:
            if not is_no_bridge(exc):
                raise
            first: IbkrRequestError = exc
        where = f"IBKR {method} {path}"
        recovered = await guard.recover(epoch, f"{where}: {first.error}")
        if not recovered:
            raise NoBridgeError(
                f"{where}: no brokerage session (IBKR: {first.error}); re-init did not bring "
                "it back", recovered=False,
            ) from first
        if not idempotent:
            raise NoBridgeError(
                f"{where}: not accepted (IBKR: {first.error}: no brokerage session to carry "
                "it); session re-initialised, not resent", recovered=True,
            ) from first
        try:
            return await send()
        except IbkrRequestError as exc:
            if is_no_bridge(exc):
                raise NoBridgeError(
                    f"{where}: still no brokerage session after a re-init (IBKR: {exc.error})",
                    recovered=False,
                ) from exc
            raise

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool,
    ) -> Any:
        """Send one call (retrying idempotent ones); the parsed JSON body (None if empty)."""
        classes = self.pacing.classes(path)
        attempts = self._max_attempts if idempotent else 1
        where = f"IBKR {method} {path}"
        for attempt in range(1, attempts + 1):
            self.pacing.check_penalty(classes)  # before signing: a penalty costs no LST
            try:
                response = await self._client.request(
                    method, self.url(path), params=params, json=json,
                    auth=PacedAuth(self._auth, self.pacing, classes, self._clock),
                )
            except httpx.TimeoutException as exc:
                failure: BrokerUnavailableError = BrokerUnavailableError(f"{where}: timed out")
                cause: BaseException = exc
            except httpx.HTTPError as exc:
                failure = BrokerUnavailableError(f"{where}: {type(exc).__name__}")
                cause = exc
            else:
                if response.status_code < 500:
                    return self._accept(response, where, classes[0])
                failure = BrokerUnavailableError(f"{where}: HTTP {response.status_code}")
                cause = httpx.HTTPStatusError(
                    failure.args[0], request=response.request, response=response
                )
            if attempt == attempts:
                raise failure from cause
            await self._clock.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _accept(self, response: httpx.Response, where: str, klass: str) -> Any:
        status = response.status_code
        if status == 429:
            until = self.pacing.penalize(klass, self._penalty_s)
            self._events.rate_limited(klass, until)
            raise RateLimitedError(
                f"{where}: HTTP 429; {klass} requests paused for {self._penalty_s:.0f} s",
                retry_after=self._penalty_s,
            )
        if status == 401:
            raise BrokerAuthError(f"{where}: HTTP 401 after refreshing the live session token")
        if status >= 400:
            error = _error_text(response)
            raise IbkrRequestError(f"{where}: HTTP {status}: {error}", status, error)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise BrokerUnavailableError(f"{where}: response is not JSON") from exc


class PacedAuth(httpx.Auth):
    """Wraps the OAuth signer for one call: every request its flow sends (the call itself,
    an LST exchange before it, a re-signed retry after a 401) waits for and stamps its
    pacing turn after signing, immediately before the transport, and reports its round
    trip to the pacing's latency estimate. The LST exchange counts as global only."""

    requires_response_body = True  # as the signer: it reads the LST exchange's body

    def __init__(
        self, inner: httpx.Auth, pacing: Pacing, classes: Sequence[str], clock: Clock
    ) -> None:
        self._inner = inner
        self._pacing = pacing
        self._classes = tuple(classes)
        self._clock = clock

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("PacedAuth supports httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._inner.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            while True:
                await self._pacing.send_turn(
                    self._classes if outgoing is request else ("global",)
                )
                sent = self._clock.monotonic()
                response = yield outgoing
                self._pacing.observe_latency(self._clock.monotonic() - sent)
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].replace("\n", " ")
    if isinstance(body, dict):
        for key in ("error", "message", "msg"):
            if body.get(key):
                return str(body[key])[:200]
    return str(body)[:200]
