"""The job plan is pure data from settings: the same plan ``skimd status`` shows and the
supervisor schedules, with no broker, store or scheduler built."""

from __future__ import annotations

from datetime import time

import pytest

from skimd.services.job_plan import (
    MIN_HEARTBEAT_S,
    PlumbingSchedule,
    daemon_plan,
    plumbing_plan,
    trading_plan,
)
from skimd.services.jobs import DailyAt, Every, PlannedJob, Window, bind_plan
from skimd.services.trading.params import StrategyParams


def test_the_trading_plan_follows_the_strategy_settings() -> None:
    params = StrategyParams(
        warmup_at=time(9, 40),
        end_of_day_at=time(16, 20),
        poll_interval_s=10,
        scan_until=time(10, 30),
    )
    plan = {job.id: job for job in trading_plan(params)}
    assert list(plan) == ["warmup", "purge", "news", "scan", "watch", "sync", "end_of_day"]
    assert plan["warmup"].trigger == DailyAt(time(9, 40))
    assert plan["end_of_day"].trigger == DailyAt(time(16, 20))
    assert plan["watch"].trigger == Every(10, Window.SESSION)
    assert plan["watch"].misfire_grace_s == 10, "a poll late by a whole interval is skipped"
    assert plan["scan"].description == "gap scan (until 10:30)"
    assert all(job.market_hours and not job.internal for job in plan.values())


@pytest.mark.parametrize(("minutes", "seconds"), [(None, None), (0, MIN_HEARTBEAT_S), (5, 300)])
def test_plumbing_runs_every_day_and_the_heartbeat_only_when_configured(
    minutes: int | None, seconds: int | None
) -> None:
    interval = None if minutes is None else minutes * 60
    plan = plumbing_plan(PlumbingSchedule(outbox_interval_s=5, heartbeat_interval_s=interval))
    assert plan[0] == PlannedJob(
        "outbox", Every(5), "deliver pending alerts", market_hours=False, internal=True
    )
    beats = [j for j in plan if j.id == "heartbeat"]
    if seconds is None:
        assert beats == []
    else:
        assert beats[0].trigger == Every(seconds) and not beats[0].market_hours


def test_the_daemon_plan_is_plumbing_then_trading() -> None:
    ids = [j.id for j in daemon_plan(StrategyParams(), PlumbingSchedule(5, 60))]
    assert ids[:2] == ["outbox", "heartbeat"] and ids[2:] == [
        j.id for j in trading_plan(StrategyParams())
    ]


def test_binding_needs_a_handler_for_every_job_and_a_job_for_every_handler() -> None:
    plan = trading_plan(StrategyParams())

    async def handler() -> None:
        return None

    handlers = {job.id: handler for job in plan}
    bound = bind_plan(plan, handlers)
    assert [s.plan for s in bound] == plan
    with pytest.raises(ValueError, match=r"no handler for \['watch'\]"):
        bind_plan(plan, {k: v for k, v in handlers.items() if k != "watch"})
    with pytest.raises(ValueError, match=r"no job for \['stray'\]"):
        bind_plan(plan, {**handlers, "stray": handler})


def test_the_plan_comes_from_settings_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from skimd import bootstrap
    from skimd.config import load_settings

    env = {
        "SKIMD__PATHS__DATA_DIR": str(tmp_path),
        "SKIMD__STRATEGY__WARMUP_AT": "09:40",
        "SKIMD__STRATEGY__POLL_INTERVAL_S": "10",
        "SKIMD__STRATEGY__MIN_GAP_PCT": "6.5",
    }
    settings = load_settings(None, env)
    params = bootstrap.strategy_params(settings)
    assert params.warmup_at == time(9, 40) and params.poll_interval_s == 10
    assert str(params.min_gap_pct) == "6.5"
    plan = {j.id: j for j in bootstrap.job_plan(settings)}
    assert plan["warmup"].trigger == DailyAt(time(9, 40))
    assert plan["watch"].trigger == Every(10, Window.SESSION)
    assert list(tmp_path.iterdir()) == [], "computing the plan touches no file"
