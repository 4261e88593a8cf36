"""A demo day pointed at a Discord webhook must be polite: the loopback fake Discord
enforces Discord's webhook bucket (5 requests per 2 s, in real time), and the demo's
simulated clock must not turn Discord's waits into bursts of rate-limited retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.demo_runs import DISCORD_BUCKET, open_demo_db, run_demo, webhook_config
from tests.fakes.discord_server import FakeDiscord


@pytest.mark.slow
def test_a_demo_day_draws_at_most_one_429_and_loses_nothing(tmp_path: Path) -> None:
    with FakeDiscord(bucket=DISCORD_BUCKET) as discord:
        done = run_demo(webhook_config(tmp_path / "demo", discord.url), "--seed", "7", "--json")
        requests = list(discord.requests)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    limited = [r for r in requests if r.status == 429]
    accepted = [r for r in requests if 200 <= r.status < 300]
    assert len(limited) <= 1, f"{len(limited)} rate-limited requests of {len(requests)}"
    assert not discord.violations
    with open_demo_db(tmp_path / "demo") as db, db.unit_of_work(read_only=True) as uow:
        rows = uow.outbox.list_all()  # type: ignore[attr-defined]
        pending = [r for r in rows if r.status != "delivered"]  # type: ignore[attr-defined]
    assert not pending, f"{len(pending)} alerts never reached Discord"
    assert summary["alerts"] == len(rows) and accepted
    # order preserved: the alert times in the embeds' timestamps never go backwards
    stamps = [e["timestamp"] for r in accepted for e in r.embeds[:1] if "timestamp" in e]
    assert stamps == sorted(stamps)
