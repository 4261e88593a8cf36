"""The control commands through the CLI: with no daemon (the ones that need one say so,
naming the socket; status and guard fall back to the database), and against a daemon
running in this process (the CLI runs in a worker thread, as a second process would)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from skimd import bootstrap
from skimd.clock import SimulatedClock
from tests.fakes.notifiers import RecordingNotifier
from tests.integration.cli.conftest import cli, settings_of

MORNING = datetime(2026, 11, 23, 22, 40, tzinfo=UTC)  # 09:40 Sydney, a trading day
T = TypeVar("T")


@pytest.mark.parametrize(
    "command",
    [
        ("jobs",),
        ("run-job", "sync"),
        ("tail",),
        ("flatten", "--all"),
        ("flatten", "XYZ", "--reason", "news"),
        ("pause", "XYZ"),
        ("resume", "XYZ"),
    ],
)
def test_commands_that_need_a_daemon_say_none_runs_naming_the_socket(
    config: Path, command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(config, *command) == 69
    err = capsys.readouterr().err.strip()
    socket_path = bootstrap.control_socket_path(settings_of(config))
    assert err == f"skimd: no skimd daemon answers on {socket_path}"


def test_flatten_wants_a_ticker_or_all_not_both(config: Path) -> None:
    with pytest.raises(SystemExit) as neither:
        cli(config, "flatten")
    with pytest.raises(SystemExit) as both:
        cli(config, "flatten", "XYZ", "--all")
    assert neither.value.code == both.value.code == 2


def test_status_and_guard_fall_back_to_the_database_without_a_daemon(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(initialised, "guard", "lock", "--reason", "no daemon") == 0
    assert "LOCKED" in capsys.readouterr().out
    assert cli(initialised, "status", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["via"] == "database" and report["guard"]["locked"] is True


def with_daemon(config: Path, steps: Callable[[], T]) -> T:
    """Run ``steps`` (blocking CLI calls) in a worker thread while a daemon runs."""
    settings = settings_of(config)
    bootstrap.setup_logging(settings)  # the daemon's log to stderr, as the CLI's

    async def scenario() -> T:
        app = bootstrap.build(
            settings,
            access=bootstrap.Access.EXCLUSIVE,
            clock=SimulatedClock(MORNING),
            notifier=RecordingNotifier("recording"),
            environ={},
        )
        async with app:
            server = app.control_server
            running = asyncio.create_task(app.run(install_signals=False))
            while not server.listening:
                assert not running.done()
                await asyncio.sleep(0)
            try:
                return await asyncio.to_thread(steps)
            finally:
                app.supervisor.request_stop("test over")
                await running

    return asyncio.run(scenario())


def test_status_guard_jobs_and_run_job_through_a_running_daemon(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def steps() -> list[tuple[int, str, str]]:
        out = []
        for command in (
            ("status", "--json"),
            ("guard", "lock", "--reason", "via the socket"),
            ("guard", "status", "--json"),
            ("jobs",),
            ("run-job", "news"),
            ("run-job", "nope"),
        ):
            code = cli(initialised, *command)
            captured = capsys.readouterr()
            out.append((code, captured.out, captured.err))
        return out

    status, lock, guard, jobs, ran, unknown = with_daemon(initialised, steps)
    assert status[0] == 0
    report = json.loads(status[1])
    assert report["via"] == "daemon" and report["daemon"].startswith("running")
    assert lock[0] == 0 and "LOCKED" in lock[1] and "via the socket" in lock[1]
    assert guard[0] == 0 and json.loads(guard[1])["reason"] == "via the socket"
    assert jobs[0] == 0 and "news" in jobs[1] and "end_of_day" in jobs[1]
    assert ran[0] == 0 and ran[1].startswith("news: ok")
    assert unknown[0] == 65
    assert unknown[2].strip().endswith("skimd: daemon: run-job: no job named 'nope' (jobs: "
                                       "end_of_day, news, purge, scan, sync, warmup, watch)")
