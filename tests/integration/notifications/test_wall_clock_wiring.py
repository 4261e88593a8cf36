"""bootstrap wires the wall clock into the Discord notifier and the outbox sender: the
waits Discord asks for (a 429's ``retry_after``) and the outbox's back-off after a 503 run
on ``wall_clock``, while the daemon's own clock stands still. Both clocks are simulated
here; the demo passes the real clock as ``wall_clock``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr

from skimd import bootstrap
from skimd.config import DatabaseSettings, NotificationSettings, PathSettings, Settings
from skimd.domain.alerts import OrderFilled
from tests.fakes.discord_server import Canned, FakeDiscord
from tests.fakes.notifiers import SleepAdvancesClock

T0 = datetime(2026, 11, 23, 23, 5, tzinfo=UTC)
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}


def settings(data_dir: Path, webhook: str) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            passphrase=SecretStr("wall clock tests"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        notifications=NotificationSettings(
            console=False, discord_webhook_url=SecretStr(webhook), discord_charts=False
        ),
    )


async def test_discord_and_outbox_waits_run_on_the_wall_clock(tmp_path: Path) -> None:
    # both clocks jump when slept on (nothing hangs if the wiring is wrong): which one
    # recorded the sleeps shows which one the waits ran on
    day, wall = SleepAdvancesClock(T0), SleepAdvancesClock(T0)
    with FakeDiscord() as discord:
        discord.script(
            Canned(429, {"message": "You are being rate limited.", "retry_after": 1.5,
                         "global": False}),
            Canned(503, {"message": "Service Unavailable"}),
        )
        app = bootstrap.build(
            settings(tmp_path / "data", discord.url),
            access=bootstrap.Access.EXCLUSIVE,
            clock=day,
            wall_clock=wall,
            environ={},
            create_database=True,
        )
        async with app:
            app.outbox  # noqa: B018 - built first, so the commit below wakes it
            app.store_alert(
                OrderFilled(occurred_at=day.now(), symbol="VPL", side="BUY", quantity=5555,
                            client_order_id="c-1", price=Decimal("2.85"))
            )
            assert await app.outbox.flush(60)
        statuses = [r.status for r in discord.requests]
    assert statuses == [429, 503, 204]
    # Discord's retry_after, then the outbox's first back-off (2 s), both on the wall clock
    assert wall.sleeps == [1.5, 2.0]
    assert day.sleeps == [] and day.now() == T0
