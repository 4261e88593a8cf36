"""Dead-man's-switch heartbeat: a GET to a monitoring URL while the daemon is healthy.

Services like healthchecks.io alert the trader when the pings stop, which covers what an
alert cannot: the host is down, the process hung, the network is gone. A ping is sent only
when ``is_healthy()`` says so; an unhealthy daemon stays silent on purpose so the monitor
fires. The URL is a secret (it lets anyone silence the monitor): never logged or repr'd.
Failures are logged and counted, never raised into the supervisor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import structlog
from pydantic import SecretStr

from skimd.clock import Clock

log = structlog.get_logger(__name__)


class Heartbeat:
    def __init__(
        self,
        url: SecretStr | str,
        *,
        interval_s: float,
        http_client: httpx.AsyncClient,
        clock: Clock,
        is_healthy: Callable[[], bool],
        timeout_s: float = 10.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("heartbeat interval must be positive")
        self._url = url if isinstance(url, SecretStr) else SecretStr(url)
        self._interval = interval_s
        self._http = http_client
        self._clock = clock
        self._is_healthy = is_healthy
        self._timeout = timeout_s
        self._stopping = asyncio.Event()
        self.sent = 0
        self.failed = 0
        self.skipped = 0

    def __repr__(self) -> str:
        return f"Heartbeat(url=**********, interval_s={self._interval})"

    @property
    def interval_s(self) -> float:
        return self._interval

    async def beat_once(self) -> bool:
        """Ping if healthy; True when the monitor acknowledged (2xx)."""
        try:
            healthy = self._is_healthy()
        except Exception as exc:  # a broken health probe means unhealthy, not a crash
            log.error("heartbeat health check raised", error=repr(exc))
            healthy = False
        if not healthy:
            self.skipped += 1
            log.warning("heartbeat skipped: daemon unhealthy")
            return False
        try:
            response = await self._http.get(self._url.get_secret_value(), timeout=self._timeout)
        except httpx.HTTPError as exc:
            self.failed += 1
            log.warning("heartbeat ping failed", error=type(exc).__name__)
            return False
        if not 200 <= response.status_code < 300:
            self.failed += 1
            log.warning("heartbeat ping refused", status=response.status_code)
            return False
        self.sent += 1
        return True

    async def run(self) -> None:
        """Ping every interval until :meth:`stop`; the first ping goes out immediately."""
        self._stopping.clear()
        while not self._stopping.is_set():
            await self.beat_once()
            sleeper = asyncio.ensure_future(self._clock.sleep(self._interval))
            stopper = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                stopper.cancel()

    def stop(self) -> None:
        self._stopping.set()
