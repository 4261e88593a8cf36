"""Trade reports on a real encrypted database: report rows, chart images with thumbnails,
idempotent re-runs, the executions fallback and the export to files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import Settings
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import Image, RoundTrip, TradeReport
from skimd.services.journal.reports import TradeReports
from tests.integration.journal.journal_rows import (
    DAY,
    NOW,
    FakePricePath,
    Seeded,
    seed_journal,
    syd,
)

_APPS: list[bootstrap.App] = []


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    yield
    while _APPS:
        _APPS.pop().close()


def reports_of(settings: Settings, db: TradingDatabase, prices: FakePricePath) -> TradeReports:
    """The daemon's report writer, built by bootstrap on ``db``'s file (its own connection)."""
    assert db.path == bootstrap.data_dir(settings) / settings.database.filename
    app = bootstrap.build(settings, clock=SimulatedClock(NOW))
    _APPS.append(app)
    return app.trade_reports(prices)


def stored(db: TradingDatabase) -> tuple[list[TradeReport], list[Image]]:
    with db.unit_of_work(read_only=True) as uow:
        reports = list(uow.session.scalars(select(TradeReport).order_by(TradeReport.id)))  # type: ignore[arg-type]
        images = list(uow.session.scalars(select(Image).order_by(Image.id)))  # type: ignore[arg-type]
        uow.session.expunge_all()  # keep the loaded values after the read-only rollback
    return reports, images


def decode(data: bytes) -> PILImage.Image:
    img = PILImage.open(io.BytesIO(data))
    img.load()
    return img


async def test_reports_with_chart_and_thumbnail(settings: Settings, db: TradingDatabase) -> None:
    seeded = seed_journal(db)
    prices = FakePricePath()
    written = await reports_of(settings, db, prices).write_reports(DAY)

    assert written == 2
    assert sorted(prices.calls) == [("BHP", 4036812, DAY), ("XYZ", 99, DAY)]
    reports, images = stored(db)
    by_trip = {r.round_trip_id: r for r in reports}
    assert set(by_trip) == {seeded.bhp, seeded.xyz}  # CBA closed on 07-04 Sydney time
    assert all(r.report_date == DAY and r.account == "U1" for r in reports)

    bhp = by_trip[seeded.bhp]
    assert bhp.title == "BHP: 1,000 @ 45.10 → 45.75, net +$632.00"
    for text in (
        "| Quantity | 1,000 |",
        "| Opened | 2024-07-01 10:20:00 AEST |",
        "| Closed | 2024-07-03 14:30:00 AEST |",
        "| Holding time | 2d 4h 10m |",
        "| Gross P&L | +$650.00 |",
        "| Fees | $18.00 |",
        "| Net P&L | +$632.00 |",
        "| ORH | 45.00 |",
        "| ORL | 44.50 |",
        "| Stop | 44.50 |",
        "| Planned entry | 45.05 |",
        "| News | Quarterly \\| activities report |",  # a pipe cannot break the table
        "| 2024-07-03 11:00:00 AEST | SELL | 500 | 46.00 | $6.00 |",
        "- **chased_entry**: entry 45.10 is 0.2% over the ORH (cost $12.50)",
    ):
        assert text in bhp.body, text
    xyz = by_trip[seeded.xyz]
    assert "net -$112.00" in xyz.title
    assert "No trade plan or candidate" in xyz.body and "None recorded." in xyz.body

    assert len(images) == 2
    assert {(i.owner_type, i.owner_id) for i in images} == {("report", bhp.id),
                                                            ("report", xyz.id)}
    assert all(i.file_size == len(i.data) for i in images)
    for image in images:
        assert image.kind == "chart" and image.mime == "image/png"
        png = decode(image.data)
        assert png.format == "PNG" and png.size == (image.width, image.height) == (800, 420)
        thumb = decode(image.thumbnail)
        assert thumb.format == "WEBP"
        assert thumb.size == (image.thumb_width, image.thumb_height)
        assert max(thumb.size) <= 320 and thumb.size[0] < png.size[0]


async def test_rerun_updates_in_place(settings: Settings, db: TradingDatabase) -> None:
    seed_journal(db)
    # first without the broker (charts from the executions), then with it
    offline = reports_of(settings, db, FakePricePath(failing={"BHP", "XYZ"}))
    assert await offline.write_reports(DAY) == 2
    first_reports, first_images = stored(db)

    online = reports_of(settings, db, FakePricePath())
    assert await online.write_reports(DAY) == 2  # replaced, not added
    again_reports, again_images = stored(db)
    assert [r.id for r in again_reports] == [r.id for r in first_reports]
    assert len(again_images) == 2
    assert {i.owner_id for i in again_images} == {r.id for r in first_reports}
    assert {i.data for i in again_images}.isdisjoint({i.data for i in first_images})

    assert await offline.write_reports(DAY, replace=False) == 0  # existing ones are kept
    kept_reports, kept_images = stored(db)
    assert [i.data for i in kept_images] == [i.data for i in again_images]
    assert len(kept_reports) == 2


async def test_chart_falls_back_to_executions(settings: Settings, db: TradingDatabase) -> None:
    seeded = seed_journal(db)
    with db.unit_of_work() as uow:  # a closed round trip whose executions are not linked
        bare = uow.round_trips.add(
            RoundTrip(ticker="NAB", status="closed", qty=Decimal(10), entry_avg=Decimal(30),
                      exit_avg=Decimal(31), opened_at=syd(3, 10, 0), closed_at=syd(3, 11, 0))
        )
    prices = FakePricePath(failing={"BHP", "NAB"})
    assert await reports_of(settings, db, prices).write_reports(DAY) == 3
    reports, images = stored(db)
    for trip_id in (seeded.bhp, bare.id):
        report = next(r for r in reports if r.round_trip_id == trip_id)
        chart = next(i for i in images if i.owner_id == report.id)
        assert decode(chart.data).format == "PNG" and decode(chart.thumbnail).format == "WEBP"


async def test_day_without_closes_writes_nothing(settings: Settings, db: TradingDatabase) -> None:
    seed_journal(db)
    reports = reports_of(settings, db, FakePricePath())
    assert await reports.write_reports(DAY.replace(day=2)) == 0
    assert stored(db) == ([], [])
    assert reports.export_report(DAY.replace(day=2), Path("/nonexistent")) == []


async def test_export_writes_markdown_and_pngs(
    settings: Settings, db: TradingDatabase, tmp_path: Path
) -> None:
    seeded: Seeded = seed_journal(db)
    reports = reports_of(settings, db, FakePricePath())
    await reports.write_reports(DAY)
    assert reports.last_report_day() == DAY.replace(day=4)  # CBA's close, Sydney time

    paths = reports.export_report(DAY, tmp_path / "out")
    folder = tmp_path / "out" / "2024-07-03"
    assert paths == [
        folder / "report.md",
        folder / f"BHP-rt{seeded.bhp}.png",
        folder / f"XYZ-rt{seeded.xyz}.png",
    ]
    md = paths[0].read_text(encoding="utf-8")
    assert md.startswith("# Trade report 2024-07-03")
    assert f"![BHP chart](BHP-rt{seeded.bhp}.png)" in md
    assert f"## XYZ — round trip #{seeded.xyz}" in md
    _, images = stored(db)
    for png_path, image in zip(paths[1:], images, strict=True):
        assert png_path.read_bytes() == image.data
        assert decode(png_path.read_bytes()).size == (800, 420)
    assert not list(folder.glob(".*.tmp"))

    assert reports.export_report(DAY, tmp_path / "out") == paths  # re-export: same files
