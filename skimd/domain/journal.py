"""Round trips and fee ledger lines computed from executions (pure; no storage).

A *round trip* is one ticker's position in one account going flat → long → flat: every buy
while flat opens one, buys while long add to it, sells reduce it, and the sell that brings
the position back to zero closes it. skimd trades a long-only cash account, so a sell with
no open position (or more than the open quantity) cannot be explained by the fills given
and raises :class:`UnmatchedSellError` naming the execution.

Money rules:

- Realised P&L is matched FIFO: a partial exit realises against the oldest open shares
  first (buy 1000 @ 1.00 and 1000 @ 1.20, sell 1000 → realised against the 1.00 lot).
  Once a round trip is closed FIFO and average cost give the same total, which is exactly
  ``sum(sell gross) - sum(buy gross)``.
- Net P&L subtracts commissions: every exit fill's own commission plus the share of each
  entry fill's commission belonging to the shares sold (pro rata; the last shares of a lot
  take the remainder, so a closed round trip's net is exactly gross - all commissions).
- Average prices are for display and storage (``round_trips.entry_avg/exit_avg``), rounded
  to :data:`AVG_PRICE_PLACES`; no P&L is computed from them.

Round trips are for shares: option fills (``Fill.sec_type == "OPT"``) are grouped into
options strategies by :mod:`skimd.domain.options` instead.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from skimd.errors import InvalidInputError

from .orders import Fill, Side

AVG_PRICE_PLACES = Decimal("0.000001")
"""Average prices are rounded (half-even) to six places: finer than any ASX tick."""

_ALLOC_PLACES = Decimal("0.000001")
_ALLOC_EXPONENT = -6


class RoundTripStatus(StrEnum):
    """Values of ``round_trips.status``."""

    OPEN = "open"
    CLOSED = "closed"


class UnmatchedSellError(InvalidInputError):
    """A sell the given fills cannot explain: no open position, or more than the open qty.

    Usually a position opened before the journal's history or outside skimd; the caller
    decides whether to adopt it. ``exec_id`` names the execution at fault.
    """

    def __init__(self, message: str, exec_id: str) -> None:
        super().__init__(message)
        self.exec_id = exec_id


@dataclass(frozen=True, slots=True)
class RoundTripView:
    """One round trip, mapping 1:1 onto ``round_trips`` (see :meth:`qty` for ``qty``).

    ``entries``/``exits`` are in execution order. ``realised_gross``/``realised_net`` cover
    the shares sold so far (0 with no exits); for a closed trip they are the trip's P&L.
    ``commission`` is the total over all its fills (the table's ``fees``).
    """

    account: str
    ticker: str
    conid: int
    entries: tuple[Fill, ...]
    exits: tuple[Fill, ...]
    qty_bought: int
    qty_sold: int
    avg_entry_price: Decimal
    avg_exit_price: Decimal | None
    realised_gross: Decimal
    realised_net: Decimal
    commission: Decimal
    opened_at: datetime
    closed_at: datetime | None

    @property
    def key(self) -> str:
        """A stable identity: the exec_id of the first entry. A stored open round trip is
        the view whose key is its first trade's exec_id."""
        return self.entries[0].exec_id

    @property
    def open_qty(self) -> int:
        return self.qty_bought - self.qty_sold

    @property
    def status(self) -> RoundTripStatus:
        return RoundTripStatus.OPEN if self.open_qty else RoundTripStatus.CLOSED

    @property
    def is_closed(self) -> bool:
        return self.status is RoundTripStatus.CLOSED

    @property
    def qty(self) -> int:
        """The ``round_trips.qty`` column: shares bought (the size of the position taken)."""
        return self.qty_bought

    @property
    def holding_time(self) -> timedelta | None:
        """First entry to final exit; None while open (use :meth:`holding_time_at`)."""
        return None if self.closed_at is None else self.closed_at - self.opened_at

    def holding_time_at(self, now: datetime) -> timedelta:
        """Held so far as of ``now`` (an open trip), or the final holding time (closed)."""
        return (self.closed_at or now) - self.opened_at

    @property
    def fills(self) -> tuple[Fill, ...]:
        """Entries and exits together, in execution order."""
        return tuple(sorted(self.entries + self.exits, key=fill_order))

    @property
    def exec_ids(self) -> tuple[str, ...]:
        return tuple(f.exec_id for f in self.fills)


def fill_order(fill: Fill) -> tuple[datetime, str]:
    """The one ordering of executions everywhere in the journal: time, then exec_id."""
    return (fill.executed_at, fill.exec_id)


def build_round_trips(fills: Sequence[Fill]) -> list[RoundTripView]:
    """Group executions into round trips per (account, ticker).

    Fills may come in any order; they are processed by :func:`fill_order`. The result is
    ordered by (opened_at, key). At most one round trip per (account, ticker) is open, the
    last one. Raises InvalidInputError for a duplicate exec_id or a non-positive qty,
    and :class:`UnmatchedSellError` for a sell the fills cannot explain.
    """
    seen: set[str] = set()
    groups: dict[tuple[str, str], list[Fill]] = defaultdict(list)
    for fill in fills:
        if fill.exec_id in seen:
            raise InvalidInputError(f"execution {fill.exec_id!r} appears twice")
        seen.add(fill.exec_id)
        if fill.qty <= 0:
            raise InvalidInputError(
                f"execution {fill.exec_id!r} ({fill.symbol}): qty must be positive, got {fill.qty}"
            )
        groups[(fill.account, fill.symbol)].append(fill)

    trips: list[RoundTripView] = []
    for group in groups.values():
        trips.extend(_split(sorted(group, key=fill_order)))
    trips.sort(key=lambda rt: (rt.opened_at, rt.key))
    return trips


def _split(ordered: Sequence[Fill]) -> Iterable[RoundTripView]:
    """Cut one ticker's ordered fills wherever the position returns to zero."""
    current: list[Fill] = []
    position = 0
    for fill in ordered:
        if fill.side is Side.SELL and fill.qty > position:
            what = "no open position" if position == 0 else f"only {position} open"
            raise UnmatchedSellError(
                f"execution {fill.exec_id!r} sells {fill.qty} {fill.symbol} "
                f"in account {fill.account} with {what}",
                exec_id=fill.exec_id,
            )
        current.append(fill)
        position += fill.side.sign * fill.qty
        if position == 0:
            yield _summarise(current)
            current = []
    if current:
        yield _summarise(current)


@dataclass(slots=True)
class _Lot:
    qty: int
    price: Decimal
    commission_left: Decimal
    original_qty: int
    original_commission: Decimal


def _summarise(fills: Sequence[Fill]) -> RoundTripView:
    entries = tuple(f for f in fills if f.side is Side.BUY)
    exits = tuple(f for f in fills if f.side is Side.SELL)
    lots: deque[_Lot] = deque(
        _Lot(f.qty, f.price, f.commission, f.qty, f.commission) for f in entries
    )
    gross = Decimal(0)
    net = Decimal(0)
    for sale in exits:
        left = sale.qty
        net -= sale.commission
        while left:
            lot = lots[0]
            take = min(left, lot.qty)
            pnl = (sale.price - lot.price) * take
            gross += pnl
            if take == lot.qty:
                fee = lot.commission_left
                lots.popleft()
            else:
                fee = _alloc(lot.original_commission * take / lot.original_qty)
                lot.qty -= take
                lot.commission_left -= fee
            net += pnl - fee
            left -= take

    qty_bought = sum(f.qty for f in entries)
    qty_sold = sum(f.qty for f in exits)
    closed = qty_bought == qty_sold
    first = fills[0]
    return RoundTripView(
        account=first.account,
        ticker=first.symbol,
        conid=first.conid,
        entries=entries,
        exits=exits,
        qty_bought=qty_bought,
        qty_sold=qty_sold,
        avg_entry_price=_avg(entries),
        avg_exit_price=_avg(exits) if exits else None,
        realised_gross=gross,
        realised_net=net,
        commission=sum((f.commission for f in fills), Decimal(0)),
        opened_at=first.executed_at,
        closed_at=fills[-1].executed_at if closed else None,
    )


def _avg(fills: Sequence[Fill]) -> Decimal:
    total = sum((f.gross for f in fills), Decimal(0))
    qty = sum(f.qty for f in fills)
    return _trim((total / qty).quantize(AVG_PRICE_PLACES, ROUND_HALF_EVEN))


def _trim(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent form (1.250000 → 1.25, 100 → 100)."""
    trimmed = value.normalize()
    exponent = trimmed.as_tuple().exponent
    return trimmed.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else trimmed


def _alloc(value: Decimal) -> Decimal:
    """A pro-rata commission share, rounded only when it does not divide evenly."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _ALLOC_EXPONENT:
        return value.quantize(_ALLOC_PLACES, ROUND_HALF_EVEN)
    return value


class LedgerKind(StrEnum):
    """Values of ``transaction_ledger.kind`` this module produces."""

    COMMISSION = "commission"


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One ``transaction_ledger`` row. ``amount`` is the signed cash effect: a fee paid is
    negative, a rebate positive. ``exec_id`` identifies the trade to link (``trade_id``)."""

    account: str
    exec_id: str
    kind: LedgerKind
    amount: Decimal
    occurred_at: datetime
    description: str


def ledger_entries(fill: Fill) -> list[LedgerLine]:
    """The fee lines one execution causes.

    Fill carries a single ``commission`` (IBKR reports exchange and clearing fees and GST
    inside it), so this yields at most one COMMISSION line, none when the commission is 0.
    """
    if fill.commission == 0:
        return []
    return [
        LedgerLine(
            account=fill.account,
            exec_id=fill.exec_id,
            kind=LedgerKind.COMMISSION,
            amount=-fill.commission,
            occurred_at=fill.executed_at,
            description=f"{fill.side} {fill.qty} {fill.symbol} @ {fill.price}",
        )
    ]
