"""The ASX "Today's announcements" page reader: every row or an error naming what is wrong."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.errors import DataSourceError
from skimd.infrastructure.news.asx_page import (
    DEFAULT_URL,
    AnnouncementPageError,
    parse_announcements,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "news"
SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 23)  # a Monday in daylight saving time: Sydney is UTC+11


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def page(rows: str, *, header: str | None = None, heading: str = "23 November 2026") -> str:
    """A minimal page in the real layout around ``rows``."""
    header = header or (
        "<tr><th>ASX Code</th><th>Date</th><th>Price sens.</th><th><span>Headline</span></th></tr>"
    )
    return (
        "<html><head><title>Today's announcements - ASX</title></head><body>"
        f"<h1>Company announcements published on {heading}</h1>"
        f"<announcement_data><table><caption>Today's Announcements</caption>{header}{rows}"
        "</table></announcement_data></body></html>"
    )


def row(
    code: str = "ABC",
    when: str = "23/11/2026<br><span class='dates-time'>10:32 am</span>",
    sensitive: str = "<td> </td>",
    headline: str = "Quarterly Activities Report",
    ids: str = "03160001",
    pages: str = "<span class='page'>4 pages</span>",
) -> str:
    link = f"/asx/v2/statistics/displayAnnouncement.do?display=pdf&amp;idsId={ids}"
    return (
        f"<tr><td>{code}</td><td>{when}</td>{sensitive}"
        f"<td><a href='{link}'>{headline}<br><img src='/pdf_icon.png'>{pages}"
        "<span class='filesize'>1.2MB</span></a></td></tr>"
    )


def parse(html: str, day: date = DAY) -> list:
    return parse_announcements(html, day, SYDNEY)


def page_error(html: str, day: date = DAY) -> AnnouncementPageError:
    with pytest.raises(AnnouncementPageError) as caught:
        parse(html, day)
    message = str(caught.value)
    assert "\n" not in message, "errors are one line"
    return caught.value


# -- the real-shaped page ------------------------------------------------------------------


def test_every_row_of_the_page_comes_back_oldest_first() -> None:
    items = parse(fixture("asx_today.html"))

    assert [a.symbol for a in items] == ["MIN", "PDN", "8IH", "DEG", "A8G", "LTR", "BHP", "NWC"]
    times = [a.released_at for a in items]
    assert times == sorted(times)


def test_sydney_wall_time_on_the_day_becomes_aware_utc() -> None:
    items = {a.symbol: a for a in parse(fixture("asx_today.html"))}

    # 7:31 am AEDT (UTC+11) on 23 Nov is 20:31 UTC on 22 Nov.
    assert items["MIN"].released_at == datetime(2026, 11, 22, 20, 31, tzinfo=UTC)
    assert items["NWC"].released_at == datetime(2026, 11, 23, 5, 12, tzinfo=UTC)  # 4:12 pm
    assert items["BHP"].released_at == datetime(2026, 11, 23, 2, 5, tzinfo=UTC)  # 1:05 pm
    assert all(a.released_at.utcoffset() is not None for a in items.values())


def test_winter_times_use_standard_time() -> None:
    html = page(
        row(when="15/06/2026<br><span class='dates-time'>10:32 am</span>"),
        heading="15 June 2026",
    )
    (item,) = parse(html, date(2026, 6, 15))
    assert item.released_at == datetime(2026, 6, 15, 0, 32, tzinfo=UTC)  # AEST, UTC+10


def test_price_sensitive_marker_image_is_read_per_row() -> None:
    items = {a.symbol: a.price_sensitive for a in parse(fixture("asx_today.html"))}

    assert items == {
        "MIN": False,
        "PDN": True,
        "8IH": False,
        "DEG": True,
        "A8G": False,  # the cell holds &nbsp;
        "LTR": True,
        "BHP": True,
        "NWC": False,
    }


def test_headlines_are_decoded_and_whitespace_collapsed() -> None:
    items = {a.symbol: a.headline for a in parse(fixture("asx_today.html"))}

    assert items["BHP"] == "BHP Operational Review & FY27 Guidance Update"
    assert items["NWC"] == "Change of Director's Interest Notice"
    assert items["PDN"] == "Quarterly Activities Report \u2013 September 2026"
    assert items["DEG"] == "Trading Halt"  # not "Trading Halt PDF 1 page 95.0KB"


def test_document_ids_and_page_counts() -> None:
    items = {a.symbol: a for a in parse(fixture("asx_today.html"))}

    assert items["BHP"].document_id == "03160451"
    assert items["BHP"].pages == 24
    assert items["DEG"].pages == 1  # "1 page"
    assert items["8IH"].pages is None  # no page-count span on that row
    assert items["8IH"].document_id == "03160350"


def test_same_minute_releases_keep_their_release_order() -> None:
    items = [a.symbol for a in parse(fixture("asx_today.html"))]
    # Both at 10:32 am; the page lists LTR above A8G, i.e. LTR was released later.
    assert items.index("A8G") < items.index("LTR")


def test_a_row_with_an_extra_cell_is_read_by_its_columns() -> None:
    ltr = next(a for a in parse(fixture("asx_today.html")) if a.symbol == "LTR")
    assert (ltr.headline, ltr.price_sensitive, ltr.pages) == (
        "Binding Offtake Agreement Executed",
        True,
        3,
    )


# -- empty pages -----------------------------------------------------------------------------


def test_an_empty_announcements_table_is_an_empty_day() -> None:
    assert parse(fixture("asx_today_empty_table.html")) == []


def test_the_page_before_the_first_release_is_an_empty_day() -> None:
    # Seen before ~7:30 am: the ASX page with an empty <announcement_data>, no table.
    assert parse(fixture("asx_today_empty.html")) == []


def test_a_no_announcements_placeholder_row_is_an_empty_day() -> None:
    html = page("<tr><td colspan='4'>No announcements have been released today</td></tr>")
    assert parse(html) == []


# -- unrecognisable pages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Service temporarily unavailable",
        '{"data": [{"symbol": "BHP"}]}',
        "<html><body><table><tr><th>Nope</th></tr><tr><td>1</td></tr></table></body></html>",
        "%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj",
    ],
)
def test_garbage_is_an_error_not_an_empty_day(text: str) -> None:
    error = page_error(text)
    assert isinstance(error, DataSourceError)
    assert DEFAULT_URL in str(error)
    assert "no announcements table" in str(error)
    assert error.row is None


def test_random_bytes_are_an_error() -> None:
    noise = random.Random(20261123).randbytes(4096).decode("latin-1")
    assert "no announcements table" in str(page_error(noise))


def test_an_html_error_page_is_named_by_its_title() -> None:
    error = page_error(fixture("asx_error_503.html"))
    assert "'503 Service Unavailable'" in str(error)


def test_a_bot_protection_page_is_called_out() -> None:
    assert "bot-protection block page" in str(page_error(fixture("asx_blocked.html")))


def test_an_empty_announcement_section_on_someone_elses_page_is_not_an_empty_day() -> None:
    html = "<html><head><title>Maintenance</title></head><body><announcement_data>"
    html += "</announcement_data></body></html>"
    page_error(html)


def test_a_table_cut_off_before_its_end_is_an_error() -> None:
    whole = fixture("asx_today.html")
    cut = whole[: whole.index("<td>DEG</td>")]  # the first three rows arrived, then nothing

    assert "cut off" in str(page_error(cut))


def test_an_empty_table_on_a_page_that_links_announcements_is_an_error() -> None:
    html = page("") + (
        "<a href='/asx/v2/statistics/displayAnnouncement.do?display=pdf&amp;idsId=1'>x</a>"
    )
    assert "no rows" in str(page_error(html))


def test_a_page_for_another_day_is_an_error() -> None:
    error = page_error(fixture("asx_today.html"), date(2026, 11, 24))
    assert "2026-11-23, not 2026-11-24" in str(error)


# -- one bad row fails the whole page ------------------------------------------------------------


def test_one_broken_row_fails_the_page_and_names_the_row() -> None:
    error = page_error(fixture("asx_today_broken_row.html"))

    assert error.row == 4
    assert str(error) == (
        f"ASX announcements page {DEFAULT_URL}: row 4 (A8G): "
        "unreadable release time '23/11/2026 25:32 pm'"
    )


@pytest.mark.parametrize(
    ("bad_row", "problem"),
    [
        (row(code="B-HP"), "unreadable ASX code 'B-HP'"),
        (row(code=""), "unreadable ASX code ''"),
        (row(when="soon"), "unreadable release time 'soon'"),
        (row(when="10:75 am"), "unreadable release time '10:75 am'"),
        (row(when="31/02/2026 10:32 am"), "unreadable release date"),
        (row(when="22/11/2026 4:59 pm"), "dated 2026-11-22, not 2026-11-23"),
        (row(sensitive="<td>maybe</td>"), "unrecognised price-sensitive marker 'maybe'"),
        (row(headline=" &nbsp; "), "empty headline"),
        ("<tr><td>ABC</td><td>10:32 am</td></tr>", "2 cells, expected at least 4"),
    ],
)
def test_a_malformed_row_among_good_ones_names_its_number(bad_row: str, problem: str) -> None:
    html = page(row(code="GD1") + bad_row + row(code="GD2"))

    error = page_error(html)

    assert error.row == 2
    assert ": row 2" in str(error)
    assert problem in str(error)


def test_the_source_named_in_errors_can_be_given() -> None:
    with pytest.raises(AnnouncementPageError, match=r"^ASX announcements page file:///x\.html: "):
        parse_announcements("garbage", DAY, SYDNEY, source="file:///x.html")


# -- variations the real page may show ---------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected_utc"),
    [
        ("10:32 am", datetime(2026, 11, 22, 23, 32, tzinfo=UTC)),
        ("10:32am", datetime(2026, 11, 22, 23, 32, tzinfo=UTC)),
        ("10:32 A.M.", datetime(2026, 11, 22, 23, 32, tzinfo=UTC)),
        ("12:05 pm", datetime(2026, 11, 23, 1, 5, tzinfo=UTC)),
        ("12:05 am", datetime(2026, 11, 22, 13, 5, tzinfo=UTC)),
        ("23/11/2026 4:59 PM", datetime(2026, 11, 23, 5, 59, tzinfo=UTC)),
        ("23/11/2026<br><span>16:59</span>", datetime(2026, 11, 23, 5, 59, tzinfo=UTC)),
        (
            "\n  23/11/2026&nbsp;\n <span> 7:30\tam </span>",
            datetime(2026, 11, 22, 20, 30, tzinfo=UTC),
        ),
    ],
)
def test_time_formats(when: str, expected_utc: datetime) -> None:
    (item,) = parse(page(row(when=when)))
    assert item.released_at == expected_utc


@pytest.mark.parametrize(
    ("cell", "sensitive"),
    [
        ("<td></td>", False),
        ("<td>&nbsp;</td>", False),
        # The per-company listing puts class="pricesens" on every cell of the column.
        ("<td class='pricesens' style='vertical-align: middle'> </td>", False),
        ("<td class='pricesens'><img src='/images/asterix.gif' class='pricesens'></td>", True),
        ("<td><img src='/x.svg' alt='asterix' title='price sensitive'></td>", True),
        ("<td>*</td>", True),
        ("<td> $ </td>", True),
    ],
)
def test_price_sensitive_markers(cell: str, sensitive: bool) -> None:
    (item,) = parse(page(row(sensitive=cell)))
    assert item.price_sensitive is sensitive


def test_header_sections_reordered_columns_and_lower_case_codes() -> None:
    header = (
        "<thead><tr><th>Headline</th><th>ASX Code</th><th>Price sens.</th><th>Date</th></tr>"
        "</thead><tbody>"
    )
    rows = (
        "<tr><td><a href='/d.do?display=pdf&amp;idsId=77'>Trading Halt</a></td>"
        "<td> bhp </td><td>*</td><td>9:59 am</td></tr></tbody>"
    )
    (item,) = parse(page(rows, header=header))
    assert (item.symbol, item.headline, item.price_sensitive, item.document_id) == (
        "BHP",
        "Trading Halt",
        True,
        "77",
    )


def test_unclosed_cells_and_rows_are_repaired_like_a_browser_would() -> None:
    rows = (
        "<tr><td>AAA<td>9:01 am<td> <td><a href='?idsId=1'>One</a>"
        "<tr><td>BBB<td>9:02 am<td>*<td><a href='?idsId=2'>Two <div>stray</div></a></div>"
    )
    items = parse(page(rows))
    assert [(a.symbol, a.headline, a.price_sensitive) for a in items] == [
        ("AAA", "One", False),
        ("BBB", "Two stray", True),
    ]


def test_a_headline_without_a_link_has_no_document_id() -> None:
    rows = "<tr><td>XYZ</td><td>9:00 am</td><td></td><td>Pause in Trading</td></tr>"
    (item,) = parse(page(rows))
    assert (item.headline, item.document_id, item.pages) == ("Pause in Trading", None, None)


def test_unreadable_page_count_is_none_not_an_error() -> None:
    (item,) = parse(page(row(pages="<span class='page'>many</span>")))
    assert item.pages is None


def test_mangled_pages_only_ever_raise_announcement_page_error() -> None:
    """Whatever damage the page takes, the outcome is a full list or our error, never a
    library exception or a crash."""
    whole = fixture("asx_today.html")
    rng = random.Random(7)
    outcomes = set()
    for _ in range(150):
        chars = list(whole)
        for _ in range(rng.randint(1, 40)):
            start = rng.randrange(len(chars))
            del chars[start : start + rng.randint(1, 60)]
        try:
            items = parse("".join(chars))
        except AnnouncementPageError:
            outcomes.add("error")
        else:
            outcomes.add("list")
            assert all(a.released_at.tzinfo is not None for a in items)
    assert "error" in outcomes
