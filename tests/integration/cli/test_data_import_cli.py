"""``skimd data import``: bars from CSV into the recorded market, whole or not at all, and
read back by the recorded market a backtest replays."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from skimd import bootstrap
from skimd.infrastructure.brokers.factory import build_recorded_market
from skimd.infrastructure.database.tables import HistoricalPrice, RecordedBar
from tests.integration.cli.conftest import cli, settings_of

DAY = date(2026, 3, 3)  # a Tuesday

GOOD = """Symbol,Date,Open,High,Low,Close,Volume,WAP
ZZZ,2026-03-02,1.000,1.050,0.990,1.000,100000,1.01
ZZZ,20260303  10:00:00,1.100,1.120,1.090,1.110,5000,1.1
ZZZ,2026-03-03 10:01,1.110,1.150,1.100,1.140,6000,1.12
ZZZ,2026-03-03 10:02,1.140,1.140,1.020,1.030,7000,1.05
ZZZ,2026-03-03 10:03,1.030,1.060,1.030,1.050,4000,1.04
"""


def _counts(config: Path) -> tuple[int, int]:
    with bootstrap.build(settings_of(config)) as app, app.database.unit_of_work() as uow:
        daily = uow.session.scalar(select(func.count()).select_from(HistoricalPrice))
        minute = uow.session.scalar(select(func.count()).select_from(RecordedBar))
    return int(daily or 0), int(minute or 0)


def test_a_csv_file_imports_daily_and_minute_bars(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "zzz.csv"
    path.write_text(GOOD, encoding="utf-8")
    assert cli(initialised, "data", "import", str(path), "--json") == 0
    done = json.loads(capsys.readouterr().out)
    assert done == {"file": str(path), "daily_bars": 1, "minute_bars": 4, "symbols": ["ZZZ"],
                    "first_day": "2026-03-02", "last_day": "2026-03-03"}  # fmt: skip
    assert cli(initialised, "data", "import", str(path)) == 0  # again: nothing new
    assert _counts(initialised) == (1, 4)

    settings = settings_of(initialised)
    market = build_recorded_market(settings, bootstrap.build_calendar(settings))
    try:
        at_1002 = datetime(2026, 3, 2, 23, 2, tzinfo=UTC)  # 10:02 Sydney (UTC+11)
        quote = market.quote("ZZZ", at_1002)
        assert quote.last == Decimal("1.140")  # the 10:01 bar's close: 10:02 not done yet
        assert quote.open == Decimal("1.100") and quote.prev_close == Decimal("1.000")
        assert [o.symbol for o in market.opened(at_1002)] == ["ZZZ"]  # +10 % on the 1.000
        # a sell stop at 1.05 placed at 10:01:30: the next bar (10:02) reaches it, and
        # its low (first inside a bar: pessimistic) fills it at the level
        hit = market.first_cross("ZZZ", datetime(2026, 3, 2, 23, 1, 30, tzinfo=UTC),
                                 datetime(2026, 3, 2, 23, 5, tzinfo=UTC), Decimal("1.05"),
                                 below=True)  # fmt: skip
        assert hit == (datetime(2026, 3, 2, 23, 2, 20, tzinfo=UTC), Decimal("1.05"))
        # a market order then: the next bar's open
        mkt = market.first_cross("ZZZ", datetime(2026, 3, 2, 23, 2, 10, tzinfo=UTC),
                                 datetime(2026, 3, 2, 23, 5, tzinfo=UTC), Decimal("1e9"),
                                 below=True)  # fmt: skip
        assert mkt == (datetime(2026, 3, 2, 23, 3, tzinfo=UTC), Decimal("1.030"))
        bars = market.intraday_bars("ZZZ", DAY, 5, datetime(2026, 3, 3, 5, tzinfo=UTC))
        assert [(b.open, b.high, b.low, b.close, b.volume) for b in bars] == [
            (Decimal("1.100"), Decimal("1.150"), Decimal("1.020"), Decimal("1.050"), 22000)
        ]
    finally:
        market.close()


@pytest.mark.parametrize(
    ("line", "column", "text"),
    [
        (3, "high", "ZZZ,2026-03-03 10:01,1.110,1.100,1.100,1.140,6000"),
        (3, "date", "ZZZ,03/03/2026,1.110,1.150,1.100,1.140,6000"),
        (3, "open", "ZZZ,2026-03-03 10:01,abc,1.150,1.100,1.140,6000"),
        (3, "symbol", "Z-Z,2026-03-03 10:01,1.110,1.150,1.100,1.140,6000"),
    ],
)
def test_a_bad_value_stops_the_whole_file_with_one_line(
    initialised: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: int,
    column: str,
    text: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"symbol,date,open,high,low,close,volume\n{GOOD.splitlines()[2]}\n{text}\n")
    assert cli(initialised, "data", "import", str(path)) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert f"{path}: line {line}: column {column}:" in err[-1]
    assert _counts(initialised) == (0, 0)  # the good line before it was not kept


def test_a_file_without_symbols_takes_the_symbol_option(
    initialised: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.csv"
    path.write_text("date,open,high,low,close,volume\n20260302,1,1.1,0.9,1.05,10\n")
    assert cli(initialised, "data", "import", str(path)) != 0
    assert "line 1: missing column(s) symbol" in capsys.readouterr().err
    assert cli(initialised, "data", "import", str(path), "--symbol", "zzz") == 0
    assert "1 daily and 0 one-minute bars of 1 ticker(s) (ZZZ), 2026-03-02" in (
        capsys.readouterr().out
    )
