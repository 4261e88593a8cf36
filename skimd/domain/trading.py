"""The opening-gap strategy's records and pure rules: no I/O, no clock, no database.

Records (:class:`CandidateRecord`, :class:`PositionRecord`, :class:`IntentRecord`) are what
the trading services read and write through the store port; the database adapter maps them
onto its tables. Rules (sizing, breakout, stop ratchet, moving-average trail, client order
ids) are plain functions so every one of them is tested without a broker or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from skimd.domain.market import TickDirection, asx_tick_size, round_to_tick


class CandidateState(StrEnum):
    """Life of a candidate on its scan day.

    ``ranging`` → (range complete) ``tradeable`` or ``skipped`` (no price-sensitive news when
    news is required) → ``entered`` (an entry intent exists) → ``closed``. ``expired``: the
    day ended without an entry.
    """

    RANGING = "ranging"
    TRADEABLE = "tradeable"
    SKIPPED = "skipped"
    ENTERED = "entered"
    CLOSED = "closed"
    EXPIRED = "expired"


class IntentPurpose(StrEnum):
    """Why an order exists; part of its client order id, so it survives restarts."""

    ENTRY = "entry"
    STOP = "stop"  # resting stop order at the broker
    STOP_EXIT = "stop_exit"  # market exit after the daemon's own stop check
    PARTIAL = "partial"  # sell half on day N
    TRAIL = "trail"  # moving-average trail exit
    FLATTEN = "flatten"  # end-of-day flatten

    @property
    def code(self) -> str:
        return _PURPOSE_CODES[self]

    @property
    def is_exit(self) -> bool:
        return self is not IntentPurpose.ENTRY


_PURPOSE_CODES = {
    IntentPurpose.ENTRY: "E",
    IntentPurpose.STOP: "S",
    IntentPurpose.STOP_EXIT: "X",
    IntentPurpose.PARTIAL: "H",
    IntentPurpose.TRAIL: "T",
    IntentPurpose.FLATTEN: "F",
}


class IntentStatus(StrEnum):
    """Our record of an order. ``pending``: written, not yet known to be at the broker
    (a crash here is reconciled by client order id). ``unknown``: the placing call failed
    in a way that leaves the outcome open (timeout)."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_INTENT


_OPEN_INTENT = frozenset(
    {
        IntentStatus.PENDING,
        IntentStatus.SUBMITTED,
        IntentStatus.PARTIALLY_FILLED,
        IntentStatus.UNKNOWN,
    }
)


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """One ticker worth watching on ``scan_date``; ``orh``/``orl`` are the running range
    while ``ranging`` and final afterwards."""

    scan_date: date
    ticker: str
    status: CandidateState = CandidateState.RANGING
    id: int | None = None
    conid: int | None = None
    gap_pct: Decimal | None = None
    prev_close: Decimal | None = None
    open_price: Decimal | None = None
    volume: int | None = None
    news_headline: str | None = None
    news_time: datetime | None = None
    price_sensitive: bool = False
    orh: Decimal | None = None
    orl: Decimal | None = None
    range_start_at: datetime | None = None

    def with_(self, **changes: object) -> CandidateRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A holding the daemon manages. ``entry_date`` is the Sydney session date of the entry
    fill; ``stop`` only ever moves up (:func:`ratchet_stop`)."""

    ticker: str
    qty: int
    avg_price: Decimal
    entry_date: date
    opened_at: datetime
    id: int | None = None
    conid: int | None = None
    stop: Decimal | None = None
    status: str = "open"
    closed_at: datetime | None = None
    partial_exit_done: bool = False
    paused: bool = False
    candidate_id: int | None = None


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """An order as we meant it, written before the broker hears of it."""

    client_order_id: str
    ticker: str
    conid: int
    side: str
    qty: int
    order_type: str
    purpose: IntentPurpose
    created_at: datetime
    status: IntentStatus = IntentStatus.PENDING
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: str = "DAY"
    broker_order_id: str | None = None
    filled_qty: int = 0
    avg_fill_price: Decimal | None = None
    reason: str | None = None
    candidate_id: int | None = None
    position_id: int | None = None
    updated_at: datetime | None = None  # last change (a fill's booking time), from storage


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """The trade plan of one candidate (entry above ORH, stop at ORL)."""

    ticker: str
    entry: Decimal
    stop: Decimal
    status: str  # draft (ranging) | active (tradeable) | executed (entered) | cancelled
    candidate_id: int | None
    qty: int | None = None
    target: Decimal | None = None
    entry_exec_id: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class GuardState:
    """The kill switch as stored (``locked`` stops new entries at once)."""

    locked: bool
    reason: str | None = None
    changed_at: datetime | None = None


# -- client order ids -----------------------------------------------------------------------


def client_order_id(
    day: date, ticker: str, purpose: IntentPurpose, *, position_id: int | None = None, seq: int = 1
) -> str:
    """The deterministic client order id (IBKR ``cOID``) of one order.

    The same decision always gives the same id, so a retry after a crash or a timeout finds
    the order it may already have placed instead of placing a second one. An entry is keyed
    by day and ticker (one entry per candidate per day); exits by position, purpose and a
    sequence (a resting stop is replaced with ``seq`` + 1 when it moves).
    """
    stem = f"SK{day:%Y%m%d}-{ticker.strip().upper()}-{purpose.code}"
    if purpose is IntentPurpose.ENTRY:
        return stem
    if position_id is None:
        raise ValueError(f"{purpose.value} order for {ticker} needs its position id")
    return f"{stem}{position_id}.{seq}"


# -- entries --------------------------------------------------------------------------------


def breakout_trigger(orh: Decimal, buffer_ticks: int) -> Decimal:
    """The price the last trade must exceed to enter: ORH plus ``buffer_ticks`` ticks."""
    return orh + asx_tick_size(orh) * buffer_ticks


def is_breakout(last: Decimal | None, orh: Decimal, buffer_ticks: int) -> bool:
    """True when the last price is strictly above the trigger."""
    return last is not None and last > breakout_trigger(orh, buffer_ticks)


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


# -- managing a position --------------------------------------------------------------------


def ratchet_stop(current: Decimal | None, proposed: Decimal | None) -> Decimal | None:
    """The new stop: never lower than the current one."""
    if proposed is None:
        return current
    proposed = round_to_tick(proposed, TickDirection.DOWN)
    if current is None:
        return proposed
    return max(current, proposed)


def trading_day_number(entry_date: date, today: date, sessions: Sequence[date]) -> int:
    """Day N of a holding: the entry day is day 1, the next trading session day 2.

    ``sessions`` are the trading dates from ``entry_date`` to ``today`` inclusive (the
    calendar gives them); holidays and weekends therefore do not count.
    """
    return len([d for d in sessions if entry_date <= d <= today])


def half_quantity(qty: int) -> int:
    """Shares sold by the partial exit: half, rounded down, at least one when qty > 1."""
    return qty // 2


def moving_average(closes: Sequence[Decimal], days: int) -> Decimal | None:
    """Simple average of the last ``days`` closes; None with fewer closes than that."""
    if days <= 0 or len(closes) < days:
        return None
    window = closes[-days:]
    return sum(window, Decimal(0)) / days


def trail_exit_due(closes: Sequence[Decimal], days: int) -> bool:
    """True when the latest daily close finished below its ``days``-day moving average."""
    average = moving_average(closes, days)
    return average is not None and closes[-1] < average


def unrealised_pnl(position: PositionRecord, last: Decimal | None) -> Decimal:
    return Decimal(0) if last is None else (last - position.avg_price) * position.qty


# -- terms the trading alerts speak in (how a candidate was found, why a sale, which guard) ----


class CandidateSource(StrEnum):
    """How a candidate was found: the opening-gap scan or a price-sensitive announcement."""

    GAP = "gap"
    NEWS = "news"


class ExitReason(StrEnum):
    """Why shares of a position were sold (stored in alerts: values never change)."""

    STOP = "stop"
    TARGET = "target"
    TRAIL = "trail"
    PARTIAL = "partial"
    END_OF_DAY = "end_of_day"
    MANUAL = "manual"


class GuardKind(StrEnum):
    """Which pre-trade guard blocked (or, released, allows again) new entries."""

    KILL_SWITCH = "kill_switch"
    DAILY_LOSS_CAP = "daily_loss_cap"
    MAX_POSITIONS = "max_positions"
    PRICE_BAND = "price_band"
    MAX_ORDERS_PER_DAY = "max_orders_per_day"
    CLOSING_AUCTION = "closing_auction"
    OTHER = "other"
