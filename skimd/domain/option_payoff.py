"""What an options strategy can make or lose if held to expiry (pure; no storage).

From the opening legs (:class:`~skimd.domain.options.StrategyLeg`) and the net premium
(negative: a debit paid; positive: a credit received), the P&L at expiry as a function of
the underlying's price S is

    net premium + Σ sign(side) x qty x multiplier x intrinsic(S)

which is piecewise linear with corners at the strikes. So its extremes are at S = 0, at a
strike, or unbounded beyond the highest strike (the slope there is the calls' net
quantity): ``max_profit`` is None when a net long call makes it unlimited, ``max_loss``
None when a net short call does. ``max_loss`` is the amount that can be lost (≥ 0; 0
when no price loses). Breakevens are the prices where the P&L crosses 0 (four decimal
places). Legs of several expiries have no single expiry payoff: every figure is None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from .options import StrategyLeg

_PLACES = Decimal("0.0001")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PayoffProfile:
    max_profit: Decimal | None  # None: unlimited
    max_loss: Decimal | None  # None: unlimited; an amount ≥ 0
    breakevens: tuple[Decimal, ...]


def expiry_payoff(legs: Sequence[StrategyLeg], net_premium: Decimal) -> PayoffProfile | None:
    """The profile at expiry; None for no legs or legs of several expiries."""
    if not legs or len({leg.expiry for leg in legs}) != 1:
        return None
    strikes = sorted({leg.strike for leg in legs})
    points = [_ZERO, *(k for k in strikes if k > 0)]
    values = [pnl_at(legs, net_premium, s) for s in points]
    slope = sum(
        (leg.side.sign * leg.qty * leg.multiplier for leg in legs if leg.right == "C"), 0
    )
    highest, lowest = max(values), min(values)
    max_profit = None if slope > 0 else highest
    max_loss = None if slope < 0 else max(_ZERO, -lowest)
    crossings: list[Decimal] = []
    for (a, pa), (b, pb) in zip(
        zip(points, values, strict=True), zip(points[1:], values[1:], strict=True),
        strict=False,
    ):
        if pa == 0:
            crossings.append(a)
        elif pa * pb < 0:
            crossings.append(a + (b - a) * (-pa) / (pb - pa))
    last, p_last = points[-1], values[-1]
    if p_last == 0:
        crossings.append(last)
    elif slope != 0 and -p_last / slope > 0:
        crossings.append(last + (-p_last) / slope)
    unique = dict.fromkeys(c.quantize(_PLACES, ROUND_HALF_EVEN) for c in crossings)
    return PayoffProfile(max_profit, max_loss, tuple(sorted(unique)))


def pnl_at(legs: Sequence[StrategyLeg], net_premium: Decimal, price: Decimal) -> Decimal:
    """The strategy's P&L at expiry with the underlying at ``price``."""
    total = net_premium
    for leg in legs:
        if leg.right == "C":
            intrinsic = max(_ZERO, price - leg.strike)
        else:
            intrinsic = max(_ZERO, leg.strike - price)
        total += leg.side.sign * leg.qty * leg.multiplier * intrinsic
    return total
