"""Breakout entries: the rules, and the one plan an opening range makes of them.

An :class:`EntryPlan` is everything the range decides: the trigger the last price must
exceed (ORH plus a buffer of ticks) and the initial stop (ORL, or a higher low of the day).
At the breakout it gives the order (:meth:`EntryPlan.order_at`): a marketable limit above the
last price, and the share count that keeps both the risk to the stop and the position's
value within limits. The alert of a tradeable candidate, its stored trade plan, the entry
order and the stop of the position it opens all come from this one plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from skimd.domain.market import TickDirection, asx_tick_size, round_to_tick
from skimd.domain.trading import CandidateRecord, PlanRecord


def breakout_trigger(orh: Decimal, buffer_ticks: int) -> Decimal:
    """The price the last trade must exceed to enter: ORH plus ``buffer_ticks`` ticks."""
    return orh + asx_tick_size(orh) * buffer_ticks


def entry_limit(last: Decimal, slippage_ticks: int) -> Decimal:
    """A marketable limit for an entry: the last price plus ``slippage_ticks`` ticks."""
    return round_to_tick(last + asx_tick_size(last) * slippage_ticks, TickDirection.UP)


def initial_stop(orl: Decimal, low_of_day: Decimal | None) -> Decimal:
    """The first stop: the opening range low, or the day's low if that is higher (it cannot
    be lower than ORL on entry day, but a later scan may know a higher low)."""
    stop = orl if low_of_day is None else max(orl, low_of_day)
    return round_to_tick(stop, TickDirection.DOWN)


@dataclass(frozen=True, slots=True)
class SizingLimits:
    risk_per_trade: Decimal
    max_position_value: Decimal


def position_size(entry: Decimal, stop: Decimal, limits: SizingLimits) -> int:
    """Shares to buy so that ``(entry - stop) * qty <= risk_per_trade`` and
    ``entry * qty <= max_position_value``; 0 when the stop is not below the entry or when
    not even one share fits."""
    per_share = entry - stop
    if per_share <= 0 or entry <= 0:
        return 0
    by_risk = (limits.risk_per_trade / per_share).to_integral_value(ROUND_FLOOR)
    by_value = (limits.max_position_value / entry).to_integral_value(ROUND_FLOOR)
    return max(0, int(min(by_risk, by_value)))


def within_price_band(price: Decimal, last: Decimal, band_pct: Decimal) -> bool:
    """True when ``price`` is within ``band_pct`` percent of ``last`` (a fat-finger check)."""
    if last <= 0:
        return False
    return abs(price - last) / last * 100 <= band_pct


@dataclass(frozen=True, slots=True)
class EntryTerms:
    """The strategy's entry settings a plan needs (``StrategyParams.entry_terms``)."""

    buffer_ticks: int
    slippage_ticks: int
    sizing: SizingLimits


@dataclass(frozen=True, slots=True)
class EntryOrder:
    """The entry at one breakout: buy ``qty`` (0: not even one share fits) at ``limit``,
    stop at ``stop``."""

    limit: Decimal
    stop: Decimal
    qty: int


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """What one opening range means for an entry (see the module docs)."""

    orh: Decimal
    orl: Decimal
    trigger: Decimal
    stop: Decimal
    terms: EntryTerms

    @classmethod
    def from_range(
        cls, orh: Decimal, orl: Decimal, terms: EntryTerms, *, low_of_day: Decimal | None = None
    ) -> EntryPlan:
        return cls(
            orh=orh,
            orl=orl,
            trigger=breakout_trigger(orh, terms.buffer_ticks),
            stop=initial_stop(orl, low_of_day),
            terms=terms,
        )

    @classmethod
    def of(cls, candidate: CandidateRecord, terms: EntryTerms) -> EntryPlan | None:
        """The plan of ``candidate``'s range so far; None until it has one."""
        if candidate.orh is None or candidate.orl is None:
            return None
        return cls.from_range(candidate.orh, candidate.orl, terms)

    def breaks_out(self, last: Decimal | None) -> bool:
        """True when the last price is strictly above the trigger."""
        return last is not None and last > self.trigger

    def order_at(self, last: Decimal) -> EntryOrder:
        """The entry order when the last trade is ``last``."""
        limit = entry_limit(last, self.terms.slippage_ticks)
        return EntryOrder(limit, self.stop, position_size(limit, self.stop, self.terms.sizing))

    def trade_plan(
        self,
        candidate: CandidateRecord,
        status: str,
        *,
        qty: int | None = None,
        entry_exec_id: str | None = None,
    ) -> PlanRecord:
        """The journal's trade plan of ``candidate`` (whose range this is) in ``status``."""
        return PlanRecord(
            ticker=candidate.ticker,
            entry=self.trigger,
            stop=self.stop,
            status=status,
            candidate_id=candidate.id,
            qty=qty,
            entry_exec_id=entry_exec_id,
            notes=candidate.news_headline,
        )
