"""The daemon's control channel end to end in one process: an App built by bootstrap on a
simulated clock runs (supervisor, scheduler, store, outbox) and a real client talks to it
over its socket from a worker thread, as a second process would."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import Settings, load_settings
from skimd.errors import DaemonReplyError, DaemonUnavailableError
from skimd.infrastructure.control.client import ControlClient
from tests.fakes.notifiers import RecordingNotifier

# Tuesday 24 Nov 2026, 09:40 in Sydney: a trading day, before the open, news window open
MORNING = datetime(2026, 11, 23, 22, 40, tzinfo=UTC)
T = TypeVar("T")


def daemon_test(
    settings: Settings, body: Callable[[bootstrap.App, ControlClient], Awaitable[T]]
) -> T:
    """Run ``body`` against a running daemon; stop it afterwards."""

    async def scenario() -> T:
        app = bootstrap.build(
            settings,
            access=bootstrap.Access.EXCLUSIVE,
            clock=SimulatedClock(MORNING),
            notifier=RecordingNotifier("recording"),
            environ={},
            create_database=True,
        )
        async with app:
            server = app.control_server
            running = asyncio.create_task(app.run(install_signals=False))
            while not server.listening:
                assert not running.done(), running
                await asyncio.sleep(0)
            try:
                return await body(app, ControlClient(server.path))
            finally:
                app.supervisor.request_stop("test over")
                await running

    return asyncio.run(scenario())


async def call(client: ControlClient, cmd: str, args: dict[str, Any] | None = None) -> Any:
    return await asyncio.to_thread(client.call, cmd, args)


@pytest.fixture
def settings(make_config, clean_env: None, tmp_path: Path) -> Settings:  # type: ignore[no-untyped-def]
    cfg = make_config("[notifications]\nconsole = false\n")
    text = cfg.read_text(encoding="utf-8").replace(
        "[paths]\n", f'[paths]\nruntime_dir = "{tmp_path / "run"}"\n'
    )
    cfg.write_text(text, encoding="utf-8")
    return load_settings(cfg, {})


def test_the_socket_lives_in_the_runtime_dir_and_goes_with_the_daemon(
    settings: Settings, tmp_path: Path
) -> None:
    path = bootstrap.control_socket_path(settings)
    assert path == tmp_path / "run" / "skimd.sock"

    async def body(app: bootstrap.App, client: ControlClient) -> dict[str, Any]:
        assert path.is_socket()
        report: dict[str, Any] = await call(client, "status")
        return report

    report = daemon_test(settings, body)
    assert report["daemon"].startswith("running") and report["pid"] == os.getpid()
    assert {j["job"] for j in report["jobs"]} >= {"warmup", "sync", "end_of_day"}
    assert not path.exists()
    with pytest.raises(DaemonUnavailableError, match=str(path)):
        ControlClient(path).call("status")


def test_the_kill_switch_is_thrown_by_the_daemon_with_who_asked(settings: Settings) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, Any, Any, Any]:
        locked = await call(client, "guard.lock", {"reason": "news halt"})
        again = await call(client, "guard.lock", {"reason": "twice"})
        status = await call(client, "guard.status")
        stored = app.kill_switch.state()
        return locked, again, status, stored

    locked, again, status, stored = daemon_test(settings, body)
    assert locked["locked"] is True and locked["changed"] is True
    assert locked["reason"] == "news halt"
    assert again["changed"] is False and again["reason"] == "news halt"
    assert status == {k: locked[k] for k in ("locked", "reason", "changed_at")}
    assert stored.locked and stored.reason == "news halt"


def test_jobs_and_run_job_go_through_the_supervisor(settings: Settings) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, Any, Any]:
        jobs = await call(client, "jobs")
        ran = await asyncio.to_thread(client.call, "run-job", {"name": "news"})
        after = {j["job"]: j for j in await call(client, "jobs")}
        return jobs, ran, after

    jobs, ran, after = daemon_test(settings, body)
    ids = [j["job"] for j in jobs]
    assert "news" in ids and "outbox" not in ids and "status_line" not in ids
    assert all(j["next_run"] for j in jobs)
    assert ran["job"] == "news" and ran["outcome"] == "ok", ran
    assert after["news"]["last_outcome"] == "ok"
    assert after["news"]["last_finished_at"] == ran["finished_at"]


def test_bad_requests_are_refused_by_name(settings: Settings) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> list[DaemonReplyError]:
        errors = []
        for cmd, args in (
            ("run-job", {"name": "nope"}),
            ("shutdown", {}),
            ("guard.lock", {"reason": "x", "by": "root"}),
            ("guard.lock", {"reason": "   "}),
        ):
            with pytest.raises(DaemonReplyError) as caught:
                await call(client, cmd, args)
            errors.append(caught.value)
        return errors

    errors = daemon_test(settings, body)
    assert [e.exit_code for e in errors] == [65, 65, 65, 65]
    assert "no job named 'nope'" in str(errors[0]) and "news" in str(errors[0])
    assert "unknown command 'shutdown'" in str(errors[1])
    assert "unknown argument(s) by" in str(errors[2])
    assert "must not be blank" in str(errors[3])


def test_tail_streams_alerts_as_stored_and_job_runs_as_they_finish(settings: Settings) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> list[dict[str, Any]]:
        alerts = client.stream("tail", {"kind": "guard_tripped"})
        jobs = client.stream("tail", {"kind": "job"})
        first_alert = asyncio.create_task(asyncio.to_thread(next, alerts))
        first_job = asyncio.create_task(asyncio.to_thread(next, jobs))
        while app.control_events.subscribers < 2:  # both tails are listening
            await asyncio.sleep(0)
        await call(client, "guard.lock", {"reason": "tail me"})
        await call(client, "run-job", {"name": "news"})
        got = [await first_alert, await first_job]
        alerts.close()
        jobs.close()
        while app.control_events.active:  # the daemon noticed both tails went away
            await asyncio.sleep(0)
        return got

    alert, job = daemon_test(settings, body)
    assert alert["kind"] == "alert" and alert["alert"] == "guard_tripped"
    assert alert["severity"] == "warning" and "tail me" in alert["text"]  # operator's lock
    assert alert["at"].startswith("2026-11-24T09:40")
    assert job["kind"] == "job" and job["job"] == "news" and job["outcome"] == "ok"


def _journaled(app: bootstrap.App) -> list[tuple[int, str, str]]:
    with app.trading.ctx.store.read() as tx:
        return [(r.uid, r.action, r.detail) for r in tx.control_actions()]


def test_pause_and_resume_go_through_the_operator_journaled_with_the_callers_uid(
    settings: Settings,
) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, ...]:
        paused = await call(client, "pause", {"ticker": "xyz", "reason": "news pending"})
        status = await call(client, "status")
        resumed = await call(client, "resume", {"ticker": "XYZ"})
        with pytest.raises(DaemonReplyError) as again:
            await call(client, "resume", {"ticker": "XYZ"})
        return paused, status, resumed, again.value, _journaled(app), app

    paused, status, resumed, again, journal, app = daemon_test(settings, body)
    assert "XYZ" in paused["lines"][0]
    (pause,) = status["paused_tickers"]
    assert (pause["ticker"], pause["uid"], pause["reason"]) == ("XYZ", os.getuid(), "news pending")
    assert "XYZ" in resumed["lines"][0]
    assert again.exit_code == 65 and "XYZ is not paused" in str(again)
    assert [(uid, action) for uid, action, _ in journal] == [
        (os.getuid(), "pause"), (os.getuid(), "resume")
    ]
    kinds = [a.kind for a in app.notifier.received]
    assert kinds.count("control_action") == 2  # one per action; the refused resume none


def test_flatten_over_the_socket_names_a_ticker_with_no_position_and_writes_nothing(
    settings: Settings,
) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, ...]:
        with pytest.raises(DaemonReplyError) as unknown:
            await call(client, "flatten", {"tickers": ["ZZZ"], "reason": "test"})
        everything = await call(client, "flatten", {"reason": "nothing open"})
        return unknown.value, everything, _journaled(app)

    unknown, everything, journal = daemon_test(settings, body)
    assert unknown.exit_code == 65 and "ZZZ" in str(unknown)
    assert everything["lines"] == []
    assert [action for _, action, _ in journal] == ["flatten"]  # the --all, not the refusal


def test_a_guard_lock_and_a_job_run_are_journaled_and_the_lock_alerts_once(
    settings: Settings,
) -> None:
    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, ...]:
        locked = await call(client, "guard.lock", {"reason": "halt"})
        ran = await asyncio.to_thread(client.call, "run-job", {"name": "news"})
        return locked, ran, _journaled(app), app

    locked, ran, journal, app = daemon_test(settings, body)
    assert "note" not in locked and "note" not in ran  # both journaled
    assert [(uid, action, detail) for uid, action, detail in journal] == [
        (os.getuid(), "guard lock", "halt"), (os.getuid(), "run-job", "news")
    ]
    kinds = [a.kind for a in app.notifier.received]
    assert kinds.count("guard_tripped") == 1
    assert kinds.count("control_action") == 1  # the job run; the lock's own alert names who


def test_tape_answers_the_prices_the_daemon_has_seen_today(settings: Settings) -> None:
    """What skimd web draws a candidate's opening-range chart from: the trading day's own
    price tape, oldest first, with the volume traded between points."""
    from decimal import Decimal

    async def body(app: bootstrap.App, client: ControlClient) -> tuple[Any, Any]:
        ctx = app.trading.ctx
        day = ctx.today()
        for minute, price, volume in ((0, "1.20", 1000), (1, "1.24", 1600)):
            at = MORNING.replace(hour=23, minute=minute)
            ctx.tape.record(day, "VPL", at, Decimal(price), volume)
        return await call(client, "tape", {"ticker": "vpl"}), await call(
            client, "tape", {"ticker": "QMT"})

    seen, none = daemon_test(settings, body)
    assert seen == {
        "ticker": "VPL",
        "path": [["2026-11-23T23:00:00+00:00", "1.20"], ["2026-11-23T23:01:00+00:00", "1.24"]],
        "volumes": [["2026-11-23T23:01:00+00:00", 600]],
    }
    assert none == {"ticker": "QMT", "path": [], "volumes": []}
