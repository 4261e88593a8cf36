from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from skimd.domain.alerts import PositionExited, TradeableCandidate
from skimd.domain.market import PricePoint, VolumePoint
from skimd.domain.trading import ExitReason
from skimd.infrastructure.notifications.charts import (
    chart_filename,
    chart_for,
    png_size,
    render_chart,
)

SYD = ZoneInfo("Australia/Sydney")
T = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
PATH = tuple(
    PricePoint(at=T + timedelta(minutes=i), price=Decimal("1.20") + Decimal(i % 5) / 100)
    for i in range(30)
)


def test_candidate_chart_is_a_png_with_the_levels_drawn() -> None:
    alert = TradeableCandidate(
        occurred_at=T,
        symbol="XYZ",
        prev_close=Decimal("1.10"),
        orh=Decimal("1.24"),
        orl=Decimal("1.20"),
        entry=Decimal("1.245"),
        stop=Decimal("1.195"),
        path=PATH,
    )
    png = chart_for(alert, SYD)
    assert png is not None
    assert png_size(png) == (800, 420)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = {c for _, c in image.getcolors(maxcolors=1 << 16) or []}
    assert (87, 242, 135) in colours  # ORH line
    assert (237, 66, 69) in colours  # ORL/stop lines
    assert chart_filename(alert) == "tradeable_candidate-XYZ-20240603T000000.png"


def test_trade_chart_marks_entry_and_exit() -> None:
    alert = PositionExited(
        occurred_at=T,
        symbol="XYZ",
        quantity=10,
        entry_price=Decimal("1.22"),
        exit_price=Decimal("1.24"),
        entry_at=PATH[3].at,
        exit_at=PATH[20].at,
        reason=ExitReason.TARGET,
        pnl=Decimal("0.2"),
        path=PATH,
    )
    png = chart_for(alert, SYD)
    assert png is not None
    colours = {c for _, c in Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 16) or []}
    assert (254, 231, 92) in colours  # entry marker (amber)


def test_no_chart_without_a_path() -> None:
    alert = TradeableCandidate(
        occurred_at=T,
        symbol="XYZ",
        prev_close=None,
        orh=Decimal(1),
        orl=Decimal(1),
        entry=Decimal(1),
        stop=Decimal(1),
    )
    assert chart_for(alert, SYD) is None
    with pytest.raises(ValueError):
        render_chart("x", PATH[:1], (), (), tz=SYD)


def test_flat_path_still_renders() -> None:
    flat = tuple(PricePoint(at=T + timedelta(minutes=i), price=Decimal("2")) for i in range(3))
    assert png_size(render_chart("flat", flat, (), (), tz=SYD)) == (800, 420)


def test_trade_chart_draws_the_stop_as_it_moved() -> None:
    """A stop raised from 1.10 to 1.18 mid-trade: red (the stop's colour, the only red in
    this chart) sits lower in the plot's first half than in its second."""
    low, high = Decimal("1.10"), Decimal("1.18")
    stop_path = (
        PricePoint(at=PATH[3].at, price=low),
        PricePoint(at=PATH[12].at, price=low),
        PricePoint(at=PATH[13].at, price=high),
        PricePoint(at=PATH[29].at, price=high),
    )
    alert = PositionExited(
        occurred_at=T,
        symbol="XYZ",
        quantity=10,
        entry_price=Decimal("1.22"),
        exit_price=Decimal("1.24"),
        entry_at=PATH[3].at,
        exit_at=PATH[29].at,
        reason=ExitReason.TARGET,
        pnl=Decimal("0.2"),
        stop=high,
        path=PATH,
        stop_path=stop_path,
    )
    png = chart_for(alert, SYD)
    assert png is not None
    image = Image.open(io.BytesIO(png)).convert("RGB")
    red = (237, 66, 69)
    rows_left = {y for x in range(100, 300) for y in range(36, 384)
                 if image.getpixel((x, y)) == red}
    rows_right = {y for x in range(450, 680) for y in range(36, 384)
                  if image.getpixel((x, y)) == red}
    assert rows_left and rows_right
    assert min(rows_left) > max(rows_right)  # lower on screen = a lower price


def test_trade_chart_has_a_legend_in_its_title_row() -> None:
    """The path's blue and the entry's amber appear in the title row's right half: the
    legend's swatches (nothing else is drawn there)."""
    alert = PositionExited(
        occurred_at=T,
        symbol="XYZ",
        quantity=10,
        entry_price=Decimal("1.22"),
        exit_price=Decimal("1.24"),
        entry_at=PATH[3].at,
        exit_at=PATH[20].at,
        reason=ExitReason.TARGET,
        pnl=Decimal("0.2"),
        path=PATH,
    )
    png = chart_for(alert, SYD)
    assert png is not None
    band = Image.open(io.BytesIO(png)).convert("RGB").crop((400, 0, 800, 32))
    colours = {c for _, c in band.getcolors(maxcolors=1 << 16) or []}
    assert {(88, 166, 255), (254, 231, 92), (87, 242, 135)} <= colours


def test_candidate_chart_draws_volume_bars_at_the_bottom() -> None:
    volumes = tuple(VolumePoint(at=p.at, volume=1_000 * (i % 4 + 1))
                    for i, p in enumerate(PATH[1:]))
    alert = TradeableCandidate(
        occurred_at=T,
        symbol="XYZ",
        prev_close=Decimal("1.10"),
        orh=Decimal("1.24"),
        orl=Decimal("1.20"),
        entry=Decimal("1.245"),
        stop=Decimal("1.195"),
        path=PATH,
        volumes=volumes,
    )
    png = chart_for(alert, SYD)
    assert png is not None
    image = Image.open(io.BytesIO(png)).convert("RGB")
    volume_colour = (84, 92, 110)
    bottom_band = image.crop((64, 320, 690, 384))
    upper_plot = image.crop((64, 40, 690, 300))
    assert volume_colour in {c for _, c in bottom_band.getcolors(1 << 16) or []}
    assert volume_colour not in {c for _, c in upper_plot.getcolors(1 << 16) or []}
    without = dataclasses.replace(alert, volumes=())
    plain = chart_for(without, SYD)
    assert plain is not None
    plain_band = Image.open(io.BytesIO(plain)).convert("RGB").crop((64, 320, 690, 384))
    assert volume_colour not in {c for _, c in plain_band.getcolors(1 << 16) or []}


def test_volume_bars_of_any_size_render() -> None:
    """One huge period among tiny ones: the tiny bars are under a pixel tall."""
    volumes = tuple(VolumePoint(at=p.at, volume=1 if i % 3 else 1_000_000)
                    for i, p in enumerate(PATH))
    png = render_chart("XYZ", PATH, (), (), tz=SYD, volumes=volumes)
    assert png_size(png) == (800, 420)


def test_a_chart_that_cannot_be_drawn_is_left_out_not_raised() -> None:
    broken = (PricePoint(at=T, price=Decimal("NaN")), *PATH[1:])
    alert = TradeableCandidate(
        occurred_at=T,
        symbol="XYZ",
        prev_close=None,
        orh=Decimal("1.24"),
        orl=Decimal("1.20"),
        entry=Decimal("1.245"),
        stop=Decimal("1.195"),
        path=broken,
    )
    assert chart_for(alert, SYD) is None


def test_the_opening_range_chart_draws_the_levels_it_is_given() -> None:
    from skimd.infrastructure.notifications.charts import opening_range_chart

    png = opening_range_chart("XYZ", PATH, (), prev_close=None, orh=Decimal("1.24"),
                              orl=Decimal("1.20"), tz=SYD)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png_size(png) == (800, 420)
    with_prior = opening_range_chart("XYZ", PATH, (), prev_close=Decimal("1.10"),
                                     orh=Decimal("1.24"), orl=Decimal("1.20"), tz=SYD)
    assert with_prior != png  # the prior close widens the scale and adds its line
    with pytest.raises(ValueError):
        opening_range_chart("XYZ", PATH[:1], (), prev_close=None, orh=None, orl=None, tz=SYD)
