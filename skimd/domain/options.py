"""Options strategies: multi-leg option executions grouped by underlying (pure; no storage).

How executions become strategies:

1. Only fills with an :class:`~skimd.domain.orders.OptionLeg` take part. An ``OPT`` fill whose
   contract the broker's description did not reveal is left out rather than guessed at.
2. *Tickets*: the fills of one account and underlying that came from one order (the same
   ``broker_order_id``, however late its partial fills arrive) or that executed within
   ``window`` (2 s) of the ticket's first fill. A combo sent as one order and the legs of a
   combo sent as separate orders at once both make one ticket.
3. Fills are taken oldest first. Each one first reduces the open legs of strategies opened by
   *earlier* tickets on that underlying (oldest strategy first; a sale reduces a held
   contract, a purchase a sold one); whatever is left of it opens a leg of its own ticket's
   strategy. So a roll closes the old leg and opens a new strategy with the new one.
4. A strategy is closed once every leg's net quantity is back to 0; ``closed_at`` is the
   execution that made it so.

Names come from the opening legs (per contract and side): one leg ``long call`` / ``short
put``...; two legs of one right and expiry at different strikes, bought and sold in equal
quantity, ``vertical call spread`` / ``vertical put spread``; a call and a put of one expiry
on the same side in equal quantity, ``straddle`` (same strike) or ``strangle``; two put and
two call verticals of one expiry with the puts below the calls and the inner strikes on one
side, ``iron condor``; anything else ``N-leg combo``.

Net premium is the opening legs' cash flow, ``-sign(side) x price x qty x multiplier`` summed
(a purchase pays, a sale receives): negative is a debit paid, positive a credit received.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import NamedTuple

from .orders import Fill, OptionLeg, Side

COMBO_WINDOW = timedelta(seconds=2)
"""Fills of one underlying this close to a ticket's first fill belong to that ticket."""

_PRICE_PLACES = Decimal("0.000001")


class StrategyStatus(StrEnum):
    """Values of ``options_strategies.status``."""

    OPEN = "open"
    CLOSED = "closed"


class StrategyLeg(NamedTuple):
    """One opening leg: a contract bought or sold, ``qty`` contracts at the average
    per-share ``price``; ``multiplier`` shares per contract."""

    right: str
    strike: Decimal
    expiry: date
    side: Side
    qty: int
    price: Decimal
    multiplier: int = 100


@dataclass(frozen=True, slots=True)
class OptionsStrategyView:
    """One strategy as grouped from executions (see the module docs).

    ``legs`` are the opening legs ordered by expiry, right, strike and side; ``exec_ids``
    every execution allocated to the strategy, opening and closing, oldest first.
    """

    name: str
    underlying: str
    account: str
    legs: tuple[StrategyLeg, ...]
    opened_at: datetime
    net_premium: Decimal
    status: StrategyStatus
    closed_at: datetime | None
    exec_ids: tuple[str, ...]


@dataclass
class _Working:
    account: str
    underlying: str
    ticket: int
    opened_at: datetime
    opening: list[tuple[Fill, OptionLeg, int]] = field(default_factory=list)
    held: dict[OptionLeg, int] = field(default_factory=dict)
    exec_ids: list[str] = field(default_factory=list)
    closed_at: datetime | None = None

    @property
    def closed(self) -> bool:
        return all(q == 0 for q in self.held.values())

    def touch(self, exec_id: str) -> None:
        if exec_id not in self.exec_ids:
            self.exec_ids.append(exec_id)


def group_strategies(
    fills: Iterable[Fill], window: timedelta = COMBO_WINDOW
) -> list[OptionsStrategyView]:
    """Options strategies from ``fills`` (any mix; shares and unreadable options are
    ignored, a repeated ``exec_id`` counts once), ordered by ``opened_at``."""
    seen: set[str] = set()
    legs: list[Fill] = []
    for fill in sorted(fills, key=lambda f: (f.executed_at, f.exec_id)):
        if fill.option is not None and fill.exec_id not in seen:
            seen.add(fill.exec_id)
            legs.append(fill)
    tickets = _tickets(legs, window)
    open_by: dict[tuple[str, str], list[_Working]] = {}
    by_ticket: dict[int, _Working] = {}
    made: list[_Working] = []
    for fill, ticket in zip(legs, tickets, strict=True):
        leg = fill.option
        assert leg is not None
        key = (fill.account, leg.underlying)
        opened = open_by.setdefault(key, [])
        remaining = fill.qty
        for strategy in opened:
            if remaining == 0:
                break
            held = strategy.held.get(leg, 0)
            if strategy.ticket == ticket or held == 0 or (held > 0) == (fill.side is Side.BUY):
                continue
            take = min(abs(held), remaining)
            strategy.held[leg] = held + fill.side.sign * take
            strategy.touch(fill.exec_id)
            remaining -= take
            if strategy.closed:
                strategy.closed_at = fill.executed_at
        if remaining:
            own = by_ticket.get(ticket)
            if own is None:
                own = _Working(fill.account, leg.underlying, ticket, fill.executed_at)
                by_ticket[ticket] = own
                opened.append(own)
                made.append(own)
            own.opening.append((fill, leg, remaining))
            own.held[leg] = own.held.get(leg, 0) + fill.side.sign * remaining
            own.touch(fill.exec_id)
        open_by[key] = [s for s in opened if not s.closed]
    return [_view(s) for s in made]


def _tickets(fills: Sequence[Fill], window: timedelta) -> list[int]:
    """The ticket number of each fill (fills oldest first; see the module docs)."""
    by_order: dict[tuple[str, str, str], int] = {}
    current: dict[tuple[str, str], tuple[int, datetime]] = {}
    out: list[int] = []
    made = 0
    for fill in fills:
        assert fill.option is not None
        key = (fill.account, fill.option.underlying)
        order = (fill.account, fill.option.underlying, fill.broker_order_id)
        latest = current.get(key)
        if fill.broker_order_id and order in by_order:
            ticket = by_order[order]
        elif latest is not None and fill.executed_at - latest[1] <= window:
            ticket = latest[0]
        else:
            ticket, made = made, made + 1
            current[key] = (ticket, fill.executed_at)
        if fill.broker_order_id:
            by_order.setdefault(order, ticket)
        out.append(ticket)
    return out


def _view(strategy: _Working) -> OptionsStrategyView:
    totals: dict[tuple[OptionLeg, Side], tuple[int, Decimal]] = {}
    premium = Decimal(0)
    for fill, leg, qty in strategy.opening:
        count, money = totals.get((leg, fill.side), (0, Decimal(0)))
        totals[(leg, fill.side)] = (count + qty, money + fill.price * qty)
        premium -= fill.side.sign * fill.price * qty * leg.multiplier
    legs = sorted(
        (
            StrategyLeg(
                leg.right, leg.strike, leg.expiry, side, qty, _avg(money, qty), leg.multiplier
            )
            for (leg, side), (qty, money) in totals.items()
        ),
        key=lambda g: (g.expiry, g.right, g.strike, g.side.value, g.multiplier),
    )
    closed = strategy.closed
    return OptionsStrategyView(
        name=strategy_name(legs),
        underlying=strategy.underlying,
        account=strategy.account,
        legs=tuple(legs),
        opened_at=strategy.opened_at,
        net_premium=premium,
        status=StrategyStatus.CLOSED if closed else StrategyStatus.OPEN,
        closed_at=strategy.closed_at if closed else None,
        exec_ids=tuple(strategy.exec_ids),
    )


def strategy_name(legs: Sequence[StrategyLeg]) -> str:
    """The shape of a strategy's opening legs (see the module docs for the names)."""
    n = len(legs)
    if n == 1:
        leg = legs[0]
        return f"{'long' if leg.side is Side.BUY else 'short'} {_right(leg.right)}"
    one_expiry = len({g.expiry for g in legs}) == 1
    one_qty = len({g.qty for g in legs}) == 1
    if n == 2 and one_expiry and one_qty:
        a, b = legs
        if a.right == b.right and a.strike != b.strike and a.side is not b.side:
            return f"vertical {_right(a.right)} spread"
        if a.right != b.right and a.side is b.side:
            return "straddle" if a.strike == b.strike else "strangle"
    if n == 4 and one_expiry and one_qty:
        puts = sorted((g for g in legs if g.right == "P"), key=lambda g: g.strike)
        calls = sorted((g for g in legs if g.right == "C"), key=lambda g: g.strike)
        if len(puts) == 2 == len(calls):
            (p_out, p_in), (c_in, c_out) = puts, calls
            if (
                p_out.strike < p_in.strike < c_in.strike < c_out.strike
                and p_in.side is c_in.side
                and p_out.side is c_out.side
                and p_in.side is not p_out.side
            ):
                return "iron condor"
    return f"{n}-leg combo"


def _right(right: str) -> str:
    return "call" if right == "C" else "put"


def _avg(money: Decimal, qty: int) -> Decimal:
    """Average price, exact when it divides evenly, else half-even to six places; without
    trailing zeros or exponent form."""
    value = money / qty
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        value = value.quantize(_PRICE_PLACES, ROUND_HALF_EVEN)
    trimmed = value.normalize()
    exponent = trimmed.as_tuple().exponent
    return trimmed.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else trimmed
