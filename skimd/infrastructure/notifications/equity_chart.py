"""The equity-curve PNG of ``skimd journal stats`` (an
:data:`~skimd.services.ports.stats.EquityChartRenderer`), in the alert charts' colours.

The curve is drawn against the round trips' sequence (one step per round trip, in close
order), not against time: nights and weekends would otherwise squash a day's trades into
a sliver. The x labels give the market-zone close date of the first and last trip, the
drawdown from the running peak is shaded red, and the zero line is marked."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from skimd.infrastructure.notifications import charts
from skimd.infrastructure.notifications.chart_scales import price_ticks

if TYPE_CHECKING:
    from skimd.services.ports.stats import EquityCurve


def equity_chart_renderer(
    zone: tzinfo, *, width: int = 800, height: int = 420
) -> Callable[[EquityCurve], bytes]:
    def render(curve: EquityCurve) -> bytes:
        return render_equity(curve, zone, width=width, height=height)

    return render


def render_equity(
    curve: EquityCurve, zone: tzinfo, *, width: int = 800, height: int = 420
) -> bytes:
    """PNG bytes (deterministic for the same input); raises ValueError without points."""
    from PIL import Image, ImageDraw, ImageFont

    if not curve.points:
        raise ValueError("an equity chart needs at least one round trip")
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    image = Image.new("RGB", (width, height), charts.BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 80, width - 24, 36, height - 36

    values = [Decimal(0)] + [p.cumulative for p in curve.points]
    lo, hi = float(min(values)), float(max(values))
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 1.0)
    lo, hi = lo - pad, hi + pad
    steps = len(values) - 1

    def x_of(i: int) -> float:
        return left + i / steps * (right - left)

    def y_of(value: Decimal | float) -> float:
        return bottom - (float(value) - lo) / (hi - lo) * (bottom - top)

    draw.text((left, 10), curve.title, fill=charts.TEXT, font=font)
    for tick in price_ticks(Decimal(f"{lo:.6f}"), Decimal(f"{hi:.6f}")):
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=charts.GRID)
        label = f"{tick:,.0f}" if abs(hi - lo) >= 10 else f"{tick:,.2f}"
        draw.text((left - 6 - draw.textlength(label, font=small), y - 7), label,
                  fill=charts.GREY, font=small)
    draw.rectangle([left, top, right, bottom], outline=charts.GRID)
    zero = y_of(0)
    draw.line([(left, zero), (right, zero)], fill=charts.GREY, width=1)

    # Drawdown from the running peak, shaded under it: segment i (from trip i-1 to i) is
    # shaded from the peak up to trip i down to the curve when either end is below that
    # peak. Each run of shaded segments is one polygon (a year of trades is thousands of
    # segments; one polygon each made the chart several times slower to draw).
    peaks: list[Decimal] = []
    peak = values[0]
    for value in values:
        peak = max(peak, value)
        peaks.append(peak)
    run: list[int] = []
    for i in range(1, len(values) + 1):
        if i < len(values) and (values[i] < peaks[i] or values[i - 1] < peaks[i]):
            run.append(i)
            continue
        if run:
            upper = [pt for j in run for pt in ((x_of(j - 1), y_of(peaks[j])),
                                              (x_of(j), y_of(peaks[j])))]
            under = [(x_of(j), y_of(values[j])) for j in reversed(run)]
            under.append((x_of(run[0] - 1), y_of(values[run[0] - 1])))
            draw.polygon(upper + under, fill=(90, 40, 44))
            run = []
    points = [(x_of(i), y_of(v)) for i, v in enumerate(values)]
    draw.line(points, fill=charts.PATH, width=2)
    last = values[-1]
    colour = charts.GREEN if last >= 0 else charts.RED
    draw.ellipse([points[-1][0] - 3, points[-1][1] - 3, points[-1][0] + 3, points[-1][1] + 3],
                 fill=colour)

    first_day = curve.points[0].at.astimezone(zone).date().isoformat()
    last_day = curve.points[-1].at.astimezone(zone).date().isoformat()
    draw.text((left, bottom + 8), first_day, fill=charts.GREY, font=small)
    end_label = f"{last_day}, {steps} round trip{'s' if steps != 1 else ''}"
    draw.text((right - draw.textlength(end_label, font=small), bottom + 8), end_label,
              fill=charts.GREY, font=small)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def drawdown_chart_renderer(
    zone: tzinfo, *, width: int = 800, height: int = 300
) -> Callable[[EquityCurve], bytes]:
    def render(curve: EquityCurve) -> bytes:
        return render_drawdown(curve, zone, width=width, height=height)

    return render


def render_drawdown(
    curve: EquityCurve, zone: tzinfo, *, width: int = 800, height: int = 300
) -> bytes:
    """The underwater curve of ``curve`` (cumulative net P&L minus its running peak from 0,
    so 0 at every new high), against the same round-trip sequence as the equity chart; the
    deepest point (the max drawdown of ``skimd journal stats``) is marked. PNG bytes,
    deterministic; raises ValueError without points."""
    from PIL import Image, ImageDraw, ImageFont

    if not curve.points:
        raise ValueError("a drawdown chart needs at least one round trip")
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    image = Image.new("RGB", (width, height), charts.BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 80, width - 24, 36, height - 36

    values = [Decimal(0)] + [p.cumulative for p in curve.points]
    peak = values[0]
    under: list[Decimal] = []
    for value in values:
        peak = max(peak, value)
        under.append(value - peak)
    deepest = min(under)
    lo = float(deepest) * 1.08 if deepest < 0 else -1.0
    steps = len(values) - 1

    def x_of(i: int) -> float:
        return left + i / steps * (right - left)

    def y_of(value: Decimal | float) -> float:
        return top + float(value) / lo * (bottom - top)

    draw.text((left, 10), curve.title, fill=charts.TEXT, font=font)
    for tick in price_ticks(Decimal(f"{lo:.6f}"), Decimal(0)):
        y = y_of(tick)
        draw.line([(left, y), (right, y)], fill=charts.GRID)
        label = f"{tick:,.0f}" if abs(lo) >= 10 else f"{tick:,.2f}"
        draw.text((left - 6 - draw.textlength(label, font=small), y - 7), label,
                  fill=charts.GREY, font=small)
    draw.rectangle([left, top, right, bottom], outline=charts.GRID)
    points = [(x_of(i), y_of(v)) for i, v in enumerate(under)]
    draw.polygon([(left, y_of(0)), *points, (right, y_of(0))], fill=(90, 40, 44))
    draw.line(points, fill=charts.RED, width=2)
    worst = under.index(deepest)
    wx, wy = points[worst]
    draw.ellipse([wx - 3, wy - 3, wx + 3, wy + 3], fill=charts.RED)

    first_day = curve.points[0].at.astimezone(zone).date().isoformat()
    last_day = curve.points[-1].at.astimezone(zone).date().isoformat()
    draw.text((left, bottom + 8), first_day, fill=charts.GREY, font=small)
    end_label = f"{last_day}, max drawdown {deepest:,.2f}"
    draw.text((right - draw.textlength(end_label, font=small), bottom + 8), end_label,
              fill=charts.GREY, font=small)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
