"""The plans, mistakes and bank pages over a real journal database in tmp: the records
are written by the code that owns them (``JournalRecords``, the bank repository), read
through the same services and reads ``skimd web`` is built with, and shown escaped, with
their filters, pages and login rule."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage

from skimd.clock import SimulatedClock
from skimd.domain.trader_records import AttachTarget, OwnerKind, parse_mistake, parse_plan
from skimd.infrastructure.bank_import.records import BankTxnRecord, txn_hash
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.bank_reads import SqlBankReads
from skimd.infrastructure.database.migrate import bring_to_head
from skimd.infrastructure.database.record_store import SqlRecordStore
from skimd.infrastructure.database.tables import RoundTrip
from skimd.services.journal.records import JournalRecords
from tests.integration.web.fakes import ZONE, Browser, make_rig
from tests.integration.web.test_web_app import logged_in

DAY = datetime(2026, 11, 23, 23, 20, tzinfo=UTC)  # 10:20 on the 24th in Sydney


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 40), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def line(day: int, amount: str, text: str) -> BankTxnRecord:
    posted = date(2026, 11, day)
    return BankTxnRecord("cba", posted, Decimal(amount), text, None, None,
                         txn_hash("cba", posted, Decimal(amount), text, None), day)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[tuple[TradingDatabase, JournalRecords]]:
    """Round trips 1 (VPL) and 2 (QMT); plan 1 with a screenshot, plan 2 without; a
    mistake on trip 1 recorded on the 24th and one on trip 2 on the 26th; two bank
    imports (B1: 2 lines, B2: 1 line)."""
    db = TradingDatabase(tmp_path / "journal.db", None, create=True)
    bring_to_head(db)
    clock = SimulatedClock(DAY)
    records = JournalRecords(SqlRecordStore(db.unit_of_work), clock, ZONE)
    with db.unit_of_work() as uow:
        for ticker in ("VPL", "QMT"):
            uow.session.add(RoundTrip(ticker=ticker, qty=Decimal(100),
                                      entry_avg=Decimal("1.20"), opened_at=DAY))
        uow.bank.add_records([line(20, "-12.50", "fee <b>"), line(21, "100", "interest")],
                             DAY, source="csv", batch_id="B1")
        uow.bank.add_records([line(22, "-3", "card")], DAY + timedelta(hours=1),
                             source="ofx", batch_id="B2")
    plan = records.add_plan(parse_plan(ticker="vpl", entry="1.21", stop="1.10",
                                       strategy_name="opening range", notes="wait <i>"))
    records.attach(AttachTarget(OwnerKind.PLAN, plan), png(), caption="the gap <b>")
    records.add_plan(parse_plan(ticker="qmt", entry="2.80", stop="2.70"))
    records.add_mistake(1, parse_mistake("late_exit", note="held on", cost="12.50"))
    clock.advance(timedelta(days=2).total_seconds())
    records.add_mistake(2, parse_mistake("oversized"))
    try:
        yield db, records
    finally:
        db.close()


def browse(journal: tuple[TradingDatabase, JournalRecords], **rig: object) -> Browser:
    db, records = journal
    return logged_in(make_rig(records=records, bank=SqlBankReads(db.unit_of_work), **rig))  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/plans", "/plans/1", "/plans/1/image/1", "/mistakes",
                                  "/bank"])
def test_the_record_pages_need_a_login(path: str) -> None:
    answer = Browser(make_rig().app).get(path)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_the_nav_links_the_record_pages(journal: tuple[TradingDatabase, JournalRecords]) -> None:
    page = browse(journal).get("/").text
    for path in ("/plans", "/mistakes", "/bank"):
        assert f'href="{path}"' in page


def test_plans_list_newest_first_and_one_plan_shows_its_screenshot(
    journal: tuple[TradingDatabase, JournalRecords],
) -> None:
    client = browse(journal)
    listing = client.get("/plans").text
    assert listing.index('href="/plans/2"') < listing.index('href="/plans/1"')
    assert "opening range" in listing and "2026-11-24 10:20:00" in listing
    page = client.get("/plans/1")
    assert page.status_code == 200 and "Plan 1: long VPL (draft)" in page.text
    assert "wait &lt;i&gt;" in page.text and "the gap &lt;b&gt;" in page.text
    assert 'src="/plans/1/image/1"' in page.text
    image = client.get("/plans/1/image/1")
    assert image.headers["content-type"] == "image/png" and image.content == png()
    assert client.get("/plans/2/image/1").status_code == 404  # not plan 2's image
    assert "None attached" in client.get("/plans/2").text
    assert client.get("/plans/9").status_code == 404


def test_mistakes_filter_by_round_trip_and_market_date(
    journal: tuple[TradingDatabase, JournalRecords],
) -> None:
    client = browse(journal)
    everything = client.get("/mistakes").text
    assert everything.index("oversized") < everything.index("late_exit")  # latest first
    assert "2 mistake(s)" in everything and "12.50" in everything and "VPL" in everything
    by_trip = client.get("/mistakes?trip=1").text
    assert "late_exit" in by_trip and "oversized" not in by_trip
    by_day = client.get("/mistakes?from=2026-11-26&to=2026-11-26").text  # Sydney dates
    assert "oversized" in by_day and "late_exit" not in by_day
    assert "1 mistake(s)" in client.get("/mistakes?to=2026-11-24").text
    assert client.get("/mistakes?trip=x").status_code == 400
    assert client.get("/mistakes?from=2026-11-27&to=2026-11-26").status_code == 400


def test_mistakes_page_by_the_page_size_preference(
    journal: tuple[TradingDatabase, JournalRecords],
) -> None:
    client = browse(journal, preferences={"web.page_size": 1})
    first = client.get("/mistakes").text
    assert "oversized" in first and "late_exit" not in first and 'id="older"' in first
    second = client.get("/mistakes?page=2").text
    assert "late_exit" in second and 'id="newer"' in second


def test_bank_shows_the_import_batches_and_their_lines(
    journal: tuple[TradingDatabase, JournalRecords],
) -> None:
    client = browse(journal)
    page = client.get("/bank").text
    assert page.index("B2") < page.index('href="/bank?batch=B1"')  # latest imported first
    assert "3 line(s)" in page and "fee &lt;b&gt;" in page and "-12.50" in page
    assert "2026-11-20 .. 2026-11-21" in page and "--undo BATCH" in page
    one = client.get("/bank?batch=B1").text
    assert "2 line(s)" in one and "card" not in one and "interest" in one
    paged = browse(journal, page_size=2).get("/bank?page=2").text
    assert "1 line(s)" not in paged and "page 2 of 2" in paged
    assert client.get("/bank?page=0").status_code == 400


def test_an_empty_journal_says_so_on_the_bank_page() -> None:
    page = logged_in(make_rig()).get("/bank").text
    assert "No statement imported yet" in page and "0 line(s)" in page
