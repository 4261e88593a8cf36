"""What the journal statistics need from storage: the closed round trips of a time range
with their initial stops and excursions, as :class:`~skimd.domain.stats.ClosedTrip`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from skimd.domain.stats import ClosedTrip, EquityPoint

__all__ = ["ClosedTripSource", "EquityChartRenderer", "EquityCurve"]


class ClosedTripSource(Protocol):
    def closed_trips(self, start: datetime | None, end: datetime | None) -> list[ClosedTrip]:
        """Round trips closed in ``[start, end)`` (either bound optional), in close order.

        ``initial_stop`` is the stop of the trade plan the round trip executed (linked to
        one of its trades, else the plan of its entry order's candidate); ``mfe``/``mae``
        are the excursion recorded on its first entry; ``setup`` is the trader's setup grade
        (``setup 4/5``, :func:`skimd.domain.reviews.setup_label`) and ``tags`` the review's
        tags (None/() when not reviewed). Reads only (never takes the write lock)."""
        ...


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Cumulative net P&L after each round trip, for a chart titled ``title``."""

    title: str
    points: Sequence[EquityPoint]


EquityChartRenderer = Callable[[EquityCurve], bytes]
"""PNG bytes of an equity curve (at least one point)."""
