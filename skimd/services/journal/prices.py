"""The broker's intraday path as the reports' price source."""

from __future__ import annotations

from datetime import date

from skimd.domain.market import PricePoint
from skimd.services.ports.broker import Broker


class BrokerPricePath:
    """:class:`~skimd.services.journal.reports.PricePath` from 1-minute bars (closes)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._cache: dict[tuple[str, date], list[PricePoint]] = {}

    async def intraday(self, ticker: str, conid: int | None, day: date) -> list[PricePoint]:
        """One fetch per ticker and day (a busy day has many round trips per ticker, and
        IBKR's history endpoint allows five requests at a time); only one day is kept."""
        key = (ticker, day)
        if key not in self._cache:
            if conid is None:
                conid = (await self._broker.resolve([ticker]))[ticker].conid
            bars = await self._broker.intraday_bars(conid, day)
            self._cache = {k: v for k, v in self._cache.items() if k[1] == day}
            self._cache[key] = [PricePoint(at=b.at, price=b.close) for b in bars if b.at]
        return self._cache[key]
