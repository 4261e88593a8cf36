"""The intraday prices the watch has already seen, kept for the alerts' charts.

Each poll snapshots every ranging/tradeable candidate and every open position; the tape
keeps those last prices (and each open position's stop) so a tradeable-candidate alert and
an exit alert carry their price path without asking the broker again (no extra request on
the trading path: IBKR's history endpoint is paced). One point per ticker and minute (the
latest seen in it; the first point of the day is kept as is), one market day at a time: a
new day forgets the previous one. What a process did not see (before a restart) is not on
its tape; a chart is then drawn from what is there, or not at all (fewer than two points).

Memory: a 5 s poll over a 6 h session keeps at most ~360 points per ticker.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from skimd.domain.market import PricePoint


class PriceTape:
    def __init__(self) -> None:
        self._day: date | None = None
        self._prices: dict[str, list[PricePoint]] = {}
        self._stops: dict[str, list[PricePoint]] = {}

    def record(self, day: date, ticker: str, at: datetime, price: Decimal) -> None:
        """``ticker`` last traded at ``price`` at ``at`` (market-zone ``day``)."""
        self._start(day)
        self._append(self._prices, ticker, PricePoint(at=at, price=price))

    def record_stop(self, day: date, ticker: str, at: datetime, stop: Decimal) -> None:
        """The held ``ticker``'s stop was ``stop`` at ``at``; a step is kept only when the
        stop moved (plus the latest moment, so the step line reaches it)."""
        self._start(day)
        series = self._stops.setdefault(ticker, [])
        point = PricePoint(at=at, price=stop)
        if len(series) >= 2 and series[-1].price == stop and series[-2].price == stop:
            series[-1] = point
        else:
            series.append(point)

    def path(self, day: date, ticker: str) -> tuple[PricePoint, ...]:
        """``ticker``'s prices seen on ``day``, oldest first (empty when none)."""
        return tuple(self._prices.get(ticker, ())) if day == self._day else ()

    def stop_path(self, day: date, ticker: str) -> tuple[PricePoint, ...]:
        """``ticker``'s stop as it stood over ``day``, oldest first (empty when never held)."""
        return tuple(self._stops.get(ticker, ())) if day == self._day else ()

    def _start(self, day: date) -> None:
        """A new market day forgets the previous one."""
        if day != self._day:
            self._day = day
            self._prices = {}
            self._stops = {}

    @staticmethod
    def _append(series: dict[str, list[PricePoint]], ticker: str, point: PricePoint) -> None:
        points = series.setdefault(ticker, [])
        if points and points[-1].at >= point.at:
            return  # the same snapshot seen twice, or an older one: time only moves on
        if len(points) >= 2 and _minute(points[-1].at) == _minute(point.at):
            points[-1] = point
        else:
            points.append(point)


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


__all__ = ["PriceTape"]
