"""Fake notifiers and a clock whose sleeps advance it (for code that sleeps inline)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from skimd.clock import SimulatedClock
from skimd.domain.alerts import Alert


class RecordingNotifier:
    """Implements NotificationService; ``failure`` (if set) is raised instead of recording."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.received: list[Alert] = []
        self.failure: Exception | None = None
        self.attempts = 0

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: Alert) -> None:
        self.attempts += 1
        if self.failure is not None:
            raise self.failure
        self.received.append(alert)

    async def aclose(self) -> None:
        return None


class SleepAdvancesClock(SimulatedClock):
    """A SimulatedClock where ``sleep(s)`` moves time forward by ``s`` at once (recorded)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
