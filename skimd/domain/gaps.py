"""The opening-gap screen: which opened tickers are worth watching today, and in what order.

One rule for every source of openings: the scan over a configured universe, the IBKR
scanner's rows and the demo market all hand their snapshots to :meth:`GapFilter.select`, so
a threshold means the same thing whichever broker produced the quote.

- The gap is :attr:`Quote.gap_pct <skimd.domain.market.Quote.gap_pct>`: the open over the
  previous close, in percent. A quote without an open (not traded yet) or without a
  positive previous close has no gap and never passes.
- Every bound is inclusive: a gap of exactly ``min_gap_pct``, a price of exactly
  ``min_price`` and a volume of exactly ``min_volume`` pass.
- The price checked is the last trade, or the open when no last trade is known yet.
- A volume the source has not delivered (None) counts as 0 shares traded.
- Order: largest gap first; openings with equal gaps keep the order they were given in
  (the demo market lists ties by symbol, IBKR by its scanner's rank).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from skimd.domain.market import GapCandidate, Quote


@dataclass(frozen=True, slots=True)
class GapFilter:
    """The strategy's thresholds for an opening gap (``min_gap_pct`` in percent, e.g. 4)."""

    min_gap_pct: Decimal
    min_price: Decimal
    min_volume: int

    def passing_gap(self, quote: Quote) -> Decimal | None:
        """``quote``'s gap in percent when it passes every threshold, else None."""
        gap = quote.gap_pct
        if gap is None or quote.open is None:
            return None
        price = quote.last if quote.last is not None else quote.open
        if gap < self.min_gap_pct or price < self.min_price:
            return None
        if (quote.volume or 0) < self.min_volume:
            return None
        return gap

    def candidate(self, quote: Quote, scan_date: date) -> GapCandidate | None:
        """``quote`` as a gap candidate of ``scan_date``, or None when it does not pass."""
        gap = self.passing_gap(quote)
        if gap is None or quote.open is None or quote.prev_close is None:
            return None
        return GapCandidate(
            symbol=quote.symbol,
            conid=quote.conid,
            prev_close=quote.prev_close,
            open=quote.open,
            gap_pct=gap,
            volume=quote.volume or 0,
            scan_date=scan_date,
            last=quote.last,
        )

    def select(self, quotes: Iterable[Quote], scan_date: date) -> list[GapCandidate]:
        """The quotes that pass, as candidates of ``scan_date``, largest gap first."""
        found = (self.candidate(q, scan_date) for q in quotes)
        return largest_gap_first(c for c in found if c is not None)


def largest_gap_first(candidates: Iterable[GapCandidate]) -> list[GapCandidate]:
    """``candidates`` by gap, largest first; equal gaps keep their given order."""
    return sorted(candidates, key=lambda c: c.gap_pct, reverse=True)
