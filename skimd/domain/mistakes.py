"""Mistakes found automatically in one round trip, each with what it cost (pure).

The input is :class:`RoundTripFacts` (what happened, and what the plan said) and
:class:`MistakeThresholds` (the trader's tolerances, from configuration). A fact that is
unknown (None) means the rule that needs it cannot judge and stays silent: no finding is
better than a wrong one. Costs are money, rounded half-even to cents, never negative.

Rules and their cost:

- ``exit_below_stop``: an exit filled more than ``stop_tolerance`` per share below the
  planned stop. Cost = (planned stop - exit price) x shares, summed over such exits: what
  honouring the stop would have saved.
- ``entry_without_news``: entered although the ticker had no price-sensitive announcement.
  The rule was broken whatever the outcome, but only a loss can be blamed on it: cost = the
  round trip's net loss, 0 when it made money.
- ``size_over_risk_budget``: (entry - planned stop) x shares exceeds the risk budget by more
  than ``risk_tolerance``. Cost = the excess risk (risk taken - budget).
- ``entry_before_opening_range``: entered before the opening range was complete, i.e. with
  no confirmed ORH to break. Like the news rule, cost = the net loss, else 0.
- ``chased_entry``: the entry price is more than ``chase_pct`` percent above the ORH.
  Cost = (entry - ORH x (1 + chase_pct/100)) x shares: what was paid over the highest
  price the rules accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from skimd.errors import InvalidInputError

from .journal import RoundTripView

_CENTS = Decimal("0.01")
_ZERO = Decimal("0.00")


class MistakeCode(StrEnum):
    """Stable codes (``mistake_entries.category``)."""

    EXIT_BELOW_STOP = "exit_below_stop"
    ENTRY_WITHOUT_NEWS = "entry_without_news"
    SIZE_OVER_RISK_BUDGET = "size_over_risk_budget"
    ENTRY_BEFORE_OPENING_RANGE = "entry_before_opening_range"
    CHASED_ENTRY = "chased_entry"


@dataclass(frozen=True, slots=True)
class MistakeFinding:
    """One mistake. ``description`` is a one-line human note (``mistake_entries.note``)."""

    code: MistakeCode
    description: str
    cost: Decimal


@dataclass(frozen=True, slots=True)
class ExitFact:
    """One exit execution: ``qty`` shares sold at ``price``."""

    price: Decimal
    qty: int


@dataclass(frozen=True, slots=True)
class RoundTripFacts:
    """What the rules look at for one (normally closed) long round trip.

    ``entry_price`` is the average entry, ``qty`` the shares bought, ``entered_at`` the
    first entry (aware UTC). ``net_pnl`` is realised and after commissions.
    ``risk_budget`` is the money the plan allowed to lose at the stop for this trade.
    ``opening_range_complete_at`` is when the opening range was final.
    """

    ticker: str
    qty: int
    entry_price: Decimal
    entered_at: datetime
    exits: tuple[ExitFact, ...]
    net_pnl: Decimal
    planned_stop: Decimal | None = None
    risk_budget: Decimal | None = None
    had_price_sensitive_news: bool | None = None
    opening_range_high: Decimal | None = None
    opening_range_complete_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("entered_at", "opening_range_complete_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise InvalidInputError(f"facts for {self.ticker}: {name} must be tz-aware")
        if self.qty <= 0:
            raise InvalidInputError(f"facts for {self.ticker}: qty must be positive")


@dataclass(frozen=True, slots=True)
class MistakeThresholds:
    """The trader's tolerances (configuration; no defaults here on purpose).

    ``stop_tolerance``: per-share slippage below the stop still accepted (0 = none).
    ``risk_tolerance``: money over the risk budget still accepted (0 = none).
    ``chase_pct``: how far above the ORH, in percent, an entry may be.
    """

    stop_tolerance: Decimal
    risk_tolerance: Decimal
    chase_pct: Decimal

    def __post_init__(self) -> None:
        for name in ("stop_tolerance", "risk_tolerance", "chase_pct"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"mistake thresholds: {name} must not be negative")


def round_trip_facts(
    rt: RoundTripView,
    *,
    planned_stop: Decimal | None = None,
    risk_budget: Decimal | None = None,
    had_price_sensitive_news: bool | None = None,
    opening_range_high: Decimal | None = None,
    opening_range_complete_at: datetime | None = None,
) -> RoundTripFacts:
    """Facts from a computed round trip plus what the plan and the day's scan knew."""
    return RoundTripFacts(
        ticker=rt.ticker,
        qty=rt.qty_bought,
        entry_price=rt.avg_entry_price,
        entered_at=rt.opened_at,
        exits=tuple(ExitFact(f.price, f.qty) for f in rt.exits),
        net_pnl=rt.realised_net,
        planned_stop=planned_stop,
        risk_budget=risk_budget,
        had_price_sensitive_news=had_price_sensitive_news,
        opening_range_high=opening_range_high,
        opening_range_complete_at=opening_range_complete_at,
    )


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENTS, ROUND_HALF_EVEN)


def _loss(facts: RoundTripFacts) -> Decimal:
    return _money(-facts.net_pnl) if facts.net_pnl < 0 else _ZERO


def exit_below_stop(facts: RoundTripFacts, th: MistakeThresholds) -> MistakeFinding | None:
    stop = facts.planned_stop
    if stop is None:
        return None
    late = [e for e in facts.exits if stop - e.price > th.stop_tolerance]
    if not late:
        return None
    cost = sum(((stop - e.price) * e.qty for e in late), Decimal(0))
    worst = min(e.price for e in late)
    return MistakeFinding(
        MistakeCode.EXIT_BELOW_STOP,
        f"{facts.ticker}: sold {sum(e.qty for e in late)} below the planned stop {stop} "
        f"(lowest exit {worst})",
        _money(cost),
    )


def entry_without_news(facts: RoundTripFacts, th: MistakeThresholds) -> MistakeFinding | None:
    if facts.had_price_sensitive_news is not False:
        return None
    return MistakeFinding(
        MistakeCode.ENTRY_WITHOUT_NEWS,
        f"{facts.ticker}: entered without a price-sensitive announcement",
        _loss(facts),
    )


def size_over_risk_budget(facts: RoundTripFacts, th: MistakeThresholds) -> MistakeFinding | None:
    stop, budget = facts.planned_stop, facts.risk_budget
    if stop is None or budget is None:
        return None
    risk = (facts.entry_price - stop) * facts.qty
    excess = risk - budget
    if excess <= th.risk_tolerance:
        return None
    return MistakeFinding(
        MistakeCode.SIZE_OVER_RISK_BUDGET,
        f"{facts.ticker}: {facts.qty} shares from {facts.entry_price} to the stop {stop} "
        f"risked {_money(risk)}, over the budget {_money(budget)}",
        _money(excess),
    )


def entry_before_opening_range(
    facts: RoundTripFacts, th: MistakeThresholds
) -> MistakeFinding | None:
    complete = facts.opening_range_complete_at
    if complete is None or facts.entered_at >= complete:
        return None
    early = complete - facts.entered_at
    return MistakeFinding(
        MistakeCode.ENTRY_BEFORE_OPENING_RANGE,
        f"{facts.ticker}: entered {int(early.total_seconds())} s before the opening range "
        "was complete",
        _loss(facts),
    )


def chased_entry(facts: RoundTripFacts, th: MistakeThresholds) -> MistakeFinding | None:
    orh = facts.opening_range_high
    if orh is None:
        return None
    limit = orh * (1 + th.chase_pct / 100)
    if facts.entry_price <= limit:
        return None
    above_pct = ((facts.entry_price - orh) / orh * 100).quantize(Decimal("0.01"))
    return MistakeFinding(
        MistakeCode.CHASED_ENTRY,
        f"{facts.ticker}: entry {facts.entry_price} was {above_pct}% above the ORH {orh} "
        f"(limit {th.chase_pct}%)",
        _money((facts.entry_price - limit) * facts.qty),
    )


Rule = Callable[[RoundTripFacts, MistakeThresholds], MistakeFinding | None]

RULES: Sequence[Rule] = (
    exit_below_stop,
    entry_without_news,
    size_over_risk_budget,
    entry_before_opening_range,
    chased_entry,
)
"""Every rule, in the order findings are reported."""


def detect_mistakes(
    facts: RoundTripFacts, thresholds: MistakeThresholds, rules: Sequence[Rule] = RULES
) -> list[MistakeFinding]:
    """All findings for one round trip, in rule order (empty when it was clean)."""
    return [f for rule in rules if (f := rule(facts, thresholds)) is not None]
