"""Axis ticks and label placement for the Pillow charts (pure arithmetic, no Pillow).

- :func:`price_ticks`: "nice" price steps (1, 2, 2.5, 5 x 10^k) that are whole multiples of
  the ASX tick at that price, so a label reads 3.20/3.25/3.30, never 3.22/3.28/3.33;
- :func:`time_ticks`: round wall-clock minutes in the market zone (10:00, 10:30, ...);
- :func:`spread_labels`: label positions moved apart just enough never to overlap;
- :func:`place_label`: a marker label's box, clear of other labels and of the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from itertools import pairwise

from skimd.domain.market import asx_tick_size

Box = tuple[float, float, float, float]
"""A screen rectangle: x0, y0, x1, y1 (y grows downwards)."""
LABEL_HEIGHT = 14

_MANTISSAS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
_TIME_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 240)


def price_ticks(lo: Decimal, hi: Decimal, *, max_ticks: int = 6) -> list[Decimal]:
    """Tick values inside ``[lo, hi]``: the smallest nice step giving at most ``max_ticks``
    ticks, itself a multiple of the ASX tick at ``hi`` (at least one tick). Empty when the
    range is empty."""
    if hi < lo or max_ticks < 1:
        return []
    floor = asx_tick_size(max(hi, Decimal("0.001")))
    span = hi - lo
    step = floor
    for exponent in range(-3, 7):
        scale = Decimal(10) ** exponent
        found = False
        for mantissa in _MANTISSAS:
            candidate = mantissa * scale
            if candidate < floor or candidate % floor != 0:
                continue
            if span / candidate <= max_ticks - 1 or span == 0:
                step, found = candidate, True
                break
        if found:
            break
    first = (lo / step).to_integral_value(ROUND_CEILING) * step
    last = (hi / step).to_integral_value(ROUND_FLOOR) * step
    ticks: list[Decimal] = []
    value = first
    while value <= last:
        ticks.append(value)
        value += step
    return ticks


def time_ticks(t0: datetime, t1: datetime, tz: tzinfo, *, max_ticks: int = 7) -> list[datetime]:
    """Moments inside ``[t0, t1]`` on round minutes of the market zone (a step from 1 min
    to 4 h, the smallest giving at most ``max_ticks``), as aware datetimes in ``tz``."""
    if t1 < t0 or max_ticks < 1:
        return []
    span_min = (t1 - t0).total_seconds() / 60
    step = next((s for s in _TIME_STEPS_MIN if span_min / s <= max_ticks - 1),
                _TIME_STEPS_MIN[-1])
    start = t0.astimezone(tz)
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    minutes = (start - midnight).total_seconds() / 60
    first = -(-int(minutes) // step) * step
    if first < minutes:
        first += step
    ticks = []
    at = midnight + timedelta(minutes=first)
    while at <= t1:
        ticks.append(at)
        at += timedelta(minutes=step)
    return ticks


def spread_labels(
    wanted: Sequence[float], *, height: float, low: float, high: float
) -> list[float]:
    """Positions (same order as ``wanted``) at least ``height`` apart, each as near to its
    wanted position as that allows, kept inside ``[low, high]`` where the room is there.
    Positions grow downwards (screen y)."""
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    placed = [wanted[i] for i in order]
    for _ in range(len(placed) + 1):  # push apart, then pull back inside; a few passes settle
        for k in range(1, len(placed)):
            placed[k] = max(placed[k], placed[k - 1] + height)
        if placed and placed[-1] > high:
            placed[-1] = high
            for k in range(len(placed) - 2, -1, -1):
                placed[k] = min(placed[k], placed[k + 1] - height)
        if placed and placed[0] < low:
            placed[0] = low
            continue
        break
    result = [0.0] * len(wanted)
    for k, i in enumerate(order):
        result[i] = placed[k]
    return result


def place_label(
    x: float,
    y: float,
    text_width: float,
    taken: Sequence[Box],
    path: Sequence[tuple[float, float]],
    plot: Box,
    *,
    up: bool,
) -> Box:
    """The box for the label of a marker at ``(x, y)``: of the spots around it (below an
    up marker, above a down one, then the other way, then beside it, then further off),
    the first that lies inside ``plot``, overlaps none of the ``taken`` boxes and covers
    the fewest points of ``path``; overlapping a taken box outweighs everything else."""
    w, h = text_width + 8, LABEL_HEIGHT + 4
    px0, py0, px1, py1 = plot
    beside = [(x + 10, y - h / 2), (x - 10 - w, y - h / 2)]
    vertical = [(x + 10, y + 10), (x - 10 - w, y + 10), (x + 10, y - 10 - h),
                (x - 10 - w, y - 10 - h), (x - w / 2, y + 12), (x - w / 2, y - 12 - h)]
    if not up:
        vertical = vertical[2:4] + vertical[0:2] + vertical[5:6] + vertical[4:5]
    spots = vertical + beside
    spots += [(sx, sy + dy) for dy in (-40, 40, -70, 70) for sx, sy in spots[:4]]

    def score(box: Box) -> float:
        bx0, by0, bx1, by1 = box
        outside = bx0 < px0 or bx1 > px1 or by0 < py0 or by1 > py1
        clash = sum(1 for t in taken if bx0 < t[2] and t[0] < bx1 and by0 < t[3] and t[1] < by1)
        return clash * 1000 + outside * 500 + covered(box, path)

    boxes = [(sx, sy, sx + w, sy + h) for sx, sy in spots]
    return min(boxes, key=score)  # min keeps the first of equals: the preferred spot


def covered(box: Box, path: Sequence[tuple[float, float]]) -> int:
    """How many points along the path (sampled every ~2 px) fall inside ``box``."""
    bx0, by0, bx1, by1 = box
    count = 0
    for (xa, ya), (xb, yb) in pairwise(path):
        if max(xa, xb) < bx0 or min(xa, xb) > bx1:
            continue
        n = max(1, int(max(abs(xb - xa), abs(yb - ya)) / 2))
        for i in range(n + 1):
            px, py = xa + (xb - xa) * i / n, ya + (yb - ya) * i / n
            if bx0 <= px <= bx1 and by0 <= py <= by1:
                count += 1
    return count


__all__ = [
    "LABEL_HEIGHT",
    "Box",
    "covered",
    "place_label",
    "price_ticks",
    "spread_labels",
    "time_ticks",
]
