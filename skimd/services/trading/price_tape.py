"""The intraday prices the watch has already seen, kept for the alerts' charts.

Each poll snapshots every ranging/tradeable candidate and every open position; the tape
keeps those last prices with the day's volume so far (and each open position's stop), so
a tradeable-candidate alert and an exit alert carry their price path without asking the
broker again (no extra request on the trading path: IBKR's history endpoint is paced).
One point per ticker and minute (the latest seen in it; the first point of the day is kept
as is), one market day at a time: a new day forgets the previous one. What a process did
not see (before a restart) is not on its tape; a chart is then drawn from what is there,
or not at all (fewer than two points).

Memory: a 5 s poll over a 6 h session keeps at most ~360 points per ticker.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

from skimd.domain.market import PricePoint, VolumePoint


class PriceTape:
    def __init__(self) -> None:
        self._day: date | None = None
        self._prices: dict[str, list[PricePoint]] = {}
        self._stops: dict[str, list[PricePoint]] = {}
        self._cumulative: dict[str, dict[datetime, int]] = {}  # day volume at each point

    def record(
        self, day: date, ticker: str, at: datetime, price: Decimal, volume: int | None = None
    ) -> None:
        """``ticker`` last traded at ``price`` at ``at`` (market-zone ``day``), ``volume``
        shares traded so far today (cumulative, as snapshots give it; None if unknown)."""
        self._start(day)
        kept = self._append(self._prices, ticker, PricePoint(at=at, price=price))
        if kept and volume is not None:
            points = self._prices[ticker]
            cumulative = self._cumulative.setdefault(ticker, {})
            cumulative[points[-1].at] = volume
            if len(cumulative) > len(points):  # the replaced point's count goes with it
                keep = {p.at for p in points}
                self._cumulative[ticker] = {k: v for k, v in cumulative.items() if k in keep}

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

    def volumes(self, day: date, ticker: str) -> tuple[VolumePoint, ...]:
        """Shares traded between consecutive points of :meth:`path` (each at the later
        point; the first point has no period of its own), where both counts are known."""
        if day != self._day:
            return ()
        cumulative = self._cumulative.get(ticker, {})
        points = self._prices.get(ticker, [])
        bars = []
        for before, after in pairwise(points):
            if before.at in cumulative and after.at in cumulative:
                traded = max(0, cumulative[after.at] - cumulative[before.at])
                bars.append(VolumePoint(at=after.at, volume=traded))
        return tuple(bars)

    def stop_path(self, day: date, ticker: str) -> tuple[PricePoint, ...]:
        """``ticker``'s stop as it stood over ``day``, oldest first (empty when never held)."""
        return tuple(self._stops.get(ticker, ())) if day == self._day else ()

    def _start(self, day: date) -> None:
        """A new market day forgets the previous one."""
        if day != self._day:
            self._day = day
            self._prices = {}
            self._stops = {}
            self._cumulative = {}

    @staticmethod
    def _append(series: dict[str, list[PricePoint]], ticker: str, point: PricePoint) -> bool:
        """Add or (same minute) replace the last point; False when ``point`` was dropped."""
        points = series.setdefault(ticker, [])
        if points and points[-1].at >= point.at:
            return False  # the same snapshot seen twice, or an older one: time moves on
        if len(points) >= 2 and _minute(points[-1].at) == _minute(point.at):
            points[-1] = point
        else:
            points.append(point)
        return True


def _minute(at: datetime) -> int:
    return int(at.timestamp()) // 60


__all__ = ["PriceTape"]
