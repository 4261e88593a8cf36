"""The job table: every scheduled job of the daemon, declared in one place.

A :class:`JobSpec` says *when* (market wall-clock time, never hand-converted UTC), *what*
(an async handler taking no arguments) and *how* (gated by the market calendar or not,
misfire grace). The scheduler adapter turns specs into APScheduler jobs; nothing else
registers jobs.

Gating: a ``market_hours`` job does nothing on a day the exchange is closed, and a windowed
job does nothing outside its window on that day's session; the skip is logged once per day,
not on every tick.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

JobHandler = Callable[[], Awaitable[object]]


class Window(StrEnum):
    """Where in the trading day a windowed job may run."""

    ANYTIME = "anytime"
    SESSION = "session"  # from the open to the close (early closes honoured)
    BEFORE_CLOSING_AUCTION = "before_closing_auction"  # from the open until 10 min before close


@dataclass(frozen=True)
class DailyAt:
    """Once a day at ``at`` (market zone), on weekdays."""

    at: time


@dataclass(frozen=True)
class Every:
    """Every ``seconds`` (a divisor of 60 below a minute, or whole minutes dividing 60)."""

    seconds: int
    window: Window = Window.ANYTIME

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("Every.seconds must be positive")


Trigger = DailyAt | Every


@dataclass(frozen=True)
class PlannedJob:
    """A job as planned: when and how it runs, without the code that runs it.

    The plan is pure data (see :mod:`skimd.services.job_plan`), so ``skimd status`` can show
    next runs without building a broker, a store or a scheduler; the supervisor runs a
    plan only once each entry is bound to its handler (:meth:`bind`)."""

    id: str
    trigger: Trigger
    description: str
    market_hours: bool = True
    misfire_grace_s: int | None = None  # None → the scheduler default
    internal: bool = False  # plumbing (watchdog, outbox): not shown as a trading job
    needs_session: bool = False  # market data / orders: waits while the broker session is down

    def bind(self, handler: JobHandler) -> JobSpec:
        return JobSpec(
            self.id,
            self.trigger,
            handler,
            self.description,
            market_hours=self.market_hours,
            misfire_grace_s=self.misfire_grace_s,
            internal=self.internal,
            needs_session=self.needs_session,
        )


@dataclass(frozen=True)
class JobSpec:
    """A planned job bound to its handler: what the scheduler runs."""

    id: str
    trigger: Trigger
    handler: JobHandler
    description: str
    market_hours: bool = True
    misfire_grace_s: int | None = None  # None → the scheduler default
    internal: bool = False  # plumbing (watchdog, outbox): not shown as a trading job
    needs_session: bool = False  # market data / orders: waits while the broker session is down

    @property
    def plan(self) -> PlannedJob:
        return PlannedJob(
            self.id,
            self.trigger,
            self.description,
            market_hours=self.market_hours,
            misfire_grace_s=self.misfire_grace_s,
            internal=self.internal,
            needs_session=self.needs_session,
        )


@dataclass
class JobResult:
    """The last outcome of a job, for ``skimd status``."""

    job_id: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outcome: str = "never run"
    message: str = ""


@dataclass
class JobTable:
    specs: list[JobSpec] = field(default_factory=list)

    def add(self, spec: JobSpec) -> None:
        if any(s.id == spec.id for s in self.specs):
            raise ValueError(f"duplicate job id {spec.id!r}")
        self.specs.append(spec)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.specs)

    def ids(self) -> list[str]:
        return [s.id for s in self.specs]


def bind_plan(plan: Sequence[PlannedJob], handlers: Mapping[str, JobHandler]) -> list[JobSpec]:
    """Each planned job with its handler. A plan entry without a handler, or a handler for
    no planned job, is a wiring mistake and raises ValueError naming it."""
    planned = {job.id for job in plan}
    missing = [job.id for job in plan if job.id not in handlers]
    extra = sorted(set(handlers) - planned)
    if missing or extra:
        raise ValueError(
            f"job plan and handlers disagree: no handler for {missing}, no job for {extra}"
        )
    return [job.bind(handlers[job.id]) for job in plan]
