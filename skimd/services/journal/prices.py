"""The broker's intraday path as the reports' price source."""

from __future__ import annotations

from datetime import date

from skimd.domain.alerts import PricePoint
from skimd.infrastructure.brokers.protocols import Broker


class BrokerPricePath:
    """:class:`~skimd.services.journal.reports.PricePath` from 1-minute bars (closes)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        if conid is None:
            conid = (await self._broker.resolve([ticker]))[ticker].conid
        bars = await self._broker.intraday_bars(conid, day)
        return [PricePoint(at=b.at, price=b.close) for b in bars if b.at is not None]
