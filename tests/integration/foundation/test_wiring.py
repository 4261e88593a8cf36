"""bootstrap.build: the App's parts, access modes, overrides and ordered shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import load_settings
from skimd.errors import InstanceLockedError
from skimd.infrastructure.brokers.events import NullBrokerEvents
from skimd.infrastructure.brokers.factory import build_demo_broker
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from tests.fakes.notifiers import RecordingNotifier

CLOCK_START = datetime(2026, 11, 24, tzinfo=UTC)


def _exclusive(settings, **overrides) -> bootstrap.App:  # type: ignore[no-untyped-def]
    return bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=SimulatedClock(CLOCK_START),
        environ={},
        create_database=True,
        **overrides,
    )


def test_database_outbox_and_heartbeat_jobs_are_wired(make_config, clean_env: None) -> None:
    cfg = make_config()
    env = {"SKIMD__NOTIFICATIONS__HEARTBEAT_URL": "http://127.0.0.1:9/ping-secret"}
    settings = load_settings(cfg, env)

    async def scenario() -> list[str]:
        async with _exclusive(settings) as app:
            ids = app.supervisor.jobs.ids()
            assert Path(app.data_dir / settings.database.filename).exists()
            return ids

    ids = asyncio.run(scenario())
    assert {"outbox", "heartbeat", "status_line", "watch", "end_of_day"} <= set(ids)


def test_without_heartbeat_url_there_is_no_heartbeat_job(make_config, clean_env: None) -> None:
    settings = load_settings(make_config(), {})

    async def scenario() -> list[str]:
        async with _exclusive(settings) as app:
            return app.supervisor.jobs.ids()

    ids = asyncio.run(scenario())
    assert "heartbeat" not in ids and "outbox" in ids


def test_the_plan_status_shows_is_the_plan_the_daemon_schedules(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    planned = [j.id for j in bootstrap.job_plan(settings)]

    async def scenario() -> list[str]:
        async with _exclusive(settings) as app:
            return app.supervisor.jobs.ids()

    scheduled = asyncio.run(scenario())
    assert [j for j in scheduled if j in planned] == planned


def test_exclusive_takes_the_lock_first_and_releases_it_last(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})

    async def scenario() -> None:
        app = _exclusive(settings)
        assert bootstrap.daemon_pid(settings) is not None
        with pytest.raises(InstanceLockedError, match="already running"):
            _exclusive(settings)  # a second instance stops before touching anything
        app.supervisor  # noqa: B018 - builds database, broker, outbox
        await app.aclose()
        assert bootstrap.daemon_pid(settings) is None

    asyncio.run(scenario())


def test_shared_needs_no_lock_and_refuses_to_trade(make_config, clean_env: None) -> None:
    settings = load_settings(make_config(), {})

    async def scenario() -> None:
        async with _exclusive(settings) as daemon:
            daemon.store  # noqa: B018 - the database exists and is migrated
            with bootstrap.build(settings, access=bootstrap.Access.SHARED) as reader:
                assert reader.kill_switch.state().locked is False
                with pytest.raises(RuntimeError, match="EXCLUSIVE"):
                    reader.trading  # noqa: B018

    asyncio.run(scenario())


def test_overrides_replace_what_settings_would_build_and_stay_the_callers(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    clock = SimulatedClock(CLOCK_START)
    broker = build_demo_broker(
        settings,
        clock=clock,
        events=NullBrokerEvents(),
        identifier_cache=InMemoryIdentifierCache(),
        calendar=bootstrap.build_calendar(settings),
    )
    notifier = RecordingNotifier("recording")

    async def scenario() -> None:
        app = bootstrap.build(
            settings,
            access=bootstrap.Access.EXCLUSIVE,
            clock=clock,
            broker=broker,
            notifier=notifier,
            environ={},
            create_database=True,
        )
        async with app:
            assert app.trading.ctx.broker is broker
            assert app.trading.ctx.clock is clock
            assert app.news is broker  # the demo market publishes its own announcements
            await broker.connect()
        assert (await broker.health()).connected, "an override is closed by its owner"
        await broker.close()

    asyncio.run(scenario())


def test_a_sync_app_that_built_async_parts_must_be_closed_async(
    make_config, clean_env: None
) -> None:
    settings = load_settings(make_config(), {})
    app = bootstrap.build(settings, access=bootstrap.Access.SHARED)
    app.http  # noqa: B018 - an async part
    with pytest.raises(RuntimeError, match="aclose"):
        app.close()
    asyncio.run(app.aclose())


def test_the_demo_daemon_reacts_on_pushed_quotes_unless_told_not_to(
    make_config, clean_env: None
) -> None:
    from skimd.infrastructure.brokers.demo.quote_stream import DemoQuoteStream

    async def scenario(env: dict[str, str]) -> tuple[object, bool]:
        async with _exclusive(load_settings(make_config(), env)) as app:
            watch = app.quote_watch
            app.supervisor  # noqa: B018 - built: the watch is its background work
            return (None if watch is None else watch.stream), app.supervisor.idle()

    stream, idle = asyncio.run(scenario({}))
    assert isinstance(stream, DemoQuoteStream) and idle
    off, _ = asyncio.run(scenario({"SKIMD__BROKER__STREAM_QUOTES": "false"}))
    assert off is None
