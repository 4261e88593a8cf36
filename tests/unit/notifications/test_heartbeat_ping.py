from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from skimd.clock import SimulatedClock
from skimd.infrastructure.notifications.heartbeat import Heartbeat

URL = "https://hc-ping.example/8d1c-secret-uuid"
T0 = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)


def client(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_pings_every_interval_while_healthy_and_stays_silent_when_not() -> None:
    seen: list[httpx.Request] = []
    healthy = {"ok": True}
    clock = SimulatedClock(T0)
    async with client(seen) as http:
        beat = Heartbeat(
            URL, interval_s=300, http_client=http, clock=clock, is_healthy=lambda: healthy["ok"]
        )
        task = asyncio.create_task(beat.run())
        await clock.run_until(T0 + timedelta(minutes=11))  # pings at 0, 5, 10 min
        healthy["ok"] = False
        await clock.run_until(T0 + timedelta(minutes=21))  # 15, 20: skipped
        beat.stop()
        await task
    assert [r.method for r in seen] == ["GET"] * 3
    assert str(seen[0].url) == URL
    assert (beat.sent, beat.skipped) == (3, 2)
    assert "secret" not in repr(beat)


async def test_failures_are_counted_not_raised() -> None:
    seen: list[httpx.Request] = []
    async with client(seen, status=500) as http:
        beat = Heartbeat(
            URL, interval_s=60, http_client=http, clock=SimulatedClock(T0), is_healthy=lambda: True
        )
        assert await beat.beat_once() is False

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        beat2 = Heartbeat(
            URL, interval_s=60, http_client=http, clock=SimulatedClock(T0), is_healthy=lambda: True
        )
        assert await beat2.beat_once() is False
    assert beat.failed == 1 and beat2.failed == 1


async def test_a_raising_health_probe_counts_as_unhealthy() -> None:
    seen: list[httpx.Request] = []

    def probe() -> bool:
        raise RuntimeError("db gone")

    async with client(seen) as http:
        beat = Heartbeat(
            URL, interval_s=60, http_client=http, clock=SimulatedClock(T0), is_healthy=probe
        )
        assert await beat.beat_once() is False
    assert seen == []
