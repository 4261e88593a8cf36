"""What the supervisor needs from a scheduler and from systemd, as ports the services own
(``skimd.infrastructure.scheduling`` and ``skimd.infrastructure.systemd`` implement them)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from skimd.services.jobs import JobSpec


@dataclass(frozen=True)
class JobEvent:
    """What the scheduler reports about a run: kind is executed / error / missed / max_instances."""

    kind: str
    job_id: str
    scheduled_at: datetime | None
    error: BaseException | None = None


class SchedulerPort(Protocol):
    """What the supervisor needs from a scheduler (implemented over APScheduler)."""

    def schedule(self, spec: JobSpec, run: Callable[[], Awaitable[object]]) -> None: ...

    def start(self) -> None: ...

    def pause(self) -> None: ...

    def shutdown(self) -> None: ...

    def next_run_time(self, job_id: str) -> datetime | None: ...

    def running_tasks(self) -> set[asyncio.Task[Any]]: ...

    def run_now(self, job_id: str) -> asyncio.Task[Any] | None:
        """Run the scheduled job ``job_id`` once now, as its schedule would (one instance at
        a time, reported through the event callback); its task, or None when it is already
        running or not scheduled. Its schedule is unchanged."""
        ...

    def on_event(self, callback: Callable[[JobEvent], None]) -> None: ...


class SdNotify(Protocol):
    def ready(self, status: str) -> bool: ...

    def status(self, status: str) -> bool: ...

    def watchdog(self) -> bool: ...

    def stopping(self, status: str) -> bool: ...
