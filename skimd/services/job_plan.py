"""The daemon's job plan: which jobs run when, computed from settings alone (DESIGN §3).

| job        | when (market wall clock)             | what                                       |
|------------|--------------------------------------|--------------------------------------------|
| warmup     | ``warmup_at`` (09:45)                | broker session up, reconcile orders,       |
|            |                                      | daily bars of held tickers, pre-flight     |
| purge      | ``purge_at`` (09:55)                 | delete old candidates (not live ones)      |
| news       | every ``news_interval_s``            | price-sensitive announcements              |
| scan       | every ``scan_interval_s`` in session | gap scan until ``scan_until``              |
| watch      | every ``poll_interval_s`` in session | ranges, entries, stops and exits           |
| sync       | every ``sync_interval_s`` in session | positions and executions into the journal  |
| end_of_day | ``end_of_day_at`` (16:15)            | expire candidates, journal, reports        |
| outbox     | every ``outbox_poll_interval_s``     | deliver pending alerts (plumbing)          |
| heartbeat  | every ``heartbeat_interval_min``     | dead-man's-switch ping (plumbing, optional)|

``scan``, ``watch`` and ``sync`` need the broker session for market data and orders: the
supervisor holds them while the session is known to be down
(:mod:`skimd.services.broker_session`). The daily jobs run regardless (a warm-up or an end
of day skipped would be lost for the day; one that fails says so), and so does the
housekeeping.

Pure: no broker, store or scheduler is needed to compute it, so ``skimd status`` shows the
same plan the daemon runs. The supervisor binds each entry to its handler
(:func:`skimd.services.jobs.bind_plan`) and gates market-hours jobs by the calendar; the
supervisor's own watchdog and status-line jobs are added by the supervisor itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from skimd.services.jobs import DailyAt, Every, PlannedJob, Window
from skimd.services.trading.params import StrategyParams

MIN_HEARTBEAT_S = 60  # a heartbeat more often than once a minute is a misconfiguration


@dataclass(frozen=True)
class PlumbingSchedule:
    """How often the alert outbox is drained and the heartbeat pinged (``None``: no
    heartbeat is configured)."""

    outbox_interval_s: int
    heartbeat_interval_s: int | None = None


def trading_plan(params: StrategyParams) -> list[PlannedJob]:
    """The trading day's jobs, in the order the table above lists them."""
    p = params
    return [
        PlannedJob("warmup", DailyAt(p.warmup_at), "broker session up, pre-flight"),
        PlannedJob("purge", DailyAt(p.purge_at), "delete old candidates"),
        PlannedJob(
            "news", Every(p.news_interval_s, Window.ANYTIME), "ASX price-sensitive announcements"
        ),
        PlannedJob(
            "scan",
            Every(p.scan_interval_s, Window.SESSION),
            f"gap scan (until {p.scan_until:%H:%M})",
            needs_session=True,
        ),
        PlannedJob(
            "watch",
            Every(p.poll_interval_s, Window.SESSION),
            "opening ranges, breakout entries, stops and exits",
            # a poll that starts a whole interval late is better skipped for the next one
            misfire_grace_s=max(1, p.poll_interval_s),
            needs_session=True,
        ),
        PlannedJob(
            "sync",
            Every(p.sync_interval_s, Window.SESSION),
            "position sync with the broker, executions into the journal",
            needs_session=True,
        ),
        PlannedJob(
            "end_of_day",
            DailyAt(p.end_of_day_at),
            "expire candidates, store daily bars, daily summary",
        ),
    ]


def plumbing_plan(schedule: PlumbingSchedule) -> list[PlannedJob]:
    """The daemon's own housekeeping jobs: they run every day, market open or not."""
    jobs = [
        PlannedJob(
            "outbox",
            Every(schedule.outbox_interval_s),
            "deliver pending alerts",
            market_hours=False,
            internal=True,
        )
    ]
    if schedule.heartbeat_interval_s is not None:
        # A scheduled job like the watchdog: it pings only while the scheduler ticks, so a
        # wedged daemon falls silent and the dead-man's switch fires elsewhere.
        jobs.append(
            PlannedJob(
                "heartbeat",
                Every(max(MIN_HEARTBEAT_S, schedule.heartbeat_interval_s)),
                "dead-man's-switch ping",
                market_hours=False,
                internal=True,
            )
        )
    return jobs


def daemon_plan(params: StrategyParams, schedule: PlumbingSchedule) -> list[PlannedJob]:
    """Everything ``skimd run`` schedules apart from the supervisor's own jobs."""
    return plumbing_plan(schedule) + trading_plan(params)
