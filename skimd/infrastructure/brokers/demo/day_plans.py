"""One ticker's simulated session: the seeded draws for a ticker-day and the plan made of them.

Determinism: every draw comes from ``random.Random`` seeded with a string built from the
market seed, the ticker and the session date, so the same seed and date always give the
same gap and behaviour, in any order of questions, on any machine.

Price model (no recursion over history, so any date can be asked directly):

- each ticker has a slowly wandering fair price (:func:`fair_price`: two sine waves in log
  space around its base);
- a day's gap is mostly small, a few are large; its regime (gap-and-go, gap-and-fade, chop),
  the share of the gap its close keeps and its open-to-close noise are drawn as
  :mod:`.regimes` documents (with the published facts they come from);
- ``close(day) = fair_price(day) * exp(level)``, where the level sums the decaying shocks
  of the last sessions (:func:`.regimes.level`: a gap-and-go day keeps drifting for a few
  days), clamped to $0.05-$120 (:func:`closing_price`);
- ``prev_close(day) = close(previous trading day)`` and ``open = prev_close * (1 + gap)``;
- the ticker's opening auction ends up to :data:`AUCTION_SPREAD_S` seconds after the
  session's open (its own offset, drawn per day).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from skimd.domain.calendar import MarketSession
from skimd.domain.market import TickDirection, gap_pct, round_to_tick
from skimd.infrastructure.brokers.demo.regimes import DayBehaviour, choose_regime, level
from skimd.infrastructure.brokers.demo.universe import Ticker

AUCTION_SPREAD_S = 120.0
MIN_PRICE, MAX_PRICE = 0.05, 120.0


@dataclass(frozen=True, slots=True)
class Draws:
    """The random choices for one ticker-day; they never depend on prices."""

    gap: float  # fraction, 0.05 = +5 %
    behaviour: DayBehaviour
    persistence: float
    noise: float  # the day's own open-to-close log move, scaled to the ticker
    vol: float  # the day's volatility (the ticker's, more on a gap day)
    open_offset_s: float
    volume_mult: float
    range_minutes: int
    ramp_minutes: int
    ramp_frac: float


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One ticker's session: prices are on the ASX tick grid, times aware UTC."""

    symbol: str
    conid: int
    day: date
    prev_close: Decimal
    open: Decimal
    gap_pct: Decimal
    close: Decimal
    open_at: datetime
    close_at: datetime
    volume: int
    behaviour: DayBehaviour
    range_minutes: int


def tick_price(value: float, direction: TickDirection = TickDirection.NEAREST) -> Decimal:
    """A simulated float price as an ASX price (on the tick grid, never below one tick)."""
    return round_to_tick(Decimal(f"{max(value, 0.0005):.6f}"), direction)


def draw(seed: int, ticker: Ticker, day: date) -> Draws:
    """The seeded choices of ``ticker`` on ``day``: mostly small gaps, a few large ones,
    each with a regime (:func:`.regimes.choose_regime`) and its own open-to-close noise."""
    rng = random.Random(f"skimd-demo|{seed}|{ticker.symbol}|{day.isoformat()}|plan")
    u = rng.random()
    if u < 0.03:
        gap = 0.04 + 0.11 * rng.random() ** 1.7
    elif u < 0.045:
        gap = -(0.04 + 0.06 * rng.random())
    elif u < 0.10:
        gap = rng.choice((1.0, -1.0)) * rng.uniform(0.02, 0.04)
    else:
        gap = min(max(rng.gauss(0.0005, 0.007), -0.02), 0.02)
    behaviour, persistence = choose_regime(rng, gap)
    size = 1.0
    if abs(gap) >= 0.04:
        size = rng.uniform(4.0, 10.0)
    elif abs(gap) >= 0.02:
        size = rng.uniform(1.5, 3.0)
    vol = ticker.daily_vol * (1.0 + abs(gap) * 10.0)  # gap days move more
    return Draws(
        gap=gap,
        behaviour=behaviour,
        persistence=persistence,
        open_offset_s=round(rng.uniform(0.0, AUCTION_SPREAD_S), 3),
        volume_mult=rng.lognormvariate(0.0, 0.35) * size,
        range_minutes=rng.randint(5, 15),
        ramp_minutes=rng.randint(15, 45),
        ramp_frac=rng.uniform(0.4, 0.9),
        noise=rng.gauss(0.0, vol),
        vol=vol,
    )


def fair_price(ticker: Ticker, day: date) -> float:
    o = day.toordinal()
    wander = sum(
        a * math.sin(2 * math.pi * o / p + ph)
        for a, p, ph in zip(ticker.swing, ticker.period, ticker.phase, strict=True)
    )
    return ticker.base * math.exp(wander)


def closing_price(ticker: Ticker, day: date, history: Sequence[Draws]) -> Decimal:
    """``ticker``'s close on ``day`` from the draws of ``day`` and the sessions before it,
    newest first (as many as :data:`.regimes.MEMORY_DAYS`)."""
    offset = level([(d.behaviour, d.gap, d.persistence, d.noise) for d in history])
    value = fair_price(ticker, day) * math.exp(offset)
    return tick_price(min(max(value, MIN_PRICE), MAX_PRICE))


def make_plan(
    ticker: Ticker, session: MarketSession, draws: Draws, prev_close: Decimal, close: Decimal
) -> DayPlan:
    """``ticker``'s plan for ``session`` given its draws and the two closes around it."""
    open_ = tick_price(float(prev_close) * (1.0 + draws.gap))
    return DayPlan(
        symbol=ticker.symbol,
        conid=ticker.conid,
        day=session.day,
        prev_close=prev_close,
        open=open_,
        gap_pct=gap_pct(prev_close, open_),
        close=close,
        open_at=session.open_at.astimezone(UTC) + timedelta(seconds=draws.open_offset_s),
        close_at=session.close_at.astimezone(UTC),
        volume=max(1000, int(ticker.turnover / float(prev_close) * draws.volume_mult)),
        behaviour=draws.behaviour,
        range_minutes=draws.range_minutes,
    )
