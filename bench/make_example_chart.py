"""Writes docs/chart_example.png: a closed trade's chart as Discord shows it.

Run: ``python bench/make_example_chart.py`` from the repository root. The price path is a
fixed synthetic morning (no randomness), so the image is reproducible.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skimd.domain.alerts import PositionExited  # noqa: E402
from skimd.domain.market import PricePoint  # noqa: E402
from skimd.domain.trading import ExitReason  # noqa: E402
from skimd.infrastructure.notifications.charts import trade_chart  # noqa: E402


def synthetic_path(start: datetime, minutes: int) -> tuple[PricePoint, ...]:
    points = []
    for i in range(minutes):
        base = 1.215 + 0.0011 * i - 0.000005 * i * i
        wiggle = 0.012 * math.sin(i / 3.1) + 0.006 * math.sin(i / 1.3)
        price = Decimal(str(round(base + wiggle, 3)))
        points.append(PricePoint(at=start + timedelta(minutes=i), price=price))
    return tuple(points)


def example_trade() -> PositionExited:
    open_at = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)  # 10:00 Sydney
    path = synthetic_path(open_at, 120)
    orh = Decimal("1.240")
    entry = next(p for p in path[15:] if p.price > orh)  # the ORH breakout
    exit_ = path[100]
    quantity = 8000
    return PositionExited(
        occurred_at=exit_.at,
        symbol="XYZ",
        quantity=quantity,
        entry_price=entry.price,
        exit_price=exit_.price,
        entry_at=entry.at,
        exit_at=exit_.at,
        reason=ExitReason.TRAIL,
        pnl=(exit_.price - entry.price) * quantity,
        stop=Decimal("1.200"),
        orh=orh,
        orl=Decimal("1.205"),
        prev_close=Decimal("1.150"),
        path=path,
    )


def main() -> None:
    png = trade_chart(example_trade(), ZoneInfo("Australia/Sydney"))
    out = ROOT / "docs" / "chart_example.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(png)
    print(f"wrote {out} ({len(png)} bytes)")


if __name__ == "__main__":
    main()
