"""The README's first command, end to end: a whole demo day through the real daemon as a
real process; and the same day killed with SIGKILL at random simulated times and restarted,
which must end exactly where the uninterrupted day ends."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.demo_runs import (
    ROOT,
    demo_config,
    env,
    final_state,
    open_demo_db,
    run_demo,
    start_demo,
)

ALERT_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d) (INFO|WARN|CRIT) ")


@pytest.mark.slow
def test_a_demo_day_end_to_end(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "demo")
    done = run_demo(config, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)  # with --json stdout is the summary alone
    assert any(ALERT_LINE.match(line) for line in done.stderr.splitlines())  # on stderr
    assert summary["candidates"] > 0 and summary["tradeable"] > 0
    assert summary["entries"] >= 1 and summary["exits"] >= 1
    assert summary["journal_rows"]["trades"] >= 2
    assert summary["journal_rows"]["round_trips"] >= 1
    assert summary["journal_rows"]["ledger"] == summary["journal_rows"]["trades"]
    assert summary["duplicate_client_order_ids"] == 0
    assert summary["alerts"] > 0 and summary["alerts_delivered"] == summary["alerts"]
    with open_demo_db(tmp_path / "demo") as db, db.unit_of_work(read_only=True) as uow:
        kinds = {row.kind for row in uow.outbox.list_all()}  # type: ignore[attr-defined]
        summaries = [
            json.loads(row.payload)["data"]  # type: ignore[attr-defined]
            for row in uow.outbox.list_all()
            if row.kind == "daily_summary"  # type: ignore[attr-defined]
        ]
    assert {"candidate_found", "tradeable_candidate", "entry_settled"} <= kinds
    assert {"position_exited", "daily_summary", "daemon_started", "daemon_stopping"} <= kinds
    assert not {"order_placed", "order_filled"} & kinds  # one message per entry and exit
    assert summaries and summaries[0]["reconciliation_clean"] is True
    assert "reconciliation_digest" in kinds
    reports = [Path(p) for p in summary["report_files"]]
    assert reports and reports[0].name == "report.md" and all(p.exists() for p in reports)
    assert any(p.suffix == ".png" for p in reports)
    status = run_cli(config, "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    report = json.loads(status.stdout)
    # the demo's daemon has stopped: its last session state is shown as that, not as now
    broker = report["broker"]
    assert broker["current"] is False and broker["last_recorded_state"] == "authenticated"
    assert broker["daemon_stopped_at"] is not None
    assert broker["session"].startswith("unknown: no daemon running (last: authenticated")
    last = {j["job"]: j["last_run"] for j in report["jobs"]}
    assert last["warmup"]["outcome"] == "ok" and last["end_of_day"]["outcome"] == "ok"
    assert "reconciliation clean" in last["end_of_day"]["message"]
    # a second run of the same day starts a fresh demo account and ends the same way
    again = run_demo(config, "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["entries"] == summary["entries"]


@pytest.mark.slow
def test_a_killed_demo_day_resumes_to_the_same_end(tmp_path: Path) -> None:
    whole = demo_config(tmp_path / "whole")
    assert run_demo(whole).returncode == 0
    expected = final_state(tmp_path / "whole")
    assert expected["orders"] and expected["trades"]

    crashed = demo_config(tmp_path / "crashed")
    rng = random.Random(20261124)
    kill_at = sorted(rng.sample(range(10 * 3600 + 120, 15 * 3600), 3))  # seconds into the day
    kills = 0
    for target in kill_at:
        proc = start_demo(crashed)
        assert proc.stdout is not None
        killed = False
        for line in proc.stdout:  # the console notifier prints each alert with its time
            m = ALERT_LINE.match(line)
            if m and int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3]) >= target:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
        proc.wait(timeout=600)
        if killed:
            assert proc.returncode == -signal.SIGKILL
            kills += 1
    assert kills >= 2, "the day was killed part-way at least twice"
    finish = run_demo(crashed)
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert "resuming from" in finish.stdout
    assert final_state(tmp_path / "crashed") == expected
    assert run_demo_verify(crashed) == 0


def run_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), *args],
        env=env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_demo_verify(config: Path) -> int:
    from skimd.cli import main

    return main(["--config", str(config), "db", "verify"])
