"""The IBKR brokerage session: open it, keep it alive, notice when it is lost.

``POST /iserver/auth/ssodh/init {"publish": true, "compete": true}`` opens the brokerage
session; ``/tickle`` about once a minute keeps it (an asyncio task sleeping on the Clock —
no threads). Each tickle reports ``authenticated``/``competing``:

- not authenticated, not competing (IBKR's nightly ``/iserver`` reset, a timeout): init
  again at once, then with growing delays while it keeps failing;
- competing (another login — TWS, the mobile app — took the one brokerage session per
  username): ``BrokerEvents.session_competing()`` once per episode; the first re-init waits
  ``compete_backoff_s`` and later ones wait twice as long each time (up to
  ``max_backoff_s``), so we never fight the other login in a tight loop. Tickles continue
  meanwhile. The episode ends after a few healthy tickles in a row.

The keep-alive never raises out of its task: failures are logged and the next tickle tries
again.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog

from skimd.clock import Clock
from skimd.domain.account import SessionHealth
from skimd.errors import SkimdError
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.services.ports.broker import BrokerEvents

log = structlog.get_logger(__name__)

_STABLE_TICKLES = 3  # healthy tickles in a row that end a competing/lost episode


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
    """Owns the keep-alive task. ``start()`` is idempotent; ``stop()`` cancels the task."""

    def __init__(
        self,
        http: IbkrHttp,
        *,
        clock: Clock,
        events: BrokerEvents,
        tickle_interval_s: float = 60.0,
        compete_backoff_s: float = 60.0,
        max_backoff_s: float = 900.0,
    ) -> None:
        self._http = http
        self._clock = clock
        self._events = events
        self._interval = tickle_interval_s
        self._base_backoff = compete_backoff_s
        self._max_backoff = max_backoff_s
        self._task: asyncio.Task[None] | None = None
        self.health = SessionHealth(False, False, False, "not started")
        self._competing_reported = False
        self._lost_reported = False
        self._backoff = compete_backoff_s
        self._next_reinit_at: float | None = None
        self._healthy_streak = 0
        self.init_calls = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def init(self) -> SessionHealth:
        """Open the brokerage session once (``ssodh/init``) and return its state."""
        self.init_calls += 1
        body = await self._http.post(
            "/iserver/auth/ssodh/init", {"publish": True, "compete": True}, idempotent=True
        )
        self.health = parse_status(body)
        return self.health

    async def status(self) -> SessionHealth:
        self.health = parse_status(await self._http.post("/iserver/auth/status", idempotent=True))
        return self.health

    async def start(self) -> SessionHealth:
        """Init the session (if not yet up) and start the keep-alive task."""
        health = self.health if self.health.ok else await self.init()
        if health.competing:
            self._report_competing()
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._keep_alive(), name="ibkr-tickle"
            )
        return health

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
        """One tickle and whatever it calls for; returns the delay until the next one."""
        health = parse_status(await self._http.post("/tickle", idempotent=True))
        self.health = health
        now = self._clock.monotonic()
        if health.ok:
            self._healthy_streak += 1
            if self._healthy_streak >= _STABLE_TICKLES:
                self._competing_reported = False
                self._lost_reported = False
                self._backoff = self._base_backoff
            self._next_reinit_at = None
            return self._interval
        self._healthy_streak = 0
        if health.competing:
            if not self._competing_reported:
                # Another login just took the session: leave it alone for a while.
                self._report_competing()
                self._schedule_reinit(now)
        elif not self._lost_reported:
            self._lost_reported = True
            self._events.session_lost(health.message or "brokerage session not authenticated")
            self._next_reinit_at = now  # nightly reset: re-init at once
        if self._next_reinit_at is None:
            self._schedule_reinit(now)
        assert self._next_reinit_at is not None
        if now >= self._next_reinit_at:
            try:
                health = await self.init()
            except SkimdError as exc:
                log.warning("ibkr_session_reinit_failed", error=str(exc))
                health = self.health
            if health.ok:
                self._next_reinit_at = None
                return self._interval
            self._schedule_reinit(self._clock.monotonic())
        assert self._next_reinit_at is not None
        return max(1.0, min(self._interval, self._next_reinit_at - self._clock.monotonic()))

    def _schedule_reinit(self, now: float) -> None:
        self._next_reinit_at = now + self._backoff
        self._backoff = min(self._backoff * 2, self._max_backoff)

    def _report_competing(self) -> None:
        if not self._competing_reported:
            self._competing_reported = True
            self._events.session_competing()
