"""One ticker's intraday price path and traded volume for a :class:`DayPlan`.

The path (log prices, one knot a minute, seeded per ticker-day like the plan) is a mean
course plus noise. The mean course holds the open for the day's first 5-15 minutes (the
opening range), then follows the day's regime (:mod:`.regimes`): a gap-and-go day ramps on
in the gap's direction, a gap-and-fade day slides back to the prior close (the gap fills),
a chop day stays put; from there it runs straight to the day's close. The noise is a
random walk with the U-shaped intraday volatility of :func:`.regimes.intraday_vol_weights`,
tied down at both ends (a Brownian bridge). The close is itself drawn with the day's full
volatility (:mod:`.day_plans`), so together the path moves like a free random walk with the
regime's drift: nothing pulls it late in the day onto a close chosen near the open.
Between minute knots the price is interpolated linearly, so prices exist at any instant.
Volume follows a fixed intraday profile (:func:`volume_fraction`).
"""

from __future__ import annotations

import bisect
import math
import random
from array import array
from dataclasses import dataclass
from datetime import datetime

from skimd.infrastructure.brokers.demo.day_plans import DayPlan, Draws
from skimd.infrastructure.brokers.demo.regimes import DayBehaviour, intraday_vol_weights


@dataclass(frozen=True, slots=True)
class PricePath:
    """Packed float arrays (8 bytes a knot, not a 24-byte object each): a 300-ticker day
    keeps ~430 k knots in memory."""

    times: array[float]  # epoch seconds of the minute knots, first = open, last = close
    prices: array[float]
    run_max: array[float]
    run_min: array[float]

    def at(self, t: float) -> float:
        if t <= self.times[0]:
            return self.prices[0]
        if t >= self.times[-1]:
            return self.prices[-1]
        i = bisect.bisect_right(self.times, t) - 1
        t0, t1 = self.times[i], self.times[i + 1]
        p0, p1 = self.prices[i], self.prices[i + 1]
        return p0 + (p1 - p0) * (t - t0) / (t1 - t0)

    def extremes(self, t: float) -> tuple[float, float]:
        """(high, low) from the open up to ``t``."""
        i = bisect.bisect_right(self.times, t) - 1
        now = self.at(t)
        return max(self.run_max[i], now), min(self.run_min[i], now)

    def first_cross(
        self, lo: float, hi: float, level: float, below: bool
    ) -> tuple[float, float] | None:
        """First (time, price) in [lo, hi] where the interpolated path reaches ``level``."""

        def hit(p: float) -> bool:
            return p <= level + 1e-9 if below else p >= level - 1e-9

        ta, pa = lo, self.at(lo)
        if hit(pa):
            return ta, pa
        i = bisect.bisect_right(self.times, lo)
        points = [
            (t, p) for t, p in zip(self.times[i:], self.prices[i:], strict=True) if t < hi
        ]
        points.append((hi, self.at(hi)))
        for tb, pb in points:
            if hit(pb):
                frac = min(max((level - pa) / (pb - pa), 0.0), 1.0)
                return ta + (tb - ta) * frac, level
            ta, pa = tb, pb
        return None


def build_path(seed: int, plan: DayPlan, draws: Draws) -> PricePath:
    """The path of ``plan`` (drawn with ``draws``), from its open to its close."""
    rng = random.Random(f"skimd-demo|{seed}|{plan.symbol}|{plan.day.isoformat()}|path")
    t0, t_end = plan.open_at.timestamp(), plan.close_at.timestamp()
    times = [t0 + 60.0 * i for i in range(int((t_end - t0) // 60) + 1)]
    if times[-1] < t_end:
        times.append(t_end)
    m = len(times) - 1
    mean = _mean_course(plan, draws, m)
    step = draws.vol / math.sqrt(m)
    walk, spent = [0.0], [0.0]  # the noise and its variance so far
    for w in intraday_vol_weights(m):
        walk.append(walk[-1] + step * w * rng.gauss(0.0, 1.0))
        spent.append(spent[-1] + (step * w) ** 2)
    prices = [
        max(math.exp(mu + x - walk[-1] * v / spent[-1]), 0.001)
        for mu, x, v in zip(mean, walk, spent, strict=True)
    ]
    prices[0], prices[-1] = float(plan.open), float(plan.close)
    run_max, run_min = [prices[0]], [prices[0]]
    for p in prices[1:]:
        run_max.append(max(run_max[-1], p))
        run_min.append(min(run_min[-1], p))
    return PricePath(
        array("d", times), array("d", prices), array("d", run_max), array("d", run_min)
    )


def _mean_course(plan: DayPlan, draws: Draws, m: int) -> list[float]:
    """The log price the path centres on at each of its ``m + 1`` knots: the open through
    the opening range, the regime's waypoint after its ramp, then straight to the close."""
    x0, x_close = math.log(float(plan.open)), math.log(float(plan.close))
    hold = min(draws.range_minutes, m)
    ramp_end = min(hold + draws.ramp_minutes, m)
    direction = 1.0 if draws.gap >= 0 else -1.0
    if draws.behaviour is DayBehaviour.BREAKOUT:
        waypoint = x0 + direction * max(abs(draws.gap), 0.03) * draws.ramp_frac
    elif draws.behaviour is DayBehaviour.FADE:
        waypoint = math.log(float(plan.prev_close))  # the gap fills
    else:
        waypoint, ramp_end = x0, hold
    course = []
    for i in range(m + 1):
        if i <= hold:
            course.append(x0)
        elif i <= ramp_end:
            course.append(x0 + (waypoint - x0) * (i - hold) / (ramp_end - hold))
        else:
            course.append(waypoint + (x_close - waypoint) * (i - ramp_end) / (m - ramp_end))
    return course


def volume_fraction(frac: float) -> float:
    """Cumulative share of the day's volume traded by ``frac`` of the session: 3 % in the
    opening auction, then a U-shaped profile (busy open and close)."""
    x = min(max(frac, 0.0), 1.0)
    return 0.03 + 0.97 * (0.5 * x + 2.0 * ((x - 0.5) ** 3 + 0.125))


def volume_at(plan: DayPlan, when: datetime) -> int:
    """Shares of ``plan``'s ticker traded from its open up to ``when``."""
    if when < plan.open_at:
        return 0
    span = (plan.close_at - plan.open_at).total_seconds()
    frac = (when - plan.open_at).total_seconds() / span
    return int(plan.volume * volume_fraction(frac))
