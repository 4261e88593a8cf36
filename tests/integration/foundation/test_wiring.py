"""bootstrap wires the daemon's plumbing jobs from Settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import load_settings
from skimd.runtime import _close_all


def test_database_outbox_and_heartbeat_jobs_are_wired(make_config, clean_env: None) -> None:
    cfg = make_config()
    env = {"SKIMD__NOTIFICATIONS__HEARTBEAT_URL": "http://127.0.0.1:9/ping-secret"}
    settings = load_settings(cfg, env)
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    daemon = bootstrap.build_daemon(
        settings, clock=clock, environ={}, with_database=True, create_database=True
    )
    try:
        ids = daemon.supervisor.jobs.ids()
        assert {"outbox", "heartbeat", "status_line"} <= set(ids)
        assert Path(daemon.data_dir / settings.database.filename).exists()
    finally:
        asyncio.run(_close_all(daemon.closers))
        daemon.lock.release()


def test_without_heartbeat_url_there_is_no_heartbeat_job(make_config, clean_env: None) -> None:
    settings = load_settings(make_config(), {})
    clock = SimulatedClock(datetime(2026, 11, 24, tzinfo=UTC))
    daemon = bootstrap.build_daemon(
        settings, clock=clock, environ={}, with_database=True, create_database=True
    )
    try:
        assert "heartbeat" not in daemon.supervisor.jobs.ids()
        assert "outbox" in daemon.supervisor.jobs.ids()
    finally:
        asyncio.run(_close_all(daemon.closers))
        daemon.lock.release()
