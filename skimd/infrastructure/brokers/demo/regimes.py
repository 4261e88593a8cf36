"""The demo market's regimes: how a gap day plays out, and how its move carries into the days
after it. Parameters come from published counts, cited here with the numbers taken; none of
them was chosen by looking at how the opening-gap strategy fares on the result.

Sources and what was taken from each:

- **Same-day gap fill.** B. Steenbarger, "Do opening gaps tend to fill?" (TraderFeed, Nov
  2006; SPY, May 2003 on, N = 897 days): of the gaps larger than 40 % of the prior day's
  range, 46 of 99 up gaps and 40 of 81 down gaps did not fill during the day, i.e. "about
  half of all large opening gaps don't fill", while 80-90 % of small gaps do.
  MarketExceptions, "Size matters" (gap study 1997-2010): 70 % of all gaps close the same
  day, ~80 % of gaps within ±3 %, ~90 % within ±1 %.
  -> :data:`FILL_SHARE` = 0.5: half of the large gaps (|gap| >= :data:`LARGE_GAP`) are
  "gap-and-fade" days that trade back to the prior close. Small gaps are "chop" days whose
  intraday noise (a daily volatility far larger than the gap) fills most of them by itself.
- **How the unfilled half splits.** The sources count fills, not what the unfilled gaps do
  next; Quantifiable Edges ("1 % gap down stats", 24 gaps) found 10 of 19 breakouts above
  the first half hour's high closing above the breakout, close to a coin flip. With nothing
  better to go on the unfilled half is split evenly: :data:`GO_SHARE` = :data:`CHOP_SHARE`
  = 0.25 ("gap-and-go": extends past the open in the gap's direction; "chop": holds the gap
  and closes between the prior close and the open).
- **Follow-through after the gap day.** Steenbarger (same study): after a large up gap the
  next day's close-to-close change averaged +0.18 % (68 up, 31 down), after a small gap
  +0.03 %; with large SPY gaps averaging about 0.6 % that is roughly 0.3 of the gap on the
  next day. W. S. Chan, "Stock price reaction to news and no-news: drift and reversal after
  headlines", J. Financial Economics 70 (2003) 223-260: prices drift on after public news
  (strongest after bad news) and reverse after extreme moves without news, "mainly in
  smaller, more illiquid stocks".
  -> a gap-and-go day's close keeps drifting in the gap's direction on the following days:
  :data:`FOLLOW_THROUGH` = 0.3 of the gap (in log terms) on day +1, halving each day after
  (:data:`FOLLOW_DECAY` = 0.5, so ~0.6 of the gap in all over about five sessions). Only
  the go days get it (a quarter of large gaps), so across all large gaps the next-day drift
  is below the published 0.3; fade days keep only what their close kept.
- **Intraday volatility.** R. Wood, T. McInish, J. K. Ord, "An investigation of
  transactions data for NYSE stocks", J. Finance 40 (1985) 723-739 (and McInish & Wood
  1990, 1980-84 data): the variability of returns over the day is a "crude U": high at the
  open and at the close, low at midday. A. Sampath, G. ArunKumar, "Do intraday volatility
  patterns follow a 'U' curve?" (SSRN 2255391, 2013): high during the first 30 minutes,
  rising again in the last 15.
  -> :func:`intraday_vol_weights`: the per-minute volatility is twice midday's at the
  open, decaying over the first ~30 minutes, and 1.5 times midday's in the last ~15, scaled
  so the day's total variance is the ticker's daily variance.

How a day is priced (log prices; no recursion over history, so any date can be asked
directly): ``log close(d) = log fair(d) + Σ_k shock(d - k, k)`` over the last
:data:`MEMORY_DAYS` sessions, where a day's own shock is its gap times its regime's
persistence plus its own open-to-close noise (the ticker's daily volatility), plus a go
day's follow-through on later days; every shock decays by :data:`LEVEL_DECAY` a session,
so prices wander off their fair value for weeks and come back (a shock older than the
memory, weighted < 0.1, is dropped). ``open = prev_close * (1 + gap)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from enum import StrEnum

LARGE_GAP = 0.02  # a gap that gets a regime of its own (smaller ones are chop)
FILL_SHARE = 0.5
GO_SHARE = 0.25
CHOP_SHARE = 0.25
FOLLOW_THROUGH = 0.3
FOLLOW_DECAY = 0.5
LEVEL_DECAY = 0.95  # a day's shock keeps 95 % a session: half-life ~13.5 sessions
MEMORY_DAYS = 45  # 0.95 ** 45 < 0.1
OPEN_VOL_BOOST = 1.0  # extra per-minute volatility at the open (x midday), decays ...
OPEN_VOL_MINUTES = 10.0  # ... with this time constant: ~5 % left after 30 minutes
CLOSE_VOL_BOOST = 0.5  # extra at the close, rising over ...
CLOSE_VOL_MINUTES = 5.0  # ... this time constant: the last ~15 minutes


class DayBehaviour(StrEnum):
    """A ticker-day's regime: gap-and-go (``BREAKOUT``), gap-and-fade, or chop."""

    BREAKOUT = "breakout"
    FADE = "fade"
    CHOP = "chop"


def choose_regime(rng: random.Random, gap: float) -> tuple[DayBehaviour, float]:
    """The regime of a day with ``gap`` and its persistence: the share of the gap the close
    keeps (go: 1.0-1.6, beyond the open; fade: 0-0.5, most of the gap given back; chop:
    0.5-1.0). Draws two numbers from ``rng`` whatever the gap."""
    u, v = rng.random(), rng.random()
    if abs(gap) < LARGE_GAP:
        return DayBehaviour.CHOP, 0.5 + 0.5 * v
    if u < FILL_SHARE:
        return DayBehaviour.FADE, 0.5 * v
    if u < FILL_SHARE + GO_SHARE:
        return DayBehaviour.BREAKOUT, 1.0 + 0.6 * v
    return DayBehaviour.CHOP, 0.5 + 0.5 * v


def day_shock(gap: float, persistence: float, noise: float) -> float:
    """The log move a day adds to the price level on its own session: the part of its gap
    the close keeps plus its open-to-close ``noise`` (already scaled to the ticker)."""
    return math.log1p(gap) * persistence + noise


def follow_through(behaviour: DayBehaviour, gap: float, lag: int) -> float:
    """The cumulative log drift a day of ``behaviour`` and ``gap`` has added by ``lag``
    sessions after it (0 on the day itself and for every regime but gap-and-go)."""
    if behaviour is not DayBehaviour.BREAKOUT or lag <= 0:
        return 0.0
    total = (1.0 - FOLLOW_DECAY**lag) / (1.0 - FOLLOW_DECAY)
    return FOLLOW_THROUGH * math.log1p(gap) * total


def level(history: Sequence[tuple[DayBehaviour, float, float, float]]) -> float:
    """The log offset of a close from fair value, from the last sessions' draws, newest
    first: ``(behaviour, gap, persistence, noise)`` of the day itself, then of each session
    before it (at most :data:`MEMORY_DAYS`)."""
    total = 0.0
    for lag, (behaviour, gap, persistence, noise) in enumerate(history[:MEMORY_DAYS]):
        shock = day_shock(gap, persistence, noise) + follow_through(behaviour, gap, lag)
        total += shock * LEVEL_DECAY**lag
    return total


def intraday_vol_weights(minutes: int) -> list[float]:
    """Per-minute volatility multipliers for a session of ``minutes`` one-minute steps: a
    U over the day (see the module doc), scaled so their squares sum to ``minutes`` (the
    day's variance is kept)."""
    raw = [
        1.0
        + OPEN_VOL_BOOST * math.exp(-i / OPEN_VOL_MINUTES)
        + CLOSE_VOL_BOOST * math.exp(-(minutes - 1 - i) / CLOSE_VOL_MINUTES)
        for i in range(minutes)
    ]
    scale = math.sqrt(minutes / sum(w * w for w in raw))
    return [w * scale for w in raw]
