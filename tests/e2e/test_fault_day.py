"""Fault injection end to end: a demo day through the daemon's own wiring where the broker
refuses every second SELL of each kind; after EVERY watch poll each open position is
protected (a working broker stop, or the software stop acting), and every run of refusals
raised its alerts: the refusal of its first order (``order_rejected``) and one critical
``protection_fallback`` saying what protects the position now.

Short versions of ``bench/fault_bench.py``: one day each. With resting stops on (and the
half exit due on day 1, the flatten at the close) the refused kinds are the resting stop,
the partial exit and the flatten; with resting stops off, the software stop's own exits and
the flatten.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.e2e.fault_days import FaultPlan, FaultReport, every_kind, run_fault_days

DAY = date(2026, 11, 24)


def _held_to_the_rule(report: FaultReport, kinds: set[str]) -> None:
    assert report.exit_codes == [0]
    assert report.polls > 4000 and report.position_checks > report.polls
    assert report.lapses == [], report.lapses[:5]
    assert report.unprotected_seconds == 0
    assert report.duplicate_client_order_ids == 0
    refused = report.refused_by_kind()
    assert kinds <= set(refused), refused
    assert set(report.runs) == set(refused)
    # one alert of each sort per run of refusals; the retries inside a run stay quiet
    assert report.rejected_alerts_by_kind() == report.runs
    assert report.fallback_alerts_by_kind() == report.runs


@pytest.mark.slow
async def test_a_day_of_refused_stops_partials_and_flattens_never_leaves_a_position_naked(
    tmp_path: Path,
) -> None:
    plan = FaultPlan(days=(DAY,), every=every_kind(2), partial_exit_day=1)
    report = await run_fault_days(tmp_path / "data", plan)
    _held_to_the_rule(report, {"stop", "partial", "flatten"})
    assert report.covers["broker_stop"] > 0 and report.covers["software_stop"] > 0


@pytest.mark.slow
async def test_a_day_of_refused_software_stop_exits_never_leaves_a_position_naked(
    tmp_path: Path,
) -> None:
    plan = FaultPlan(days=(DAY,), every=every_kind(2), resting_stop=False)
    report = await run_fault_days(tmp_path / "data", plan)
    _held_to_the_rule(report, {"stop_exit", "flatten"})
    assert set(report.covers) == {"software_stop"}
