"""A notifier that takes every alert and sends it nowhere: a backtest's.

A backtest replays months of days through the daemon; its alerts are still queued in the
outbox (they are part of the journal it writes) but must never reach the trader's phone,
whatever webhooks the configuration names. Delivery records name it ``backtest``."""

from __future__ import annotations

from skimd.domain.alerts import Alert


class DiscardingNotifier:
    def __init__(self, name: str = "backtest") -> None:
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def send(self, alert: Alert) -> None:
        """Accepted and dropped."""

    async def aclose(self) -> None:
        """Nothing to close."""
