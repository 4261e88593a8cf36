"""The settled entry's chart: the day so far with the opening range, its stop and the fill
marked; none without a path to draw."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from PIL import Image

from skimd.domain.alerts import EntrySettled
from skimd.domain.market import PricePoint, VolumePoint
from skimd.infrastructure.notifications.charts import chart_filename, chart_for, png_size
from tests.fakes.alert_samples import T, since_v1

SYD = ZoneInfo("Australia/Sydney")
PATH = tuple(
    PricePoint(at=T + timedelta(minutes=i), price=Decimal("2.78") + Decimal(i % 7) / 100)
    for i in range(40)
)


def _entry() -> EntrySettled:
    (settled,) = [a for a in since_v1() if isinstance(a, EntrySettled)]
    return dataclasses.replace(
        settled,
        path=PATH,
        filled_at=PATH[30].at,
        volumes=tuple(VolumePoint(at=p.at, volume=1000 + 10 * n) for n, p in enumerate(PATH)),
    )


def test_an_entry_chart_marks_the_fill_against_the_range_and_its_stop() -> None:
    alert = _entry()
    png = chart_for(alert, SYD)
    assert png is not None and png_size(png) == (800, 420)
    colours = {c for _, c in Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 16) or []}
    assert (254, 231, 92) in colours  # the entry marker (amber)
    assert (87, 242, 135) in colours  # ORH
    assert (237, 66, 69) in colours  # ORL and the stop
    assert chart_filename(alert) == "entry_settled-VPL-20240603T000700.png"


def test_no_entry_chart_without_a_path() -> None:
    assert chart_for(dataclasses.replace(_entry(), path=PATH[:1]), SYD) is None
