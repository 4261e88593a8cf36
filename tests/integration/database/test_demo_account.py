"""Resetting the demo account: everything of the old account goes (the passphrase stays),
and a reset cut short never leaves an account a later run would resume."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from skimd.infrastructure.demo_state import DemoAccount

DAY = date(2026, 11, 24)


def account_files(data: Path) -> list[str]:
    names = ["skimd.db", "skimd.db-wal", "skimd.db-shm", "skimd.db.salt", "demo-broker-7.json"]
    names += ["skimd.db.restoring", "skimd.db.restoring.salt", "skimd.db.maintenance.json"]
    for name in names:
        (data / name).write_text("x", encoding="utf-8")
    return names


def test_a_reset_removes_the_old_account_and_keeps_the_passphrase(tmp_path: Path) -> None:
    names = account_files(tmp_path)
    (tmp_path / "skimd.passphrase").write_text("secret", encoding="utf-8")
    account = DemoAccount(tmp_path, "skimd.db", seed=7)
    account.record(DAY, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))
    removed = {p.name for p in account.wipe()}
    assert removed == {*names, "demo-run.json"}
    assert [p.name for p in tmp_path.iterdir()] == ["skimd.passphrase"]


def test_a_reset_cut_short_leaves_nothing_a_later_run_resumes(tmp_path: Path) -> None:
    account_files(tmp_path)
    (tmp_path / "demo-broker-9.json").mkdir()  # cannot be unlinked: the reset stops there
    account = DemoAccount(tmp_path, "skimd.db", seed=7)
    account.record(DAY, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))  # an unfinished day
    with pytest.raises(IsADirectoryError):
        account.wipe()
    assert not (tmp_path / "skimd.db").exists(), "the database went before the stop"
    marker = account.last_run()
    assert marker is not None and marker.finished, "not resumable: the next run resets again"
