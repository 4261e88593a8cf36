from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from skimd.clock import SimulatedClock
from skimd.config import MarketSettings, NotificationSettings, Settings
from skimd.domain.alerts import DaemonStarted, DaemonStopping
from skimd.errors import NotificationDeliveryError
from skimd.infrastructure.notifications import build_heartbeat, build_notifier
from skimd.infrastructure.notifications.discord import DiscordNotifier
from skimd.services.alerts import OutboxSender, enqueue, leaf_notifiers, send_now
from tests.fakes.notifiers import RecordingNotifier
from tests.fakes.outbox_store import InMemoryOutbox

T = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
STARTED = DaemonStarted(occurred_at=T, version="0.1.0", broker="demo")


async def test_builds_console_and_jsonl_members_in_market_time(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = Settings(notifications=NotificationSettings(jsonl_file=tmp_path / "a.jsonl"))
    async with httpx.AsyncClient() as http:
        fan = build_notifier(settings, clock=SimulatedClock(T), http_client=http, stdout=out)
        assert [n.name for n in leaf_notifiers(fan)] == ["console", "jsonl"]
        await fan.send(STARTED)
    assert out.getvalue().startswith("10:00:00 INFO daemon_started")
    assert (tmp_path / "a.jsonl").read_text().count("\n") == 1


async def test_console_times_read_in_the_configured_market_zone() -> None:
    out = io.StringIO()
    settings = Settings(market=MarketSettings(timezone="Europe/London"))
    async with httpx.AsyncClient() as http:
        fan = build_notifier(settings, clock=SimulatedClock(T), http_client=http, stdout=out)
        await fan.send(STARTED)
    assert out.getvalue().startswith("01:00:00 INFO daemon_started")  # BST in June


async def test_discord_members_hide_their_urls() -> None:
    url = "https://discord.com/api/webhooks/1/very-secret-token"
    settings = Settings(
        notifications=NotificationSettings(
            console=False, discord_webhook_url=SecretStr(url), discord_min_severity="warning"
        )
    )
    async with httpx.AsyncClient() as http:
        fan = build_notifier(settings, clock=SimulatedClock(T), http_client=http, stdout=None)
        (member,) = leaf_notifiers(fan)
        assert isinstance(member, DiscordNotifier)
        assert "very-secret-token" not in repr(member)
        await fan.send(STARTED)  # info is below warning: the policy sends nothing, no failure


async def test_heartbeat_is_optional() -> None:
    async with httpx.AsyncClient() as http:
        clock = SimulatedClock(T)
        assert (
            build_heartbeat(
                NotificationSettings(), clock=clock, http_client=http, is_healthy=lambda: True
            )
            is None
        )
        beat = build_heartbeat(
            NotificationSettings(
                heartbeat_url=SecretStr("https://hc.example/x"), heartbeat_interval_min=2
            ),
            clock=clock,
            http_client=http,
            is_healthy=lambda: True,
        )
        assert beat is not None and beat.interval_s == 120


async def test_wake_from_another_thread_delivers() -> None:
    outbox = InMemoryOutbox()
    console = RecordingNotifier("console")
    sender = OutboxSender(outbox, [console], clock=SimulatedClock(T))
    await sender.run_once()  # binds the loop, as the first scheduled run does
    with outbox.unit_of_work() as uow:
        enqueue(uow, STARTED)
    await asyncio.to_thread(sender.wake)  # e.g. a commit made in a worker thread
    await asyncio.sleep(0)
    await sender.wait_idle()
    assert console.received == [STARTED]


async def test_send_now_never_raises() -> None:
    broken = RecordingNotifier("discord")
    broken.failure = NotificationDeliveryError("down")
    errors: list[str] = []
    stopping = DaemonStopping(occurred_at=T, reason="database unavailable", exit_code=70)
    assert await send_now(broken, stopping, on_error=errors.append) is False
    assert errors == ["NotificationDeliveryError: down"]
    assert await send_now(RecordingNotifier("console"), stopping) is True
