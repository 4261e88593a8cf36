"""``skimd guard lock|unlock|status``: the kill switch, through the CLI, on a real database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skimd import bootstrap
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.instance_lock import InstanceLock
from tests.integration.cli.conftest import cli, settings_of


def _guard_alerts(config: Path) -> list[dict[str, object]]:
    db = open_trading_database(settings_of(config), create=False)
    try:
        with db.unit_of_work(read_only=True) as uow:
            rows = sorted(uow.outbox.list_all(), key=lambda r: r.id or 0)
            return [
                {
                    "kind": r.kind,
                    "status": r.status,
                    "severity": r.severity,
                    **json.loads(r.payload)["data"],
                }
                for r in rows
                if r.kind in ("guard_tripped", "guard_released")
            ]
    finally:
        db.close()


def test_lock_shows_in_both_statuses_then_unlock(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(initialised, "guard", "status", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {
        "locked": False,
        "reason": None,
        "changed_at": None,
    }

    assert cli(initialised, "guard", "lock", "--reason", "  halted:   ASX outage ") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "LOCKED" in out and "halted: ASX outage" in out

    assert cli(initialised, "guard", "status", "--json") == 0
    state = json.loads(capsys.readouterr().out)
    assert state["locked"] is True and state["reason"] == "halted: ASX outage"
    assert state["changed_at"] is not None

    assert cli(initialised, "status", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["guard"]["locked"] is True
    assert report["guard"]["reason"] == "halted: ASX outage"

    assert cli(initialised, "guard", "unlock") == 0
    assert "unlocked" in capsys.readouterr().out
    assert cli(initialised, "guard", "status") == 0
    assert capsys.readouterr().out.startswith("guard: unlocked since ")


def test_lock_and_unlock_each_queue_one_kill_switch_alert(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(initialised, "guard", "lock", "--reason", "too many losses") == 0
    assert cli(initialised, "guard", "lock", "--reason", "again") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("already locked; ")
    alerts = _guard_alerts(initialised)
    assert len(alerts) == 1, "a second lock changes nothing and alerts nothing"
    (lock,) = alerts
    assert lock["guard"] == "kill_switch" and lock["status"] == "pending"
    assert lock["severity"] == "warning"  # the operator locked it: nothing more to do
    assert "LOCKED" in str(lock["detail"]) and "too many losses" in str(lock["detail"])

    assert cli(initialised, "guard", "unlock") == 0
    assert cli(initialised, "guard", "unlock") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("already unlocked; ")
    alerts = _guard_alerts(initialised)
    assert len(alerts) == 2
    assert alerts[1]["guard"] == "kill_switch" and alerts[1]["kind"] == "guard_released"
    assert "UNLOCKED" in str(alerts[1]["detail"]) and "too many losses" in str(alerts[1]["detail"])


def test_works_while_the_daemon_runs_and_its_store_sees_the_lock_at_once(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_of(initialised)
    daemon_lock = InstanceLock(tmp_path / "data")
    daemon_lock.acquire()  # as `skimd run` holds it
    try:
        app = bootstrap.build(settings)  # the daemon's connection
        daemon_store = app.store
        with daemon_store.read() as tx:
            assert tx.guard().locked is False
        assert cli(initialised, "guard", "lock", "--reason", "stop now") == 0
        assert "LOCKED" in capsys.readouterr().out
        with daemon_store.read() as tx:
            seen = tx.guard()
        assert seen.locked is True and seen.reason == "stop now"
        assert cli(initialised, "status", "--json") == 0
        report = json.loads(capsys.readouterr().out)
        assert report["pid"] == os.getpid()
        assert report["guard"]["locked"] is True
    finally:
        app.close()
        daemon_lock.release()


def test_a_missing_database_is_one_line_naming_the_fix(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(config, "guard", "lock") == 78
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "skimd db init" in err


def test_a_blank_reason_is_refused_before_anything_is_written(
    initialised: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli(initialised, "guard", "lock", "--reason", "   ")
    assert exited.value.code == 2
    assert "--reason: must not be blank" in capsys.readouterr().err
    assert _guard_alerts(initialised) == []
