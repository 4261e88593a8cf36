"""PNG charts for alerts, drawn with Pillow (imported lazily: only when a chart is drawn).

A candidate chart shows the intraday path with the prior close, ORH/ORL, the planned entry
and the stop; an entry chart marks the fill against the range and its stop; a trade chart
adds entry and exit markers and the stop as it moved (a step line) when the alert carries
its path. Times are labelled in the market zone. Rendering is
CPU-bound (~10 ms); callers in async code run it in a thread.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING

import structlog

from skimd.domain.alerts import Alert, EntrySettled, PositionExited, TradeableCandidate
from skimd.domain.formatting import fmt_price
from skimd.domain.market import PricePoint, VolumePoint
from skimd.domain.trading import ExitReason
from skimd.infrastructure.notifications.chart_scales import (
    LABEL_HEIGHT,
    Box,
    place_label,
    price_ticks,
    spread_labels,
    time_ticks,
)

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

log = structlog.get_logger(__name__)

RGB = tuple[int, int, int]
BACKGROUND: RGB = (43, 45, 49)
GRID: RGB = (64, 68, 75)
TEXT: RGB = (220, 221, 222)
PATH: RGB = (88, 166, 255)
GREEN: RGB = (87, 242, 135)
RED: RGB = (237, 66, 69)
AMBER: RGB = (254, 231, 92)
GREY: RGB = (150, 152, 157)
VOLUME: RGB = (84, 92, 110)
VOLUME_SHARE = 0.18  # of the plot's height, at its bottom


@dataclass(frozen=True)
class ChartLine:
    label: str
    price: Decimal
    colour: RGB
    dashed: bool = False


@dataclass(frozen=True)
class ChartMarker:
    label: str
    at: datetime
    price: Decimal
    colour: RGB
    up: bool = True


@dataclass(frozen=True)
class ChartStep:
    """A level that moved over time (a trailing stop): drawn as a dashed step line, each
    value holding until the next point, labelled with its last value."""

    label: str
    points: Sequence[PricePoint]
    colour: RGB


def chart_filename(alert: Alert) -> str:
    """Attachment name: ASCII, stable, unique per alert kind/symbol/time."""
    symbol = "".join(ch for ch in str(getattr(alert, "symbol", "chart")) if ch.isalnum())
    stamp = alert.occurred_at.strftime("%Y%m%dT%H%M%S")
    return f"{alert.kind}-{symbol or 'chart'}-{stamp}.png"


def chart_for(alert: Alert, tz: tzinfo) -> bytes | None:
    """The PNG for alerts that have a price path (two points or more), else None. A chart
    that cannot be drawn is logged and left out: it never holds its alert back."""
    try:
        if isinstance(alert, TradeableCandidate) and len(alert.path) >= 2:
            return candidate_chart(alert, tz)
        if isinstance(alert, PositionExited) and len(alert.path) >= 2:
            return trade_chart(alert, tz)
        if isinstance(alert, EntrySettled) and len(alert.path) >= 2:
            return entry_chart(alert, tz)
    except Exception as exc:  # a drawing bug must not stop the alert's delivery
        log.warning("alert chart not drawn", alert_kind=alert.kind, error=repr(exc))
    return None


def candidate_chart(alert: TradeableCandidate, tz: tzinfo) -> bytes:
    lines = [
        ChartLine("ORH", alert.orh, GREEN),
        ChartLine("ORL", alert.orl, RED),
        ChartLine("Entry", alert.entry, AMBER, dashed=True),
        ChartLine("Stop", alert.stop, RED, dashed=True),
    ]
    if alert.prev_close is not None:
        lines.insert(0, ChartLine("Prior", alert.prev_close, GREY, dashed=True))
    return render_chart(f"{alert.symbol} opening range", alert.path, lines, (), tz=tz,
                        volumes=alert.volumes)


def opening_range_chart(
    symbol: str,
    path: Sequence[PricePoint],
    volumes: Sequence[VolumePoint],
    *,
    prev_close: Decimal | None,
    orh: Decimal | None,
    orl: Decimal | None,
    tz: tzinfo,
) -> bytes:
    """A candidate's day so far with its prior close and opening range (those known), as
    the candidate alert draws it without the planned entry and stop: ``skimd web``'s
    Today page. Needs two price points or more (ValueError)."""
    levels = (("Prior", prev_close, GREY, True), ("ORH", orh, GREEN, False),
              ("ORL", orl, RED, False))
    lines = [ChartLine(label, price, colour, dashed=dashed)
             for label, price, colour, dashed in levels if price is not None]
    return render_chart(f"{symbol} opening range", path, lines, (), tz=tz, volumes=volumes)


def entry_chart(alert: EntrySettled, tz: tzinfo) -> bytes:
    """The day so far with the opening range, the stop the entry is protected by, and the
    fill marked."""
    lines: list[ChartLine] = []
    if alert.prev_close is not None:
        lines.append(ChartLine("Prior", alert.prev_close, GREY, dashed=True))
    if alert.orh is not None:
        lines.append(ChartLine("ORH", alert.orh, GREEN))
    if alert.orl is not None:
        lines.append(ChartLine("ORL", alert.orl, RED))
    if alert.stop is not None:
        lines.append(ChartLine("Stop", alert.stop, RED, dashed=True))
    markers = (ChartMarker("Entry", alert.filled_at, alert.price, AMBER, up=True),)
    return render_chart(f"{alert.symbol} entry", alert.path, lines, markers, tz=tz,
                        volumes=alert.volumes)


def trade_chart(alert: PositionExited, tz: tzinfo) -> bytes:
    lines: list[ChartLine] = []
    if alert.prev_close is not None:
        lines.append(ChartLine("Prior", alert.prev_close, GREY, dashed=True))
    if alert.orh is not None:
        lines.append(ChartLine("ORH", alert.orh, GREEN))
    if alert.orl is not None:
        lines.append(ChartLine("ORL", alert.orl, RED))
    steps: list[ChartStep] = []
    if len(alert.stop_path) >= 2:
        steps.append(ChartStep("Stop", alert.stop_path, RED))
    elif alert.stop is not None:
        lines.append(ChartLine("Stop", alert.stop, RED, dashed=True))
    exit_colour = RED if alert.pnl < 0 or alert.reason is ExitReason.STOP else GREEN
    markers = (
        ChartMarker("Entry", alert.entry_at, alert.entry_price, AMBER, up=True),
        ChartMarker("Exit", alert.exit_at, alert.exit_price, exit_colour, up=False),
    )
    return render_chart(f"{alert.symbol} trade", alert.path, lines, markers, tz=tz, steps=steps,
                        volumes=alert.volumes)


def render_chart(
    title: str,
    path: Sequence[PricePoint],
    lines: Sequence[ChartLine],
    markers: Sequence[ChartMarker],
    *,
    tz: tzinfo,
    steps: Sequence[ChartStep] = (),
    volumes: Sequence[VolumePoint] = (),
    width: int = 800,
    height: int = 420,
) -> bytes:
    """Draw the chart and return PNG bytes (deterministic for the same input).

    Price ticks are nice steps on the ASX tick grid, time ticks round minutes of ``tz``;
    the levels' labels (right margin) are spread apart so none overlaps another, and each
    marker's label sits in its own box where it covers no other label and as little of
    the path as the room allows. Volume bars (each ending at its point's time) fill the
    bottom of the plot, scaled to the largest. A legend in the title row names what is
    drawn."""
    from PIL import Image, ImageDraw, ImageFont

    if len(path) < 2:
        raise ValueError("a chart needs at least two price points")
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 64, width - 110, 36, height - 36

    stepped = [p for st in steps for p in st.points]
    times = [p.at for p in path] + [m.at for m in markers] + [p.at for p in stepped]
    t_first, t_last = min(times), max(times)
    t0, t1 = t_first.timestamp(), t_last.timestamp()
    prices = [p.price for p in path] + [ln.price for ln in lines] + [m.price for m in markers]
    prices += [p.price for p in stepped]
    lo, hi = float(min(prices)), float(max(prices))
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.01, 0.01)
    lo, hi = lo - pad, hi + pad
    span_t = (t1 - t0) or 1.0

    def x_of(at: datetime) -> float:
        return left + (at.timestamp() - t0) / span_t * (right - left)

    def y_of(price: Decimal | float) -> float:
        return bottom - (float(price) - lo) / (hi - lo) * (bottom - top)

    draw.text((left, 10), title, fill=TEXT, font=font)
    _legend(draw, small, right + 100, 12, path_colour=PATH, lines=lines, markers=markers,
            steps=steps, volume=bool(volumes))
    ticks = price_ticks(Decimal(f"{lo:.6f}"), Decimal(f"{hi:.6f}"))
    places = max([2] + [_places(t) for t in ticks])
    for value in ticks:  # horizontal grid + price labels
        y = y_of(value)
        draw.line([(left, y), (right, y)], fill=GRID)
        label = f"{value:,.{places}f}"
        draw.text((left - 6 - draw.textlength(label, font=small), y - 7), label, fill=GREY,
                  font=small)
    for at in time_ticks(t_first, t_last, tz):  # round times in the market zone
        x = x_of(at)
        draw.line([(x, top), (x, bottom)], fill=GRID)
        label = at.strftime("%H:%M")
        half = draw.textlength(label, font=small) / 2
        draw.text((min(max(x - half, left - half), width - 2 * half - 2), bottom + 8), label,
                  fill=GREY, font=small)
    draw.rectangle([left, top, right, bottom], outline=GRID)

    _volume_bars(draw, volumes, x_of, left, bottom, (bottom - top) * VOLUME_SHARE)

    labels: list[tuple[str, float, RGB]] = []  # (text, wanted y, colour) in the margin
    for ln in lines:
        y = y_of(ln.price)
        _hline(draw, left, right, y, ln.colour, ln.dashed)
        labels.append((f"{ln.label} {fmt_price(ln.price)}", y, ln.colour))
    for st in steps:
        if not st.points:
            continue
        for here, after in pairwise(st.points):
            y0, y1 = y_of(here.price), y_of(after.price)
            x1 = x_of(after.at)
            _hline(draw, x_of(here.at), x1, y0, st.colour, True)
            if y1 != y0:
                draw.line([(x1, y0), (x1, y1)], fill=st.colour, width=1)
        last = st.points[-1]
        labels.append((f"{st.label} {fmt_price(last.price)}", y_of(last.price), st.colour))
    screen_path = [(x_of(p.at), y_of(p.price)) for p in path]
    draw.line(screen_path, fill=PATH, width=2)

    taken: list[Box] = []
    placed = spread_labels([y for _, y, _ in labels], height=LABEL_HEIGHT, low=top - 6,
                           high=bottom + 6)
    for (text, wanted, colour), y in zip(labels, placed, strict=True):
        if abs(y - wanted) > 1:  # moved off its line: a short leader shows whose it is
            draw.line([(right, wanted), (right + 8, y)], fill=colour)
        draw.text((right + 10, y - 7), text, fill=colour, font=small)
        taken.append((right + 4, y - 8, width, y + 8))
    size = 7  # a marker's half width
    for m in markers:
        x, y = x_of(m.at), y_of(m.price)
        tip, base = (y - size, y + size) if m.up else (y + size, y - size)
        draw.polygon([(x, tip), (x - size, base), (x + size, base)], fill=m.colour)
        taken.append((x - size, y - size, x + size, y + size))
    for m in markers:
        x, y = x_of(m.at), y_of(m.price)
        text = f"{m.label} {fmt_price(m.price)}"
        box = place_label(x, y, draw.textlength(text, font=small), taken, screen_path,
                          (left, top, right, bottom), up=m.up)
        taken.append(box)
        draw.rectangle(box, fill=BACKGROUND, outline=m.colour)
        draw.text((box[0] + 4, box[1] + 2), text, fill=m.colour, font=small)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()




def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _volume_bars(draw: ImageDraw.ImageDraw, volumes: Sequence[VolumePoint],
                 x_of: Callable[[datetime], float], left: float, bottom: float,
                 tallest: float) -> None:
    """Each bar spans its period (from the previous point's time, or one minute), its
    height the share of the largest period's volume."""
    most = max((v.volume for v in volumes), default=0)
    if most <= 0:
        return
    previous: float | None = None
    for v in volumes:
        x1 = x_of(v.at)
        x0 = previous if previous is not None else x1 - 2
        previous = x1
        if v.volume <= 0:
            continue
        x0 = max(left + 1, min(x0 + 1, x1 - 1))
        y0 = min(bottom - 1, bottom - tallest * v.volume / most)
        if x1 >= x0:
            draw.rectangle([x0, y0, x1, bottom - 1], fill=VOLUME)


def _legend(draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
            x_end: float, y: float, *, path_colour: RGB, lines: Sequence[ChartLine],
            markers: Sequence[ChartMarker], steps: Sequence[ChartStep],
            volume: bool = False) -> None:
    """One row, right-aligned at ``x_end``: a swatch and a name for the path, each marker
    and each stepped level (the levels are named at their lines)."""
    items: list[tuple[str, RGB, str]] = [("Price", path_colour, "line")]
    items += [(m.label, m.colour, "up" if m.up else "down") for m in markers]
    items += [(st.label, st.colour, "dash") for st in steps]
    if volume:
        items.append(("Volume", VOLUME, "bar"))
    x = x_end
    for name, colour, kind in reversed(items):
        x -= draw.textlength(name, font=font)
        draw.text((x, y - 1), name, fill=TEXT, font=font)
        x -= 22
        if kind == "line":
            draw.line([(x, y + 6), (x + 16, y + 6)], fill=colour, width=2)
        elif kind == "dash":
            _hline(draw, x, x + 16, y + 6, colour, True)
        elif kind == "bar":
            draw.rectangle([x + 3, y + 2, x + 13, y + 11], fill=colour)
        else:
            tip, base = (y + 1, y + 11) if kind == "up" else (y + 11, y + 1)
            draw.polygon([(x + 8, tip), (x + 3, base), (x + 13, base)], fill=colour)
        x -= 12


def _hline(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, colour: RGB,
           dashed: bool) -> None:
    if not dashed:
        draw.line([(x0, y), (x1, y)], fill=colour, width=1)
        return
    x = x0
    while x < x1:
        draw.line([(x, y), (min(x + 6, x1), y)], fill=colour, width=1)
        x += 11


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG header (no Pillow needed)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


__all__ = [
    "ChartLine",
    "ChartMarker",
    "ChartStep",
    "candidate_chart",
    "chart_filename",
    "chart_for",
    "png_size",
    "render_chart",
    "trade_chart",
]
