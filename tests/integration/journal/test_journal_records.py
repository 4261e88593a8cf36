"""``skimd journal plan|mistake|attach`` on a real encrypted database: the trader's own
plans (with the specification's fields), mistakes (kept when the end of day re-judges the
round trip) and screenshots with thumbnails on a round trip's report or a plan; bad input
and unknown records fail in one line and write nothing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from skimd.domain.mistakes import MistakeCode, MistakeFinding
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.journal_store import SqlJournalStore
from skimd.infrastructure.database.tables import Image, MistakeEntry, TradePlan, TradeReport
from tests.integration.journal.journal_rows import seed_journal
from tests.integration.journal.test_journal_commands import run

pytestmark = pytest.mark.usefixtures("clean_env")
NOW = datetime(2024, 7, 3, 7, 0, tzinfo=UTC)


def count(db: TradingDatabase, table: type) -> int:
    with db.unit_of_work(read_only=True) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def screenshot(path: Path) -> Path:
    out = io.BytesIO()
    PILImage.new("RGB", (1200, 800), (20, 120, 40)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_plan_add_and_list(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config, "plan", "add", "wes", "--entry", "70.00", "--stop", "68.50", "--target",
               "74", "--qty", "200", "--conviction", "medium", "--strategy", "ORB",
               "--strategy-description", "opening range breakout", "--entry-conditions",
               "break of ORH on volume", "--exit-conditions", "ORL or 3R", "--timeframe",
               "intraday", "--account", "U1", "--json") == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["ticker"], made["stop"], made["direction"], made["status"]) == (
        "WES", "68.50", "long", "draft")
    with db.unit_of_work(read_only=True) as uow:
        plan = uow.session.get(TradePlan, made["id"])
        assert plan is not None
        stored = (plan.entry, plan.conviction, plan.strategy_name, plan.strategy_description,
                  plan.entry_conditions, plan.exit_conditions, plan.timeframe, plan.account)
    assert stored == (Decimal("70.00"), "medium", "ORB", "opening range breakout",
                      "break of ORH on volume", "ORL or 3R", "intraday", "U1")
    assert run(config, "plan", "list", "--status", "draft", "--json") == 0
    assert [p["ticker"] for p in json.loads(capsys.readouterr().out)] == ["WES"]
    assert run(config, "plan", "list") == 0
    assert "WES" in capsys.readouterr().out

    assert run(config, "plan", "add", "WES", "--entry", "70", "--stop", "71") == 65
    assert capsys.readouterr().err.strip() == (
        "skimd: --stop: a long plan's stop must be below the entry 70, got 71")
    assert run(config, "plan", "add", "WES", "--entry", "70", "--stop", "69",
               "--conviction", "sure") == 65
    assert "--conviction: must be one of low, medium, high" in capsys.readouterr().err
    assert count(db, TradePlan) == 1


def test_a_trader_mistake_survives_the_end_of_day(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "mistake", "add", str(seeded.xyz), "Late exit", "--cost", "40",
               "--note", "held past the plan", "--json") == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["category"], made["cost"], made["round_trip_id"]) == ("late_exit", "40",
                                                                      seeded.xyz)
    store = SqlJournalStore(db.unit_of_work)
    finding = MistakeFinding(MistakeCode.CHASED_ENTRY, "chased", Decimal("5.00"))
    for _ in range(2):  # the end of day judges the round trip (again)
        with store.transaction() as tx:
            tx.save_mistakes(seeded.xyz, [finding], NOW)
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(
            select(MistakeEntry).where(MistakeEntry.round_trip_id == seeded.xyz)  # type: ignore[arg-type]
        ).all()
        categories = sorted(m.category for m in rows)
    assert categories == ["chased_entry", "late_exit"]

    assert run(config, "mistake", "add", "999", "late_exit") == 65
    assert capsys.readouterr().err.strip() == (
        "skimd: round trip 999: no such round trip in the journal")
    assert run(config, "mistake", "add", str(seeded.xyz), "exit_below_stop") == 65
    assert "CATEGORY: exit_below_stop is found automatically" in capsys.readouterr().err


def test_attach_a_screenshot_to_a_round_trip_and_a_plan(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    shot = screenshot(tmp_path / "break.jpg")
    assert run(config, "attach", str(seeded.bhp), str(shot), "--caption", "the break",
               "--json") == 0
    on_trip = json.loads(capsys.readouterr().out)
    assert (on_trip["owner_type"], on_trip["mime"], on_trip["caption"]) == (
        "report", "image/jpeg", "the break")
    assert on_trip["file_size"] == shot.stat().st_size
    with db.unit_of_work(read_only=True) as uow:
        report = uow.session.get(TradeReport, on_trip["owner_id"])
        assert report is not None and report.round_trip_id == seeded.bhp
        plan_id = uow.session.scalars(select(TradePlan.id)).first()  # type: ignore[call-overload]
        thumb = uow.images.get_thumbnail(on_trip["id"])
    assert thumb is not None
    with PILImage.open(io.BytesIO(thumb)) as opened:
        assert opened.format == "WEBP" and max(opened.size) <= 320

    assert run(config, "attach", f"plan:{plan_id}", str(shot)) == 0
    assert f"to plan {plan_id}" in capsys.readouterr().out
    with db.unit_of_work(read_only=True) as uow:
        assert [i.kind for i in uow.images.get_for_owner("plan", plan_id)] == ["screenshot"]

    # the report writer fills the report in and keeps the screenshot beside its chart
    assert run(config, "report", "2024-07-03", "--out", str(tmp_path / "out")) == 0
    capsys.readouterr()
    with db.unit_of_work(read_only=True) as uow:
        kinds = sorted(i.kind for i in uow.images.get_for_owner("report", on_trip["owner_id"]))
    assert kinds == ["chart", "screenshot"]
    folder = tmp_path / "out" / "2024-07-03"
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert f"![BHP chart](BHP-rt{seeded.bhp}.png)" in md  # the chart first, then screenshots
    assert f"![the break](BHP-rt{seeded.bhp}-2.jpg)" in md
    assert (folder / f"BHP-rt{seeded.bhp}-2.jpg").read_bytes() == shot.read_bytes()

    before = count(db, Image)
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    assert run(config, "attach", str(seeded.bhp), str(tmp_path / "notes.txt")) == 65
    assert capsys.readouterr().err.strip().startswith(f"skimd: {tmp_path / 'notes.txt'}: image:")
    assert run(config, "attach", "plan:999", str(shot)) == 65
    assert capsys.readouterr().err.strip() == "skimd: trade plan 999: no such plan in the journal"
    assert run(config, "attach", "999", str(shot)) == 65
    assert run(config, "attach", str(seeded.bhp), str(tmp_path / "missing.png")) == 65
    assert "cannot read" in capsys.readouterr().err
    assert count(db, Image) == before
