"""``skimd journal review`` on a real encrypted database: stored on the round trip's trade
report, shown by ``round-trips --json`` and the CSV export, grouped by ``stats --by
setup|tag``, kept when the report writer fills or replaces the report; bad input and an
unknown round trip fail with one line and write nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import TradeReport
from tests.integration.journal.journal_rows import seed_journal
from tests.integration.journal.test_journal_commands import run

pytestmark = pytest.mark.usefixtures("clean_env")


def reports(db: TradingDatabase) -> list[tuple[int | None, str, int | None, str]]:
    with db.unit_of_work(read_only=True) as uow:
        rows = uow.session.scalars(select(TradeReport).order_by(TradeReport.id))  # type: ignore[arg-type]
        return [(r.round_trip_id, r.body, r.setup_quality, r.tags) for r in rows]


def test_review_is_stored_listed_and_grouped(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "review", str(seeded.bhp), "--setup", "4", "--execution", "3",
               "--followed-plan", "yes", "--emotion", "Calm", "--lessons", "waited",
               "--tag", "ORB", "--tag", "news") == 0
    line = capsys.readouterr().out
    assert line.startswith(f"reviewed round trip {seeded.bhp} BHP (closed 2024-07-03 14:30:00")
    assert "setup 4/5, execution 3/5, plan followed, calm, tags: orb, news" in line
    assert reports(db) == [(seeded.bhp, "", 4, '["orb", "news"]')]  # a review-only report

    # a second sitting changes only what it gives
    assert run(config, "review", str(seeded.bhp), "--execution", "5", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["setup_quality"], data["execution_quality"], data["tags"]) == (4, 5,
                                                                                ["orb", "news"])
    assert run(config, "review", str(seeded.xyz), "--setup", "2", "--tag", "news") == 0
    capsys.readouterr()

    assert run(config, "round-trips", "--json") == 0
    listed = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed[seeded.bhp]["followed_plan"] is True
    assert listed[seeded.bhp]["emotional_state"] == "calm"
    assert listed[seeded.bhp]["lessons_learned"] == "waited"
    assert listed[seeded.wes]["setup_quality"] is None and listed[seeded.wes]["tags"] == []

    assert run(config, "round-trips") == 0  # the table ends with grades and tags
    table = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert table[str(seeded.bhp)][-2:] == ["4/5", "orb,news"]
    assert table[str(seeded.xyz)][-2:] == ["2/-", "news"]
    assert not any("/" in cell for cell in table[str(seeded.wes)])  # not reviewed: blank
    assert table["total"][-2:] == ["2", "reviewed"]
    assert run(config, "review", str(seeded.wes), "--tag", "alpha-one", "--tag", "bravo-two",
               "--tag", "charlie-three") == 0
    capsys.readouterr()
    assert run(config, "round-trips", "--open") == 0
    wes = capsys.readouterr().out.splitlines()[1].split()
    assert wes[-1] == "alpha-one,bravo-two,cha…"  # cut to fit; --json has them all

    assert run(config, "stats", "--by", "setup", "--no-chart", "--json") == 0
    by_setup = json.loads(capsys.readouterr().out)
    assert [(g["label"], g["round_trips"]) for g in by_setup["groups"]] == [
        ("setup 2/5", 1), ("setup 4/5", 1), ("—", 1)]
    assert by_setup["notes"][-1].startswith("setup: 1 of 3 round trip(s) have no setup grade")
    assert run(config, "stats", "--by", "tag", "--no-chart", "--json") == 0
    by_tag = {g["label"]: g["net_pnl"] for g in json.loads(capsys.readouterr().out)["groups"]}
    assert by_tag == {"news": "520", "orb": "632", "—": "-2"}

    assert run(config, "export", "--what", "round-trips") == 0
    trips = {r["ticker"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert (trips["BHP"]["tags"], trips["BHP"]["setup_quality"]) == ("orb;news", "4")

    assert run(config, "review", str(seeded.bhp)) == 0  # no field: show it
    assert "round trip" in capsys.readouterr().out


def test_the_report_writer_fills_a_review_only_report_and_keeps_the_review(
    config: Path, db: TradingDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeded = seed_journal(db)
    assert run(config, "review", str(seeded.bhp), "--setup", "5", "--tag", "a+") == 0
    assert run(config, "report", "2024-07-03", "--out", str(tmp_path / "out")) == 0
    assert "2 new report(s)" in capsys.readouterr().out
    rows = reports(db)
    assert len(rows) == 2  # the review's report was filled in, not duplicated
    bhp = next(r for r in rows if r[0] == seeded.bhp)
    assert bhp[1] and bhp[2] == 5 and bhp[3] == '["a+"]'
    assert (tmp_path / "out" / "2024-07-03" / f"BHP-rt{seeded.bhp}.png").is_file()
    md = (tmp_path / "out" / "2024-07-03" / "report.md").read_text(encoding="utf-8")
    assert "### Trader's review\n\n- setup: 5/5\n- tags: a+" in md
    assert md.count("### Trader's review") == 1  # XYZ is not reviewed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--setup", "7"], "skimd: --setup: must be 1-5, got 7"),
        (["--execution", "x"], "skimd: --execution: must be 1-5, got 'x'"),
        (["--followed-plan", "maybe"], "skimd: --followed-plan: must be yes or no, got 'maybe'"),
        (["--emotion", "two words"], "skimd: --emotion: must be one word, got 'two words'"),
        (["--tag", "a,b"], "skimd: --tag: a tag is 1-40 characters without a comma or edge"
         " spaces, got 'a,b'"),
    ],
)
def test_bad_input_fails_in_one_line_naming_the_flag(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str],
    args: list[str], message: str,
) -> None:
    seeded = seed_journal(db)
    assert run(config, "review", str(seeded.bhp), "--setup", "3", *args) == 65
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert reports(db) == []


def test_an_unknown_round_trip_is_named_and_nothing_is_written(
    config: Path, db: TradingDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_journal(db)
    assert run(config, "review", "999", "--setup", "3") == 65
    assert capsys.readouterr().err.strip() == (
        "skimd: round trip 999: no such round trip in the journal")
    with db.unit_of_work(read_only=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(TradeReport)) == 0
