"""The reconciliation digest: its facts, its CSV, and how console, JSON lines and the
Discord formatter show it."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.domain.alert_tables import reconciliation_csv, reconciliation_csv_file
from skimd.domain.alert_text import describe
from skimd.domain.alerts import (
    ReconciliationDigest,
    ReconciliationRow,
    ReconciliationStatus,
    Severity,
)
from skimd.infrastructure.alert_codec import alert_from_payload, to_payload
from skimd.infrastructure.notifications.console import ConsoleNotifier
from skimd.infrastructure.notifications.discord_format import (
    attachments_for,
    plain_text,
    render_alert,
)
from skimd.infrastructure.notifications.discord_limits import split_message
from skimd.infrastructure.notifications.jsonl import JsonlNotifier

T = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)  # 17:30 in Sydney
DAY = date(2026, 11, 24)
SYDNEY = ZoneInfo("Australia/Sydney")
ROWS = (
    ReconciliationRow.compare("BHP", 100, 100, 100),
    ReconciliationRow.compare("CBA", 50, 0, 50),
    ReconciliationRow.compare("AAA", 0, 200, 200),
)
DIRTY = ReconciliationDigest(occurred_at=T, trading_day=DAY, rows=ROWS, clean=False,
                             notes=("AAA bought outside skimd; adopted",))
CLEAN = ReconciliationDigest(occurred_at=T, trading_day=DAY, rows=ROWS[:1], clean=True)


def test_compare_sets_the_status_from_the_three_quantities() -> None:
    assert [r.status for r in ROWS] == [ReconciliationStatus.OK, ReconciliationStatus.MISMATCH,
                                        ReconciliationStatus.MISMATCH]
    assert [r.ok for r in ROWS] == [True, False, False]
    assert ReconciliationRow.compare("X", 1, 1, 2).status is ReconciliationStatus.MISMATCH


def test_severity_title_and_summary_follow_cleanliness() -> None:
    assert DIRTY.severity is Severity.WARNING and CLEAN.severity is Severity.INFO
    assert describe(DIRTY).title == "Reconciliation 2026-11-24: 2 mismatches"
    assert describe(DIRTY).summary == "2026-11-24: 3 tickers, 2 mismatched (CBA, AAA)"
    assert describe(CLEAN).title == "Reconciliation 2026-11-24: clean"
    not_clean = ReconciliationDigest(occurred_at=T, trading_day=DAY, rows=ROWS[:1], clean=False,
                                     notes=("3 executions without an order",))
    assert not_clean.severity is Severity.WARNING
    assert "see notes" in describe(not_clean).summary
    assert describe(not_clean).title == "Reconciliation 2026-11-24: needs a look"


def test_a_clean_digest_cannot_hide_a_mismatch() -> None:
    with pytest.raises(ValueError, match="CBA"):
        ReconciliationDigest(occurred_at=T, trading_day=DAY, rows=ROWS, clean=True)


def test_csv_holds_every_row_under_a_header() -> None:
    name, data = reconciliation_csv_file(DIRTY)
    assert name == "reconciliation-2026-11-24.csv"
    text = data.decode("utf-8")
    assert text == (
        "ticker,db_qty,broker_qty,executions_qty,status\n"
        "BHP,100,100,100,ok\n"
        "CBA,50,0,50,mismatch\n"
        "AAA,0,200,200,mismatch\n"
    )
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [(r["ticker"], int(r["broker_qty"])) for r in parsed] == [
        ("BHP", 100), ("CBA", 0), ("AAA", 200)]


def test_csv_cells_never_run_as_spreadsheet_formulas() -> None:
    odd = ReconciliationDigest(occurred_at=T, trading_day=DAY, clean=False,
                               rows=(ReconciliationRow.compare("=1+2", 1, 2, 3),
                                     ReconciliationRow.compare('A,"B', -5, -5, -5)))
    lines = reconciliation_csv(odd).splitlines()
    assert lines[1] == "'=1+2,1,2,3,mismatch"
    assert lines[2] == '"A,""B",-5,-5,-5,ok'


def test_payload_round_trips_with_rows() -> None:
    back = alert_from_payload(json.loads(json.dumps(to_payload(DIRTY))))
    assert back == DIRTY
    assert isinstance(back, ReconciliationDigest)
    assert back.rows[1].status is ReconciliationStatus.MISMATCH


async def test_console_prints_a_compact_table_mismatches_first() -> None:
    out = io.StringIO()
    await ConsoleNotifier(out, tz=SYDNEY).send(DIRTY)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("17:30:00 WARN reconciliation_digest")
    assert lines[1].split() == ["Ticker", "DB", "Broker", "Execs", "Status"]
    assert [line.split()[0] for line in lines[2:]] == ["AAA", "CBA", "BHP"]
    assert lines[2].split() == ["AAA", "0", "200", "200", "MISMATCH"]
    assert lines[4].split()[-1] == "ok"


async def test_console_lists_only_mismatches_of_a_long_table() -> None:
    rows = tuple(ReconciliationRow.compare(f"T{n:02d}", n, n, n) for n in range(30))
    big = ReconciliationDigest(occurred_at=T, trading_day=DAY, clean=False,
                               rows=(*rows, ReconciliationRow.compare("ZZZ", 1, 0, 1)))
    out = io.StringIO()
    await ConsoleNotifier(out, tz=SYDNEY).send(big)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[2].split()[0] == "ZZZ"
    assert lines[3].strip() == "... and 30 tickers that agree"


async def test_jsonl_record_carries_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    await JsonlNotifier(path).send(DIRTY)
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["rows"][1] == {"ticker": "CBA", "db_qty": 50, "broker_qty": 0,
                                 "executions_qty": 50, "status": "mismatch"}
    assert len(record["rows"]) == 3
    assert alert_from_payload(record["payload"]) == DIRTY


def test_discord_embed_shows_mismatches_and_names_the_csv() -> None:
    content, embeds = render_alert(DIRTY, tz=SYDNEY)
    assert content is None  # a warning, not critical
    (embed,) = embeds
    assert embed.title is not None and embed.title.startswith("🧮 Reconciliation 2026-11-24")
    assert embed.description is not None
    assert "reconciliation-2026-11-24.csv" in embed.description
    table = embed.description.split("```")[1]
    assert "CBA" in table and "AAA" in table and "BHP" not in table  # ok rows: CSV only
    assert [f.value for f in embed.fields] == ["AAA bought outside skimd; adopted"]
    assert embed.colour == 0xF1C40F
    csv_text = reconciliation_csv(DIRTY)
    assert attachments_for(DIRTY) == {"reconciliation-2026-11-24.csv": csv_text.encode()}
    assert attachments_for(CLEAN) != {} and "```" not in (render_alert(CLEAN, tz=SYDNEY)[1][0]
                                                          .description or "")


def test_discord_many_mismatches_keep_code_blocks_whole_and_csv_in_first_message() -> None:
    rows = tuple(ReconciliationRow.compare(f"T{n:03d}", n, n + 1, n) for n in range(400))
    big = ReconciliationDigest(occurred_at=T, trading_day=DAY, rows=rows, clean=False)
    content, embeds = render_alert(big, tz=SYDNEY)
    messages = split_message(content, embeds, attachments_for(big))
    assert len(messages) > 1
    assert list(messages[0].files) == ["reconciliation-2026-11-24.csv"]
    assert all(not m.files for m in messages[1:])
    descriptions = [e.description or "" for m in messages for e in m.embeds]
    assert all(d.count("```") == 2 for d in descriptions)
    shown = {line.split()[0] for d in descriptions for line in d.split("```")[1].splitlines()
             if line.startswith("T") and not line.startswith("Ticker")}
    assert shown == {r.ticker for r in rows}


def test_plain_text_fallback_lists_rows_and_notes() -> None:
    text = plain_text(DIRTY, SYDNEY)
    assert "[WARNING] Reconciliation 2026-11-24: 2 mismatches" in text
    assert "Note: AAA bought outside skimd; adopted" in text
    assert all(t in text for t in ("BHP", "CBA", "AAA"))
