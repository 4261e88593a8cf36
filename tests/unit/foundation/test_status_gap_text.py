"""`skimd status` shows a gap as a reader wants it (the finding: "7.1366%")."""

from __future__ import annotations

from skimd.commands import status as status_cmd


def test_a_gap_is_signed_with_two_decimals_and_a_missing_one_is_a_dash() -> None:
    assert status_cmd.gap_text("7.1366") == "+7.14%"
    assert status_cmd.gap_text("-3.005") == "-3.01%"
    assert status_cmd.gap_text("14.75") == "+14.75%"
    assert status_cmd.gap_text(None) == "-"


def test_the_candidates_block_prints_the_short_gap() -> None:
    lines: list[str] = []
    status_cmd._candidates(
        lines.append,
        [{"ticker": "VPL", "gap_pct": "7.1366", "price_sensitive": False, "orh": None,
          "orl": None, "state": "watching"}],
    )
    assert "gap +7.14%" in lines[1] and "7.1366" not in lines[1]
