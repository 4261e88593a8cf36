"""The numbers a trader reads on an entry, an exit and the daily summary: one message per
entry with its size, stop, risk and fees; exits with net P&L after fees, R, the move and
the holding time; the day in round trips."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

from skimd.domain.alert_text import describe
from skimd.domain.alerts import (
    DailySummary,
    EntryLapsed,
    EntrySettled,
    PositionExited,
    Severity,
)
from skimd.domain.protection import Cover
from skimd.domain.trading import ExitReason
from tests.fakes.alert_samples import T, since_v1


def _entry() -> EntrySettled:
    (settled,) = [a for a in since_v1() if isinstance(a, EntrySettled)]
    return settled


def _exit(**changes: object) -> PositionExited:
    base = PositionExited(
        occurred_at=T + timedelta(hours=4, minutes=41),
        symbol="VPL",
        quantity=5555,
        entry_price=Decimal("2.85"),
        exit_price=Decimal("2.76"),
        entry_at=T,
        exit_at=T + timedelta(hours=4, minutes=41),
        reason=ExitReason.STOP,
        pnl=Decimal("-499.95"),
        stop=Decimal("2.77"),
        fees=Decimal("12.00"),
        initial_stop=Decimal("2.77"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_an_entry_reads_as_one_line_with_size_stop_risk_and_fees() -> None:
    text = describe(_entry())
    assert text.summary == "Bought 5,555 VPL @ 2.85 · stop 2.77 · risk $444.40 = 1R · fees $6.00"
    assert text.title == "Bought 5,555 VPL @ 2.85, stop 2.77"
    details = dict(text.details)
    assert details["Risk (1R)"] == "$444.40"
    assert details["Value"] == "$15,831.75"
    assert details["Protected by"] == "resting stop at the broker"
    assert _entry().severity is Severity.INFO


def test_a_partly_filled_entry_on_the_software_stop_says_both() -> None:
    entry = dataclasses.replace(_entry(), quantity=2000, cover=Cover.SOFTWARE_STOP, fees=None)
    text = describe(entry)
    assert "Bought 2,000 VPL @ 2.85" in text.summary
    assert "2,000 of 5,555 ordered filled" in text.summary
    assert "fees not known yet" in text.summary
    assert "software stop" in text.summary
    assert entry.risk == Decimal("160.00")
    assert entry.severity is Severity.WARNING  # not resting at the broker


def test_an_entry_that_lapsed_unfilled_is_one_short_line() -> None:
    (lapsed,) = [a for a in since_v1() if isinstance(a, EntryLapsed)]
    text = describe(lapsed)
    assert text.title == "Entry lapsed: YHJ, nothing bought"
    assert text.summary == "YHJ entry of 8,000 @ 1.145 ended unfilled: entry not filled in time"


def test_an_exit_states_net_pnl_r_move_holding_time_and_risk() -> None:
    exited = _exit()
    assert exited.net_pnl == Decimal("-511.95")
    assert exited.risk == Decimal("444.40")
    assert exited.r_multiple == Decimal("-1.15")  # -511.95 / 444.40 = -1.152
    assert round(exited.move_pct, 2) == Decimal("-3.16")
    text = describe(exited)
    assert text.title == "Stop hit: VPL -$511.95 (-1.15R)"
    assert text.summary == (
        "VPL sold 5,555 (stop) 2.85 → 2.76 (-3.16%) · net -$511.95 = -1.15R · fees $12.00 · "
        "held 4 h 41 min · risk $444.40"
    )
    details = dict(text.details)
    assert (details["Gross P&L"], details["Net P&L"], details["R"]) == (
        "-$499.95",
        "-$511.95",
        "-1.15R",
    )


def test_a_partial_exit_states_its_own_part() -> None:
    half = _exit(
        quantity=2777,
        exit_price=Decimal("3.25"),
        reason=ExitReason.PARTIAL,
        pnl=Decimal("1110.80"),
        fees=Decimal("9.00"),
        exit_at=T + timedelta(days=2),
    )
    assert half.risk == Decimal("222.16")  # 2,777 x 0.08: the risk of the half sold
    assert half.net_pnl == Decimal("1101.80")
    assert half.r_multiple == Decimal("4.96")
    text = describe(half)
    assert text.title == "Exit: VPL +$1,101.80 (+4.96R)"
    assert "sold 2,777 (partial)" in text.summary and "held 48 h 0 min" in text.summary


def test_an_exit_without_known_fees_or_stop_shows_gross_and_no_r() -> None:
    exited = _exit(fees=None, initial_stop=None)
    assert exited.net_pnl is None and exited.r_multiple is None and exited.risk is None
    text = describe(exited)
    assert text.title == "Stop hit: VPL -$499.95"
    assert "gross -$499.95 (fees not known yet)" in text.summary
    assert "risk" not in text.summary


def test_the_daily_summary_counts_round_trips_with_distinct_fields() -> None:
    summary = DailySummary(
        occurred_at=T,
        trading_day=date(2026, 11, 24),
        trades=8,
        wins=1,
        losses=2,
        realised_pnl=Decimal("-523.90"),
        fees=Decimal("48.00"),
        open_positions=2,
        total_r=Decimal("-1.20"),
        candidates=15,
        reconciliation_clean=True,
    )
    assert summary.closed == 3 and summary.win_rate == Decimal("33")
    text = describe(summary)
    assert text.summary == (
        "2026-11-24 round trips: 3 closed (1W/2L, win rate 33%), 2 open · net -$523.90 = -1.20R"
    )
    names = [name for name, _ in text.details]
    assert len(names) == len(set(names))
    details = dict(text.details)
    assert details["Closed round trips"] == "3" and details["Still open"] == "2"
    assert details["Total R"] == "-1.20R" and details["Win rate"] == "33%"
    assert (details["Candidates"], details["Reconciliation"]) == ("15", "clean")
    assert "Trades" not in details and "8" not in text.summary  # executions are not trades


def test_a_daily_summary_stored_before_reads_its_notes_under_one_name() -> None:
    old = DailySummary(
        occurred_at=T,
        trading_day=date(2024, 6, 3),
        trades=3,
        wins=0,
        losses=0,
        realised_pnl=Decimal(0),
        fees=Decimal("18"),
        notes=("12 candidates", "reconciliation clean"),
    )
    details = dict(describe(old).details)
    assert details["Notes"] == "12 candidates; reconciliation clean"
    assert details["Win rate"] == "—" and details["Total R"] == "—"
    names = [name for name, _ in describe(old).details]
    assert len(names) == len(set(names))
