"""Every alert kind as Discord receives it, read on a phone: code blocks no wider than
:data:`PHONE_WIDTH`, no field that says nothing, and Discord's limits kept (the loopback
server refuses what the real one would)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from skimd.domain.alert_tables import PHONE_WIDTH
from skimd.domain.alerts import ALERT_TYPES, Alert
from skimd.domain.formatting import MISSING
from skimd.infrastructure.notifications.discord import DiscordNotifier
from skimd.infrastructure.notifications.discord_limits import ZERO_WIDTH
from tests.fakes.alert_samples import every_kind, hard_for_a_phone
from tests.fakes.discord_server import FakeDiscord, Recorded
from tests.fakes.notifiers import SleepAdvancesClock

SYDNEY = ZoneInfo("Australia/Sydney")
SAMPLES = [*every_kind(), *hard_for_a_phone()]


@pytest.fixture
def discord() -> Iterator[FakeDiscord]:
    with FakeDiscord() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def columns(line: str) -> int:
    """Monospaced columns, counted independently of the code under test: wide characters
    two, everything else (marks included) at least one."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def code_block_lines(text: str) -> list[str]:
    """Lines inside ``` fences (an unclosed fence would be a bug of its own)."""
    parts = text.split("```")
    assert len(parts) % 2 == 1, f"unbalanced code fence in {text!r}"
    return [line for block in parts[1::2] for line in block.splitlines()]


def texts(request: Recorded) -> list[str]:
    payload = request.payload or {}
    found = [payload.get("content") or ""]
    for embed in payload.get("embeds", []):
        found.append(embed.get("description") or "")
        found.extend(f["value"] for f in embed.get("fields", []))
    return found


def test_every_registered_kind_has_a_sample() -> None:
    assert sorted(set(ALERT_TYPES) - {a.kind for a in SAMPLES}) == []


@pytest.mark.parametrize("alert", SAMPLES, ids=lambda a: f"{a.kind}")
async def test_discord_payload_reads_on_a_phone(
    alert: Alert, discord: FakeDiscord, http: httpx.AsyncClient
) -> None:
    clock = SleepAdvancesClock(datetime(2024, 6, 3, tzinfo=UTC))
    notifier = DiscordNotifier(discord.url, http_client=http, clock=clock, tz=SYDNEY)
    await notifier.send(alert)
    assert discord.violations == []
    assert discord.requests and all(r.status == 204 for r in discord.requests)
    wide = [
        line
        for r in discord.requests
        for text in texts(r)
        for line in code_block_lines(text)
        if columns(line) > PHONE_WIDTH
    ]
    assert wide == []
    fields: list[dict[str, Any]] = [
        f for r in discord.requests for e in r.embeds for f in e.get("fields", [])
    ]
    assert [f for f in fields if f["value"].strip() in ("", MISSING, ZERO_WIDTH)] == []
    payloads = json.dumps([r.payload for r in discord.requests], ensure_ascii=False)
    assert "SK20240603-BHP" not in payloads and "99887766" not in payloads  # ids stay off
