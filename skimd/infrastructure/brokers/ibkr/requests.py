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
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import Any

import httpx

from skimd.clock import Clock
from skimd.errors import (
    BrokerAuthError,
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


class IbkrHttp:
    """One injected ``httpx.AsyncClient`` + OAuth + pacing. Paths are relative to
    ``base_url`` (e.g. ``"/iserver/accounts"``)."""

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
        return await self.request("GET", path, params=params, idempotent=True)

    async def post(
        self, path: str, json: Any = None, *, idempotent: bool = False
    ) -> Any:
        return await self.request("POST", path, json=json, idempotent=idempotent)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path, idempotent=False)

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
