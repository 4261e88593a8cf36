"""Trading statistics over closed round trips (pure; no storage).

Every figure is after fees (``net_pnl``) unless it says gross. Definitions:

- *win*: net P&L > 0; *loss*: net P&L < 0; a round trip at exactly 0 is neither (it counts
  in ``round_trips`` and lowers the win rate).
- *R*: net P&L ÷ initial risk, the risk being (entry average - initial stop) x qty. A round
  trip without a recorded initial stop, or with a stop at or above its entry, has no R and
  is left out of every R figure (``r_known`` says how many had one).
- *expectancy*: the mean net P&L per round trip ($) and the mean R (of the trips with R).
- *profit factor*: the sum of wins ÷ the sum of losses (absolute); None without a loss.
- *max drawdown*: the largest fall from a running peak of the cumulative net P&L curve,
  in $, the curve starting at 0 before the first round trip (so a first loss is a
  drawdown). Round trips are taken in close order.
- *MFE capture*: Σ gross P&L ÷ Σ MFE over the round trips with a recorded excursion and
  MFE > 0: the share of the best open profit the exits kept (1 = sold at the best price
  of the hold; negative = a trade that was in profit ended in a loss). Gross, because
  excursions are measured on prices, before fees.
- *MAE capture*: over the losing round trips with a recorded excursion and MAE < 0,
  Σ gross P&L ÷ Σ MAE: how much of the worst open loss was realised (1 = sold at the low
  of the hold; small = cut before the worst).

Grouping: by the close's day, ISO week (``2026-W48``) or month in the *market* zone, by
ticker, setup or tag. A round trip without a setup (or tags) goes to
:data:`UNREVIEWED`; a trip with several tags counts in each tag's group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from skimd.errors import InvalidInputError

UNREVIEWED = "—"
"""The group of round trips without a setup or tags (not reviewed yet)."""

MONEY = Decimal("0.01")
RATIO = Decimal("0.0001")


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    SETUP = "setup"
    TAG = "tag"
    TICKER = "ticker"


@dataclass(frozen=True, slots=True)
class ClosedTrip:
    """One closed round trip with what statistics need; times are aware.

    ``mfe``/``mae`` are the excursion in $ (``mfe`` ≥ 0, ``mae`` ≤ 0; None when none was
    recorded); ``initial_stop`` is the stop planned at entry (None when none was recorded).
    """

    id: int
    ticker: str
    opened_at: datetime
    closed_at: datetime
    qty: Decimal
    entry_avg: Decimal
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    initial_stop: Decimal | None = None
    mfe: Decimal | None = None
    mae: Decimal | None = None
    setup: str | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.closed_at.tzinfo is None or self.opened_at.tzinfo is None:
            raise InvalidInputError(f"round trip {self.id}: times must be timezone-aware")

    @property
    def risk(self) -> Decimal | None:
        """(entry - initial stop) x qty; None without a stop below the entry."""
        if self.initial_stop is None or self.initial_stop >= self.entry_avg:
            return None
        return (self.entry_avg - self.initial_stop) * self.qty

    @property
    def r_multiple(self) -> Decimal | None:
        risk = self.risk
        return None if risk is None else self.net_pnl / risk

    @property
    def holding_time(self) -> timedelta:
        return self.closed_at - self.opened_at


@dataclass(frozen=True, slots=True)
class TripStats:
    """The statistics of one group of round trips (see the module docstring).

    Sums (``net_pnl``, ``gross_pnl``, ``fees``, ``max_drawdown``) are exact; averages are
    rounded half-even to cents, R figures and ratios to four places. Figures that need at
    least one qualifying round trip are None without one.
    """

    label: str
    round_trips: int
    wins: int
    losses: int
    win_rate: Decimal | None
    net_pnl: Decimal
    gross_pnl: Decimal
    fees: Decimal
    avg_win: Decimal | None
    avg_loss: Decimal | None
    expectancy: Decimal | None
    r_known: int
    avg_win_r: Decimal | None
    avg_loss_r: Decimal | None
    expectancy_r: Decimal | None
    profit_factor: Decimal | None
    max_drawdown: Decimal
    avg_holding: timedelta | None
    mfe_capture: Decimal | None
    mae_capture: Decimal | None

    @property
    def r_unknown(self) -> int:
        return self.round_trips - self.r_known


def summarise(trips: Sequence[ClosedTrip], label: str = "total") -> TripStats:
    """The statistics of ``trips`` (any order; an empty sequence gives zeros and Nones)."""
    ordered = sorted(trips, key=lambda t: (t.closed_at, t.id))
    nets = [t.net_pnl for t in ordered]
    wins = [n for n in nets if n > 0]
    losses = [n for n in nets if n < 0]
    rs = [(t.r_multiple, t.net_pnl) for t in ordered if t.r_multiple is not None]
    win_rs = [r for r, n in rs if n > 0]
    loss_rs = [r for r, n in rs if n < 0]
    count = len(ordered)
    held = sum((t.holding_time for t in ordered), timedelta(0))
    return TripStats(
        label=label,
        round_trips=count,
        wins=len(wins),
        losses=len(losses),
        win_rate=_ratio(Decimal(len(wins)), Decimal(count)),
        net_pnl=sum(nets, Decimal(0)),
        gross_pnl=sum((t.gross_pnl for t in ordered), Decimal(0)),
        fees=sum((t.fees for t in ordered), Decimal(0)),
        avg_win=_mean(wins, MONEY),
        avg_loss=_mean(losses, MONEY),
        expectancy=_mean(nets, MONEY),
        r_known=len(rs),
        avg_win_r=_mean(win_rs, RATIO),
        avg_loss_r=_mean(loss_rs, RATIO),
        expectancy_r=_mean([r for r, _ in rs], RATIO),
        profit_factor=_ratio(sum(wins, Decimal(0)), -sum(losses, Decimal(0))),
        max_drawdown=max_drawdown(nets),
        avg_holding=None if not count else timedelta(seconds=round(held.total_seconds() / count)),
        mfe_capture=_capture(
            [(t.gross_pnl, t.mfe) for t in ordered if t.mfe is not None and t.mfe > 0]
        ),
        mae_capture=_capture(
            [
                (t.gross_pnl, t.mae)
                for t in ordered
                if t.mae is not None and t.mae < 0 and t.net_pnl < 0
            ]
        ),
    )


def max_drawdown(pnls: Iterable[Decimal]) -> Decimal:
    """The largest peak-to-trough fall (≥ 0) of the running sum of ``pnls``, from 0."""
    peak = total = worst = Decimal(0)
    for pnl in pnls:
        total += pnl
        peak = max(peak, total)
        worst = max(worst, peak - total)
    return worst


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The cumulative net P&L just after round trip ``round_trip_id`` closed at ``at``."""

    at: datetime
    round_trip_id: int
    cumulative: Decimal


def equity_curve(trips: Sequence[ClosedTrip]) -> list[EquityPoint]:
    """Cumulative net P&L after each round trip, in close order."""
    total = Decimal(0)
    points: list[EquityPoint] = []
    for t in sorted(trips, key=lambda t: (t.closed_at, t.id)):
        total += t.net_pnl
        points.append(EquityPoint(t.closed_at, t.id, total))
    return points


def group_keys(trip: ClosedTrip, by: GroupBy, zone: tzinfo) -> tuple[str, ...]:
    """The group(s) ``trip`` belongs to; dates are the close's date in ``zone``."""
    closed = trip.closed_at.astimezone(zone).date()
    if by is GroupBy.DAY:
        return (closed.isoformat(),)
    if by is GroupBy.WEEK:
        year, week, _ = closed.isocalendar()
        return (f"{year}-W{week:02d}",)
    if by is GroupBy.MONTH:
        return (f"{closed:%Y-%m}",)
    if by is GroupBy.TICKER:
        return (trip.ticker,)
    if by is GroupBy.SETUP:
        return (trip.setup or UNREVIEWED,)
    return tuple(dict.fromkeys(trip.tags)) or (UNREVIEWED,)


def grouped(trips: Sequence[ClosedTrip], by: GroupBy, zone: tzinfo) -> list[TripStats]:
    """One :class:`TripStats` per group, ordered by label (dates sort in time order)."""
    groups: dict[str, list[ClosedTrip]] = defaultdict(list)
    for trip in trips:
        for key in group_keys(trip, by, zone):
            groups[key].append(trip)
    return [summarise(groups[key], key) for key in sorted(groups)]


def _mean(values: Sequence[Decimal], places: Decimal) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(places, ROUND_HALF_EVEN)


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    if whole == 0:
        return None
    return (part / whole).quantize(RATIO, ROUND_HALF_EVEN)


def _capture(pairs: Sequence[tuple[Decimal, Decimal]]) -> Decimal | None:
    if not pairs:
        return None
    return _ratio(sum((g for g, _ in pairs), Decimal(0)), sum((e for _, e in pairs), Decimal(0)))
