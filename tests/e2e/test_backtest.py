"""``skimd backtest`` as a process: a short range is deterministic for its seed, its totals
are the ones its own (encrypted) journal gives when recomputed here from the round-trip
rows, ``skimd journal --db`` reads that journal, and a 4-combination grid prints its
comparison table sorted by expectancy."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from skimd.config import DatabaseSettings, PathSettings, Settings
from skimd.infrastructure.database import open_trading_database
from skimd.infrastructure.database.tables import RecordedQuote, RoundTrip
from tests.e2e.demo_runs import ROOT, SMALL_KDF, demo_config, env

RANGE = ("--from", "2026-01-05", "--to", "2026-01-07", "--seed", "7")


def skimd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skimd", "--config", str(config), *args],
        env=env(), cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def backtest(folder: Path, *extra: str) -> tuple[Path, dict[str, Any]]:
    config = demo_config(folder)
    done = skimd(config, "backtest", *RANGE, *extra, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return config, json.loads(done.stdout)  # stdout is the JSON alone


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The result without what names where it was written or how long it took."""
    skip = {"duration_s", "seconds_per_day", "journal", "charts"}
    return {k: v for k, v in result.items() if k not in skip}


def journal_trips(data_dir: Path, journal: Path) -> list[tuple[str, Any, int, Decimal, Decimal]]:
    """(status, closed_at, id, net P&L, fees) of every round trip in ``journal``; checks
    on the way that a backtest kept no market recording (its market is a model)."""
    settings = Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            filename=str(journal),
            passphrase=SecretStr((data_dir / "skimd.passphrase").read_text().strip()),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
    )
    db = open_trading_database(settings, create=False)
    try:
        with db.unit_of_work(read_only=True) as uow:
            assert uow.session.scalars(select(RecordedQuote)).first() is None
            return [
                (t.status, t.closed_at, t.id or 0, t.net_pnl or Decimal(0), t.fees)
                for t in uow.session.scalars(select(RoundTrip))
            ]
    finally:
        db.close()


@pytest.mark.slow
def test_a_short_backtest_is_deterministic_and_its_totals_match_its_journal(
    tmp_path: Path,
) -> None:
    config, first = backtest(tmp_path / "a")
    _, second = backtest(tmp_path / "b")
    assert comparable(first) == comparable(second)
    assert [d["day"] for d in first["days"]] == ["2026-01-05", "2026-01-06", "2026-01-07"]

    journal = Path(first["journal"])
    assert journal.parent == tmp_path / "a" / "data" / "backtests" / first["run_id"]
    assert not journal.read_bytes().startswith(b"SQLite format 3"), "sealed encrypted"
    trips = journal_trips(tmp_path / "a" / "data", journal)
    closed = sorted((t for t in trips if t[0] == "closed"), key=lambda t: (t[1], t[2]))
    assert closed, "three demo days close round trips"
    nets = [t[3] for t in closed]
    totals = first["totals"]
    assert totals["round_trips"] == len(closed)
    assert Decimal(totals["net_pnl"]) == sum(nets)
    assert Decimal(totals["fees"]) == sum(t[4] for t in closed)
    assert totals["wins"] == sum(1 for n in nets if n > 0)
    assert totals["losses"] == sum(1 for n in nets if n < 0)
    peak, level, deepest = Decimal(0), Decimal(0), Decimal(0)
    for net in nets:
        level += net
        peak = max(peak, level)
        deepest = max(deepest, peak - level)
    assert Decimal(totals["max_drawdown"]) == deepest
    assert sum(d["round_trips"] for d in first["days"]) == len(closed)
    assert Decimal(first["days"][-1]["equity"]) == sum(nets)
    assert totals["open_positions_at_end"] == sum(1 for t in trips if t[0] == "open")
    for name in ("equity", "drawdown"):
        assert Path(first["charts"][name]).read_bytes().startswith(b"\x89PNG")
    saved = json.loads((journal.parent / "result.json").read_text())
    assert comparable(saved) == comparable(first)

    stats = skimd(config, "journal", "stats", "--db", str(journal), "--no-chart", "--json")
    assert stats.returncode == 0, stats.stderr[-2000:]
    assert json.loads(stats.stdout)["total"] == {
        k: v for k, v in totals.items()
        if k not in {"exposure", "fees_paid", "open_positions_at_end"}
    }  # fmt: skip


@pytest.mark.slow
def test_a_grid_of_four_prints_one_table_sorted_by_expectancy(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "grid")
    args = ("backtest", "--from", "2026-01-05", "--to", "2026-01-06", "--seed", "7",
            "--grid", "strategy.min_gap_pct=3,6", "--grid", "strategy.range_minutes=5,15")
    done = skimd(config, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].endswith("4 runs, best expectancy first")
    assert lines[1].split()[:3] == ["min_gap_pct", "range_minutes", "trips"]
    assert len(lines) == 2 + 4 + 1
    grid_file = Path(lines[-1].removeprefix("grid "))
    data = json.loads(grid_file.read_text())
    runs = data["runs"]
    assert sorted((r["settings"]["strategy.min_gap_pct"], r["settings"]["strategy.range_minutes"])
                  for r in runs) == [("3", "15"), ("3", "5"), ("6", "15"), ("6", "5")]
    known = [Decimal(r["expectancy"]) for r in runs if r["expectancy"] is not None]
    assert known == sorted(known, reverse=True)
    assert all(r["expectancy"] is not None for r in runs[: len(known)])
    assert len({r["run_id"] for r in runs}) == 4
    for row, line in zip(runs, lines[2:6], strict=True):
        assert line.split()[-1] == row["run_id"]
        assert Path(row["journal"]).exists()
