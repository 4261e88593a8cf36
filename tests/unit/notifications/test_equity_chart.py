"""The equity-curve and drawdown PNGs: deterministic, the asked size, drawable for one
round trip, a curve below zero (or never below its peak), and refused without points."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from skimd.domain.stats import EquityPoint
from skimd.infrastructure.notifications.equity_chart import (
    drawdown_chart_renderer,
    equity_chart_renderer,
)
from skimd.services.ports.stats import EquityCurve

SYDNEY = ZoneInfo("Australia/Sydney")
START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def curve(*values: str) -> EquityCurve:
    points = [EquityPoint(START + timedelta(hours=i), i + 1, Decimal(v))
              for i, v in enumerate(values)]
    return EquityCurve(title="Equity", points=points)


@pytest.mark.parametrize("values", [("120",), ("-511.80", "-1023.75", "-1535.73"),
                                    ("100", "-50", "300", "250")])
@pytest.mark.parametrize("renderer", [equity_chart_renderer, drawdown_chart_renderer])
def test_a_png_of_the_asked_size(values: tuple[str, ...], renderer: Any) -> None:
    render = renderer(SYDNEY, width=640, height=320)
    data = render(curve(*values))
    assert data == render(curve(*values))  # deterministic
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (640, 320)


@pytest.mark.parametrize("renderer", [equity_chart_renderer, drawdown_chart_renderer])
def test_no_points_is_refused(renderer: Any) -> None:
    with pytest.raises(ValueError, match="at least one"):
        renderer(SYDNEY)(EquityCurve(title="Equity", points=[]))


def test_the_drawdown_differs_where_the_curve_falls_from_its_peak() -> None:
    render = drawdown_chart_renderer(SYDNEY)
    assert render(curve("100", "-50", "300")) != render(curve("100", "200", "300"))
