"""The opening-gap strategy's records, their lifecycles and pure rules: no I/O, no clock, no
database.

Records (:class:`CandidateRecord`, :class:`PositionRecord`, :class:`IntentRecord`) are what
the trading services read and write through the store port; the database adapter maps them
onto its tables. A record's state changes only through its own methods, which know the
moves its lifecycle allows (:data:`CANDIDATE_MOVES`) and the arithmetic of fills
(:meth:`PositionRecord.add_fill`, :meth:`PositionRecord.reduce`). Rules (stop ratchet,
moving-average trail, client order ids) are plain functions so every one of them is tested
without a broker or a database; the entry rules live in :mod:`skimd.domain.entries`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from skimd.domain.market import TickDirection, round_to_tick
from skimd.errors import IllegalTransitionError


class CandidateState(StrEnum):
    """Where a candidate is on its scan day.

    A new candidate is ``ranging``. It moves only by these moves (the names of
    :class:`CandidateMove`; :data:`CANDIDATE_MOVES` is the same table in code, and a test
    holds the two equal)::

        range_tradeable  ranging            -> tradeable  its opening range is complete
        range_skipped    ranging            -> skipped    complete, but flat or news missing
        entered          tradeable          -> entered    its entry intent is written
        too_small        tradeable          -> skipped    the breakout sizes to no shares
        entry_refused    entered            -> skipped    the broker refused the entry order
        entry_lapsed     entered            -> expired    the entry order ended with nothing filled
        closed           entered            -> closed     the position it opened is closed
        day_ended        ranging, tradeable -> expired    its day ended before it entered

    News is missing when it is required and the candidate has no price-sensitive
    announcement; a range is flat when ORH is not above ORL.

    ``skipped``, ``closed`` and ``expired`` are final. ``entered`` means an entry order
    exists, not that it filled: it stays ``entered`` while the position is open. ``skipped``
    is "not traded by decision" (ours, or the broker's refusal of the entry); ``expired`` is
    "not traded because time ran out" (the day ended, or the entry order lapsed unfilled).
    """

    RANGING = "ranging"
    TRADEABLE = "tradeable"
    SKIPPED = "skipped"
    ENTERED = "entered"
    CLOSED = "closed"
    EXPIRED = "expired"


class CandidateMove(StrEnum):
    """The named moves of a candidate (see :class:`CandidateState`)."""

    RANGE_TRADEABLE = "range_tradeable"
    RANGE_SKIPPED = "range_skipped"
    ENTERED = "entered"
    TOO_SMALL = "too_small"
    ENTRY_REFUSED = "entry_refused"
    ENTRY_LAPSED = "entry_lapsed"
    CLOSED = "closed"
    DAY_ENDED = "day_ended"


@dataclass(frozen=True, slots=True)
class Move:
    """One row of a lifecycle table: the states a move starts from, and where it leads."""

    sources: frozenset[CandidateState]
    target: CandidateState


def _move(*sources: CandidateState, to: CandidateState) -> Move:
    return Move(frozenset(sources), to)


_S = CandidateState
CANDIDATE_MOVES: Mapping[CandidateMove, Move] = MappingProxyType(
    {
        CandidateMove.RANGE_TRADEABLE: _move(_S.RANGING, to=_S.TRADEABLE),
        CandidateMove.RANGE_SKIPPED: _move(_S.RANGING, to=_S.SKIPPED),
        CandidateMove.ENTERED: _move(_S.TRADEABLE, to=_S.ENTERED),
        CandidateMove.TOO_SMALL: _move(_S.TRADEABLE, to=_S.SKIPPED),
        CandidateMove.ENTRY_REFUSED: _move(_S.ENTERED, to=_S.SKIPPED),
        CandidateMove.ENTRY_LAPSED: _move(_S.ENTERED, to=_S.EXPIRED),
        CandidateMove.CLOSED: _move(_S.ENTERED, to=_S.CLOSED),
        CandidateMove.DAY_ENDED: _move(_S.RANGING, _S.TRADEABLE, to=_S.EXPIRED),
    }
)
"""Every move a candidate may make: the one place its lifecycle is decided."""

EXPIRABLE_STATES: frozenset[CandidateState] = CANDIDATE_MOVES[CandidateMove.DAY_ENDED].sources
"""Ranging or tradeable: still watched by the intraday poll, and expired when the day ends."""

FINAL_STATES: frozenset[CandidateState] = frozenset(CandidateState) - frozenset(
    s for move in CANDIDATE_MOVES.values() for s in move.sources
)
"""States no move leaves."""


class IntentPurpose(StrEnum):
    """Why an order exists; part of its client order id, so it survives restarts."""

    ENTRY = "entry"
    STOP = "stop"  # resting stop order at the broker
    STOP_EXIT = "stop_exit"  # market exit after the daemon's own stop check
    PARTIAL = "partial"  # sell half on day N
    TRAIL = "trail"  # moving-average trail exit
    FLATTEN = "flatten"  # end-of-day flatten
    MANUAL = "manual"  # a flatten an operator asked for (`skimd flatten`)

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
    IntentPurpose.MANUAL: "M",
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
    while ``ranging`` and final afterwards.

    ``status`` changes only through the move methods below (:meth:`with_` refuses it), each
    of which raises :class:`~skimd.errors.IllegalTransitionError` when the candidate is not
    in a state its move starts from."""

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
        """A copy with data fields changed; the state moves only by a move method."""
        if "status" in changes:
            raise TypeError("a candidate's status changes only through its move methods")
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- moves (CandidateState documents them) ---------------------------------------------

    def can(self, move: CandidateMove) -> bool:
        """True when ``move`` may start from this candidate's state."""
        return self.status in CANDIDATE_MOVES[move].sources

    def range_complete(self, *, require_news: bool) -> CandidateRecord:
        """The opening range is final: ``tradeable``, or ``skipped`` when the range is flat
        (ORH not above ORL) or news is required and there is no price-sensitive one."""
        if self.orh is None or self.orl is None:
            raise IllegalTransitionError(
                f"candidate {self.ticker} {self.scan_date}: no opening range to complete"
            )
        skip = (require_news and not self.price_sensitive) or self.orh <= self.orl
        return self._moved(CandidateMove.RANGE_SKIPPED if skip else CandidateMove.RANGE_TRADEABLE)

    def entered(self) -> CandidateRecord:
        """Its entry intent is written (whether or not the order is placed yet)."""
        return self._moved(CandidateMove.ENTERED)

    def too_small(self) -> CandidateRecord:
        """The breakout came, but the risk and value limits allow not even one share."""
        return self._moved(CandidateMove.TOO_SMALL)

    def entry_refused(self) -> CandidateRecord:
        """The broker refused the entry order outright."""
        return self._moved(CandidateMove.ENTRY_REFUSED)

    def entry_lapsed(self) -> CandidateRecord:
        """The entry order ended (timed out, cancelled, dropped) with nothing filled."""
        return self._moved(CandidateMove.ENTRY_LAPSED)

    def closed(self) -> CandidateRecord:
        """The position its entry opened is closed."""
        return self._moved(CandidateMove.CLOSED)

    def expired(self) -> CandidateRecord:
        """Its day ended while it was still ranging or tradeable."""
        return self._moved(CandidateMove.DAY_ENDED)

    def _moved(self, move: CandidateMove) -> CandidateRecord:
        if not self.can(move):
            allowed = ", ".join(sorted(CANDIDATE_MOVES[move].sources))
            raise IllegalTransitionError(
                f"candidate {self.ticker} {self.scan_date} is {self.status.value}: "
                f"{move.value} moves only from {allowed}"
            )
        return replace(self, status=CANDIDATE_MOVES[move].target)


class PositionStatus(StrEnum):
    """``open`` while the daemon manages it; ``closed`` once nothing is held (final)."""

    OPEN = "open"
    CLOSED = "closed"


AVG_PRICE_STEP = Decimal("0.0001")  # average prices are kept to four decimal places


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A holding the daemon manages. ``entry_date`` is the market-zone session date of the
    entry fill; ``stop`` only ever moves up (:func:`ratchet_stop`). Fills change it only
    through :meth:`add_fill` and :meth:`reduce` (or :meth:`close` when it is gone)."""

    ticker: str
    qty: int
    avg_price: Decimal
    entry_date: date
    opened_at: datetime
    id: int | None = None
    conid: int | None = None
    stop: Decimal | None = None
    status: PositionStatus = PositionStatus.OPEN
    closed_at: datetime | None = None
    partial_exit_done: bool = False
    paused: bool = False
    candidate_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status is PositionStatus.OPEN

    @property
    def has_shares(self) -> bool:
        """Open with shares left to sell."""
        return self.is_open and self.qty > 0

    def add_fill(self, qty: int, price: Decimal) -> PositionRecord:
        """``qty`` more shares bought at ``price``: the average price becomes the
        quantity-weighted mean, to :data:`AVG_PRICE_STEP`."""
        if qty <= 0:
            raise ValueError(f"{self.ticker}: a buy fill adds shares, not {qty}")
        new_qty = self.qty + qty
        total = self.avg_price * self.qty + price * qty
        return replace(self, qty=new_qty, avg_price=(total / new_qty).quantize(AVG_PRICE_STEP))

    def reduce(self, qty: int, at: datetime, *, partial_exit: bool = False) -> PositionRecord:
        """``qty`` shares sold at ``at``: never below zero; at zero the position is closed
        (``closed_at`` = ``at``, even when a late second sell finds it closed already). The
        average price does not change; ``partial_exit`` marks the day-N half exit done."""
        if qty <= 0:
            raise ValueError(f"{self.ticker}: a sell fill removes shares, not {qty}")
        remaining = max(self.qty - qty, 0)
        closed = remaining == 0
        return replace(
            self,
            qty=remaining,
            status=PositionStatus.CLOSED if closed else PositionStatus.OPEN,
            closed_at=at if closed else None,
            partial_exit_done=self.partial_exit_done or partial_exit,
        )

    def close(self, at: datetime) -> PositionRecord:
        """Nothing is held any more (closed outside the daemon): zero shares, closed at ``at``."""
        return replace(self, qty=0, status=PositionStatus.CLOSED, closed_at=at)


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

    def price_of_increment(self, filled_qty: int, avg_fill_price: Decimal) -> Decimal:
        """The average price of the shares filled since this record, from the broker's
        cumulative ``filled_qty`` at ``avg_fill_price`` (to :data:`AVG_PRICE_STEP`)."""
        delta = filled_qty - self.filled_qty
        if delta <= 0:
            raise ValueError(f"order {self.client_order_id}: no new fill in {filled_qty}")
        if self.filled_qty == 0 or self.avg_fill_price is None:
            return avg_fill_price
        total = avg_fill_price * filled_qty - self.avg_fill_price * self.filled_qty
        return (total / delta).quantize(AVG_PRICE_STEP)


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
