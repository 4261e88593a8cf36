"""Fan-out: one notifier that sends to several.

Used directly (``send_now``) it tries every member concurrently, so one failing member
never stops the others; it then raises one NotificationDeliveryError naming the failed
members. A retry of a direct send re-sends to all members (at-least-once). The outbox
sender does better: it sees the members through ``members`` and records delivery per
member, so a retry only goes where it failed.

Direct sends follow the alert policy (:mod:`skimd.domain.alert_policy`) as far as a single
send can: a member the policy skips for the alert does not get it; a ``quiet`` alert is
sent at once (there is no later digest for a direct send).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from skimd.domain.alert_policy import AlertPolicy, Disposition
from skimd.domain.alerts import Alert
from skimd.errors import NotificationDeliveryError


class Notifier(Protocol):
    """What the fan-out needs of a member: the services' notifier port, seen from here (every
    channel in this package fits both)."""

    @property
    def name(self) -> str: ...

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


class FanOutNotifier:
    def __init__(
        self,
        members: Sequence[Notifier],
        *,
        name: str = "fanout",
        policy: AlertPolicy | None = None,
    ) -> None:
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique, got {names}")
        self._members = tuple(members)
        self._name = name
        self._policy = policy or AlertPolicy()

    @property
    def name(self) -> str:
        return self._name

    @property
    def members(self) -> Sequence[Notifier]:
        return self._members

    @property
    def policy(self) -> AlertPolicy:
        return self._policy

    async def send(self, alert: Alert) -> None:
        targets = [
            m for m in self._members
            if self._policy.disposition(m.name, alert) is not Disposition.SKIP
        ]
        results = await asyncio.gather(*(m.send(alert) for m in targets), return_exceptions=True)
        failed = [
            f"{m.name} ({type(r).__name__})"
            for m, r in zip(targets, results, strict=True)
            if isinstance(r, BaseException)
        ]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, Exception):
                raise r  # cancellation and friends pass through
        if failed:
            raise NotificationDeliveryError(f"alert not delivered to: {', '.join(failed)}")

    async def aclose(self) -> None:
        for member in self._members:
            await member.aclose()
