"""``skimd backtest``'s pure parts: ``--set``/``--grid`` parsing and validation (one line
naming the key or the value), the run id, exposure, and the run's settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from skimd.commands.backtest_grid import combinations
from skimd.commands.backtest_run import (
    BAR_S,
    BacktestSpec,
    DayRow,
    exposure,
    run_settings,
    with_overrides,
)
from skimd.config import BrokerSettings, Settings
from skimd.errors import ConfigurationError, InvalidInputError


def test_set_overrides_strategy_settings_validated_like_the_config_file() -> None:
    s = with_overrides(
        Settings(),
        ["strategy.min_gap_pct=6", "strategy.range_minutes=5", "strategy.universe=abc, xyz"],
    )
    assert s.strategy.min_gap_pct == Decimal("6")
    assert s.strategy.range_minutes == 5
    assert s.strategy.universe == ("ABC", "XYZ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("strategy.min_gap=3", "unknown strategy setting 'min_gap'"),
        ("strategy.min_gap_pct=abc", "'strategy.min_gap_pct=abc'"),
        ("strategy.range_minutes=0", "greater than or equal to 1"),
        ("demo.seed=3", "only strategy.KEY settings can be set"),
        ("min_gap_pct=3", "expected strategy.KEY=VALUE"),
        ("strategy.min_gap_pct", "expected strategy.KEY=VALUE"),
    ],
)
def test_a_bad_set_is_one_line_naming_it(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        with_overrides(Settings(), [text])
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_grid_is_every_combination_in_the_order_given() -> None:
    combos = combinations(["strategy.min_gap_pct=3,4,6", "strategy.range_minutes=5, 15"])
    assert len(combos) == 6
    assert combos[0] == ("strategy.min_gap_pct=3", "strategy.range_minutes=5")
    assert combos[1] == ("strategy.min_gap_pct=3", "strategy.range_minutes=15")
    assert combos[-1] == ("strategy.min_gap_pct=6", "strategy.range_minutes=15")


@pytest.mark.parametrize(
    "grid",
    [["strategy.nope=1,2"], ["strategy.min_gap_pct=3", "strategy.min_gap_pct=4"],
     ["strategy.min_gap_pct=,"]],
)
def test_a_bad_grid_axis_is_refused(grid: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        combinations(grid)


def test_the_run_id_names_range_seed_and_overrides() -> None:
    plain = BacktestSpec(date(2026, 1, 5), date(2026, 3, 27), 7)
    assert plain.run_id == "20260105-20260327-seed7"
    one = BacktestSpec(date(2026, 1, 5), date(2026, 3, 27), 7, ("strategy.min_gap_pct=3",))
    other = BacktestSpec(date(2026, 1, 5), date(2026, 3, 27), 7, ("strategy.min_gap_pct=4",))
    assert one.run_id.startswith(plain.run_id + "-")
    assert len({plain.run_id, one.run_id, other.run_id}) == 3


def row(day: int, entries: int, open_after: int) -> DayRow:
    zero = Decimal(0)
    return DayRow(date(2026, 1, day), entries, 0, 0, zero, zero, open_after, zero)


def test_exposure_counts_days_a_position_was_held() -> None:
    # day 5: nothing; 6: entered, held overnight; 7: held from before; 8: flat again, idle
    days = [row(5, 0, 0), row(6, 1, 1), row(7, 0, 0), row(8, 0, 0)]
    assert exposure(days) == Decimal("0.5")
    assert exposure([]) is None


def test_the_run_settings_evaluate_one_minute_bars_in_a_plaintext_scratch_db(
    tmp_path: Path,
) -> None:
    spec = BacktestSpec(date(2026, 1, 5), date(2026, 1, 9), 11, ("strategy.poll_interval_s=30",))
    s = run_settings(Settings(), spec, tmp_path, verbose=False)
    assert s.strategy.poll_interval_s == 30  # --set wins over the bar resolution
    assert s.strategy.scan_interval_s == BAR_S
    assert s.demo.seed == 11
    assert (s.paths.data_dir, s.database.encryption) == (tmp_path, "off")
    assert s.notifications.console is False
    assert s.broker.stream_quotes is False  # one pass per bar, no tick stream
    recorded = run_settings(Settings(), replace(spec, data="recorded"), tmp_path, verbose=False)
    assert recorded.broker.stream_quotes is True  # the tape's pushed quotes replay as ticks
    assert recorded.strategy.scan_interval_s == Settings().strategy.scan_interval_s
    with pytest.raises(ConfigurationError, match="demo broker"):
        run_settings(Settings(broker=BrokerSettings(kind="ibkr")), spec, tmp_path, verbose=False)


def test_a_range_that_ends_before_it_starts_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from skimd.cli import main

    argv = ["backtest", "--from", "2026-01-06", "--to", "2026-01-05",
            "--grid", "strategy.min_gap_pct=3,4"]
    assert main(argv) == InvalidInputError("").exit_code
    assert capsys.readouterr().err.strip() == "skimd: --from 2026-01-06 is after --to 2026-01-05"
