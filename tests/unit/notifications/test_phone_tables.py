"""Tables and details as a phone shows them on Discord."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from skimd.domain.alert_tables import (
    PHONE_WIDTH,
    candidate_phone_tables,
    display_width,
    reconciliation_phone_table,
    wrap,
)
from skimd.domain.alerts import (
    CandidateDigest,
    CandidateFound,
    PositionExited,
    ReconciliationDigest,
    ReconciliationRow,
    Severity,
)
from skimd.domain.trading import CandidateSource, ExitReason
from skimd.infrastructure.notifications.discord_format import (
    COLOURS,
    GOOD_NEWS,
    colour_for,
    is_record_id,
    phone_details,
    plain_text,
    render_alert,
)
from tests.fakes.alert_samples import T, every_kind

SYDNEY = ZoneInfo("Australia/Sydney")
GAP = CandidateFound(occurred_at=T, symbol="BHP", source=CandidateSource.GAP,
                     prev_close=Decimal("45.10"), open_price=Decimal("47.50"),
                     gap_pct=Decimal("5.3215"))
HEADLINE = "Strategic Investment and Placement at a Premium to the Last Close Price"
NEWS = CandidateFound(occurred_at=T, symbol="VPL", source=CandidateSource.NEWS,
                      headline=HEADLINE)


def test_gap_and_news_candidates_each_get_their_own_form() -> None:
    digest = CandidateDigest(occurred_at=T, candidates=(NEWS, GAP))
    gaps, news = candidate_phone_tables(digest)
    assert (gaps.caption, news.caption) == ("Gaps", "News")
    assert gaps.header.split() == ["Ticker", "Gap", "Open"]
    assert gaps.rows == (f"{'BHP':<6} {'+5.32%':>9} {'47.50':>10}",)
    (row,) = news.rows
    first, second = row.split("\n")
    assert first == "VPL    Strategic Investment and"
    assert second.startswith("       Placement at a Premium") and second.endswith("…")
    assert "—" not in row  # no empty numeric columns for news
    lines = [gaps.header, *gaps.rows, *row.split("\n")]
    assert max(display_width(line) for line in lines) <= PHONE_WIDTH


def test_a_digest_of_one_kind_has_one_table() -> None:
    (only,) = candidate_phone_tables(CandidateDigest(occurred_at=T, candidates=(GAP, GAP)))
    assert only.caption == "Gaps" and len(only.rows) == 2


def test_wrap_breaks_at_spaces_splits_long_words_and_counts_wide_characters() -> None:
    assert wrap("one two three", 7) == ["one two", "three"]
    assert wrap("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert wrap("株式株式株式", 5) == ["株式", "株式", "株式"]
    assert wrap("a b c d e f", 3, max_lines=2) == ["a b", "c…"]
    assert display_width("株🚀a\u0301") == 5  # two wide, one letter, one combining mark


def test_reconciliation_fits_with_large_quantities_and_puts_mismatches_first() -> None:
    digest = ReconciliationDigest(
        occurred_at=T, trading_day=date(2024, 6, 3), clean=False,
        rows=(ReconciliationRow.compare("AAA", 1, 1, 1),
              ReconciliationRow.compare("ZZZZZZ", 9_999_999, 0, 9_999_999)),
    )
    table = reconciliation_phone_table(digest)
    assert [r.split()[0] for r in table.rows] == ["ZZZZZZ", "AAA"]
    assert table.rows[0].split()[1:] == ["9999999", "0", "9999999", "MISMATCH"]
    assert max(display_width(line) for line in (table.header, *table.rows)) <= PHONE_WIDTH
    assert [r.split()[0] for r in reconciliation_phone_table(
        digest, mismatches_only=True).rows] == ["ZZZZZZ"]


def test_an_over_wide_cell_continues_on_the_next_line_of_its_code_block() -> None:
    odd = CandidateFound(occurred_at=T, symbol="X" * 50, source=CandidateSource.GAP,
                         gap_pct=Decimal("4"), open_price=Decimal("1"))
    _, (embed,) = render_alert(CandidateDigest(occurred_at=T, candidates=(odd,)), tz=SYDNEY)
    assert embed.description is not None
    block = embed.description.split("```")[1].strip("\n").splitlines()
    assert max(len(line) for line in block) == PHONE_WIDTH
    assert "".join(block[1:]).startswith("X" * 50)  # nothing lost


def test_backticks_in_a_headline_cannot_close_the_fence() -> None:
    news = CandidateFound(occurred_at=T, symbol="TCK", source=CandidateSource.NEWS,
                          headline="```oops``` and `more`")
    _, (embed,) = render_alert(CandidateDigest(occurred_at=T, candidates=(news,)), tz=SYDNEY)
    assert embed.description is not None and embed.description.count("```") == 2
    assert "'''oops''' and 'more'" in embed.description


def test_details_that_say_nothing_repeat_the_title_or_are_ids_stay_off() -> None:
    details = (
        ("Symbol", "BHP"),
        ("Side", "BUY"),
        ("Quantity", "100"),
        ("Guard", "daily_loss_cap"),
        ("Limit", "—"),
        ("Equity", ""),
        ("Order", "SK20240603-BHP-E1.1"),
        ("Broker id", "99887766"),
        ("Perm Id", "5"),
        ("Stop", "47.09"),
        ("Open positions", "1"),
        ("Reason", "price band"),
    )
    kept = phone_details("Guard tripped: daily loss cap · BUY 100 BHP 1", details)
    assert kept == [("Stop", "47.09"), ("Open positions", "1"), ("Reason", "price band")]
    assert is_record_id("Order id") and is_record_id("Order") and not is_record_id("Orders")


def test_plain_text_fallback_uses_the_phone_tables() -> None:
    digest = CandidateDigest(occurred_at=T, candidates=(GAP, NEWS))
    text = plain_text(digest, SYDNEY)
    assert "News" in text and "VPL    Strategic Investment and" in text
    assert "Prior" not in text and "—" not in text


def test_an_exit_is_green_only_when_it_made_money_after_fees() -> None:
    (exited,) = [a for a in every_kind() if isinstance(a, PositionExited)]
    info = dataclasses.replace(exited, reason=ExitReason.TRAIL)
    assert info.severity is Severity.INFO
    small_win = dataclasses.replace(info, pnl=Decimal("10"), fees=Decimal("12"))
    real_win = dataclasses.replace(info, pnl=Decimal("20"), fees=Decimal("12"))
    fees_unknown = dataclasses.replace(info, pnl=Decimal("10"), fees=None)
    assert colour_for(small_win) == COLOURS[Severity.INFO]
    assert colour_for(real_win) == GOOD_NEWS == colour_for(fees_unknown)
