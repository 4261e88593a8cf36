"""Start-up memory: a daemon without a Discord webhook never loads discord-webhook/requests.

Checked in a fresh interpreter (this test process has imported everything already).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import io, sys
    from datetime import UTC, datetime
    import httpx
    from pydantic import SecretStr
    from skimd.clock import SimulatedClock
    from skimd.config import NotificationSettings, Settings
    from skimd.infrastructure.notifications import build_notifier

    heavy = ("skimd.infrastructure.notifications.discord", "discord_webhook", "requests")
    clock = SimulatedClock(datetime(2024, 6, 3, tzinfo=UTC))
    http = httpx.AsyncClient()
    build_notifier(Settings(), clock=clock, http_client=http, stdout=io.StringIO())
    print("without:", [m for m in heavy if m in sys.modules])

    url = SecretStr("https://discord.com/api/webhooks/1/t0ken")
    build_notifier(Settings(notifications=NotificationSettings(discord_webhook_url=url)),
                   clock=clock, http_client=http, stdout=None)
    print("built:", [m for m in heavy if m in sys.modules])

    from skimd.infrastructure.notifications.discord_messages import build_payload
    from skimd.infrastructure.notifications.discord_limits import MessageSpec
    body, _ = build_payload(MessageSpec(content="hi"), username="skimd")
    print("sent:", [m for m in heavy if m in sys.modules], body["content"])
    """
)


def test_discord_webhook_and_requests_load_only_when_a_webhook_is_used() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "without: []",
        "built: ['skimd.infrastructure.notifications.discord']",
        "sent: ['skimd.infrastructure.notifications.discord', 'discord_webhook', 'requests'] hi",
    ]
