"""DiscordNotifier against the loopback fake Discord (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
import structlog
from PIL import Image
from pydantic import SecretStr

from skimd.config import NotificationSettings, Settings
from skimd.domain.alerts import (
    BrokerSessionLost,
    BrokerSessionStillDown,
    OrderFilled,
    OrderRejected,
    PositionExited,
    ReconciliationDigest,
    ReconciliationRow,
    TradeableCandidate,
)
from skimd.domain.market import PricePoint
from skimd.domain.trading import ExitReason
from skimd.errors import (
    AlertRejectedError,
    NotificationDeliveryError,
    NotifierDisabledError,
    NotifierRetryAfter,
)
from skimd.infrastructure.notifications import build_notifier
from skimd.infrastructure.notifications.discord import DiscordNotifier
from skimd.services.alerts import leaf_notifiers
from tests.fakes.discord_server import Canned, FakeDiscord
from tests.fakes.notifiers import SleepAdvancesClock

T = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
SYDNEY = ZoneInfo("Australia/Sydney")
PATH = tuple(
    PricePoint(at=T + timedelta(minutes=i), price=Decimal("1.20") + Decimal(i % 7) / 200)
    for i in range(45)
)
FILL = OrderFilled(occurred_at=T, symbol="BHP", side="BUY", quantity=100, client_order_id="c-1",
                   price=Decimal("45.10"))


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def clock() -> SleepAdvancesClock:
    return SleepAdvancesClock(T)


def notifier(discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock,
             **kwargs: object) -> DiscordNotifier:
    return DiscordNotifier(discord.url, http_client=http, clock=clock, tz=SYDNEY, **kwargs)  # type: ignore[arg-type]


async def test_candidate_chart_is_attached_as_png(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    alert = TradeableCandidate(occurred_at=T, symbol="XYZ", prev_close=Decimal("1.10"),
                               orh=Decimal("1.23"), orl=Decimal("1.20"), entry=Decimal("1.235"),
                               stop=Decimal("1.195"), path=PATH)
    await notifier(discord, http, clock).send(alert)
    (request,) = discord.requests
    assert request.status == 204
    assert request.headers["content-type"].startswith("multipart/form-data")
    (upload,) = request.files
    assert upload.filename == "tradeable_candidate-XYZ-20240603T000000.png"
    assert upload.content_type == "image/png"
    assert upload.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(upload.data)).size == (800, 420)
    (embed,) = request.embeds
    assert embed["image"]["url"] == f"attachment://{upload.filename}"
    assert embed["color"] == 0x3498DB
    assert request.payload is not None
    assert request.payload["allowed_mentions"] == {"parse": []}


async def test_closed_trade_chart_is_attached(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    alert = PositionExited(occurred_at=T + timedelta(hours=1), symbol="XYZ", quantity=1000,
                           entry_price=Decimal("1.215"), exit_price=Decimal("1.195"),
                           entry_at=PATH[5].at, exit_at=PATH[40].at, reason=ExitReason.STOP,
                           pnl=Decimal("-20"), stop=Decimal("1.195"), path=PATH)
    await notifier(discord, http, clock).send(alert)
    (upload,) = discord.requests[0].files
    assert upload.filename == "position_exited-XYZ-20240603T010000.png"
    assert upload.data[:4] == b"\x89PNG"
    assert discord.requests[0].embeds[0]["title"].startswith("🛑 Stop hit")


async def test_oversized_alert_is_split_never_rejected(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    reason = " ".join(f"reason-part-{i:04d}" for i in range(1500))  # ~25 000 chars
    alert = BrokerSessionLost(occurred_at=T, broker="ibkr", reason=reason)
    await notifier(discord, http, clock).send(alert)
    assert discord.violations == []
    assert len(discord.requests) > 1
    assert all(r.status == 204 for r in discord.requests)
    fields = [f for r in discord.requests for e in r.embeds for f in e.get("fields", [])]
    reason_text = "".join(f["value"] for f in fields if f["name"].startswith("Reason"))
    assert reason_text == reason  # continued across fields/embeds/messages, nothing cut


async def test_429_waits_retry_after_on_the_clock_then_retries(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(429, {"message": "rate limited", "retry_after": 2.5, "global": False}))
    await notifier(discord, http, clock).send(FILL)
    assert [r.status for r in discord.requests] == [429, 204]
    assert clock.sleeps == [2.5]


async def test_ratelimit_headers_pace_the_next_request(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(204, None, {"X-RateLimit-Remaining": "0",
                                      "X-RateLimit-Reset-After": "1.75"}))
    n = notifier(discord, http, clock)
    await n.send(FILL)
    assert clock.sleeps == []
    await n.send(FILL)
    assert clock.sleeps == [1.75]
    assert len(discord.accepted()) == 2


async def test_long_429_is_handed_back_to_the_outbox_not_waited(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(429, {"retry_after": 120.0}))
    with pytest.raises(NotifierRetryAfter) as caught:
        await notifier(discord, http, clock, max_inline_wait_s=5).send(FILL)
    assert caught.value.retry_after == pytest.approx(120.0)
    assert len(discord.requests) == 1 and clock.sleeps == []


async def test_429_retries_are_bounded(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(*[Canned(429, {"retry_after": 0.5})] * 10)
    with pytest.raises(NotifierRetryAfter):
        await notifier(discord, http, clock, max_rate_limit_retries=3).send(FILL)
    assert len(discord.requests) == 4


async def test_revoked_webhook_is_disabled_and_secret_never_leaks(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.revoke()
    n = notifier(discord, http, clock)
    with structlog.testing.capture_logs() as logs, pytest.raises(NotifierDisabledError) as first:
        await n.send(FILL)
    with pytest.raises(NotifierDisabledError) as second:
        await n.send(FILL)
    assert len(discord.requests) == 1  # no invalid-request storm
    assert n.disabled_reason == "HTTP 404"
    assert any(e["log_level"] == "error" for e in logs)
    for text in (str(first.value), str(second.value), repr(n), repr(logs)):
        assert discord.token not in text


async def test_400_falls_back_to_plain_text(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(400, {"message": "Invalid Form Body", "code": 50035}))
    await notifier(discord, http, clock).send(FILL)
    assert [r.status for r in discord.requests] == [400, 204]
    plain = discord.requests[1].payload
    assert plain is not None
    assert plain.get("embeds", []) == []
    assert "BUY 100 BHP" in plain["content"]


async def test_repeated_400s_reject_then_disable(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(*[Canned(400, {"message": "Invalid Form Body", "code": 50035})] * 6)
    n = notifier(discord, http, clock, max_bad_requests=3)
    with pytest.raises(AlertRejectedError):
        await n.send(FILL)  # embed 400 + plain 400
    with pytest.raises((AlertRejectedError, NotifierDisabledError)):
        await n.send(FILL)  # third 400 disables
    sent = len(discord.requests)
    with pytest.raises(NotifierDisabledError):
        await n.send(FILL)
    assert len(discord.requests) == sent == 3


async def test_server_errors_and_refused_connections_are_transient(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(502, {"message": "bad gateway"}))
    n = notifier(discord, http, clock)
    with pytest.raises(NotificationDeliveryError, match="HTTP 502"):
        await n.send(FILL)
    dead = DiscordNotifier("http://127.0.0.1:9/api/webhooks/1/t0ken-secret", http_client=http,
                           clock=clock, tz=SYDNEY)
    with pytest.raises(NotificationDeliveryError) as caught:
        await dead.send(FILL)
    assert "t0ken-secret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_critical_alerts_also_go_to_the_critical_webhook(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    critical_url = discord.add_webhook("999", "crit-t0ken")
    settings = NotificationSettings(
        console=False,
        discord_webhook_url=SecretStr(discord.url),
        discord_critical_webhook_url=SecretStr(critical_url),
    )
    fan = build_notifier(Settings(notifications=settings), clock=clock, http_client=http,
                         stdout=None)
    assert [n.name for n in leaf_notifiers(fan)] == ["discord", "discord-critical"]
    await fan.send(FILL)
    await fan.send(BrokerSessionStillDown(occurred_at=T, broker="ibkr", reason="competing",
                                          down_since=T, after_min=10,
                                          taken_by_other_login=True))
    assert len(discord.accepted()) == 2
    (crit,) = discord.accepted("999")
    assert crit.payload is not None and crit.payload["content"].startswith("🚨")
    assert crit.embeds[0]["color"] == 0xE74C3C


async def test_rejected_order_colour_and_fields(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    alert = OrderRejected(occurred_at=T, symbol="BHP", side="BUY", quantity=5,
                          client_order_id="c-9", reason="price band")
    await notifier(discord, http, clock).send(alert)
    (embed,) = discord.requests[0].embeds
    assert embed["color"] == 0xF1C40F
    assert {"name": "Reason", "value": "price band", "inline": False} in embed["fields"]


RECONCILIATION = ReconciliationDigest(
    occurred_at=T,
    trading_day=date(2024, 6, 3),
    rows=(ReconciliationRow.compare("BHP", 100, 100, 100),
          ReconciliationRow.compare("CBA", 50, 0, 50)),
    clean=False,
    notes=("CBA flat at the broker; entries paused",),
)


@pytest.mark.parametrize("charts", [True, False])
async def test_reconciliation_csv_is_attached_to_the_embed(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock, charts: bool
) -> None:
    await notifier(discord, http, clock, charts=charts).send(RECONCILIATION)
    (request,) = discord.requests
    assert request.status == 204 and discord.violations == []
    assert request.headers["content-type"].startswith("multipart/form-data")
    (upload,) = request.files
    assert (upload.field, upload.filename) == ("files[0]", "reconciliation-2024-06-03.csv")
    assert upload.content_type == "text/csv"
    assert upload.data.decode("utf-8") == (
        "ticker,db_qty,broker_qty,executions_qty,status\n"
        "BHP,100,100,100,ok\n"
        "CBA,50,0,50,mismatch\n"
    )
    assert request.payload is not None
    assert request.payload["attachments"] == [
        {"id": 0, "filename": "reconciliation-2024-06-03.csv"}]
    (embed,) = request.embeds
    assert embed["title"] == "🧮 Reconciliation 2024-06-03: 1 mismatch"
    assert "CBA" in embed["description"] and "image" not in embed
    assert embed["color"] == 0xF1C40F


async def test_reconciliation_plain_fallback_keeps_the_table_in_text(
    discord: FakeDiscord, http: httpx.AsyncClient, clock: SleepAdvancesClock
) -> None:
    discord.script(Canned(400, {"message": "Invalid Form Body", "code": 50035}))
    await notifier(discord, http, clock).send(RECONCILIATION)
    assert [r.status for r in discord.requests] == [400, 204]
    assert len(discord.requests[0].files) == 1
    plain = discord.requests[1]
    assert plain.files == [] and plain.payload is not None
    assert "CBA" in plain.payload["content"] and "BHP" in plain.payload["content"]
