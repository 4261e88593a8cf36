"""Reading the ASX "Today's announcements" page (``todayAnns.do``) into :class:`Announcement`.

The page (as served in 2026; see the report that introduced this module for sources) is one
table inside an ``<announcement_data>`` element, newest first::

    <table><caption>Today's Announcements</caption>
      <tr><th>ASX Code</th><th>Date</th><th>Price sens.</th><th><span>Headline</span></th></tr>
      <tr><td>ESK</td>
          <td>22/09/2026<br><span class="dates-time">12:48 pm</span></td>
          <td class="pricesens"><img class="pricesens" alt="asterix" title="price sensitive"
               src="/asx/v2/markets/image/icon-price-sensitive.svg"></td>
          <td><a href="/asx/v2/statistics/displayAnnouncement.do?display=pdf&amp;idsId=03142186">
                International Defence Deal ...<br><img src=".../pdf_icon.png">
                <span class="page">1 page</span><span class="filesize">330.8KB</span></a></td></tr>
      <tr><td>FIR</td><td>...</td><td> </td><td>...</td></tr>   (not price sensitive)

Columns are found by their header labels, not by position, so extra or reordered cells do
not shift them. Times are Sydney wall-clock times of ``day`` and come out as aware UTC.

Contract (why it is strict): the result feeds the news scan, which replaces the day's news
candidates. A partial list would silently drop candidates, so :func:`parse_announcements`
returns either every announcement on the page or raises :class:`AnnouncementPageError`
(a :class:`~skimd.errors.DataSourceError`: retry later, alert, change nothing):

- a recognised page with no announcements (an empty table, or the empty
  ``<announcement_data>`` the ASX serves before the first release of the day) → ``[]``;
- a page without a recognisable announcements table (garbage, an error or block page,
  a changed layout), or one whose table is cut off before ``</table>`` → error naming the
  page and what it looked like;
- ONE malformed row among good ones (too few cells, an unreadable code, time or
  price-sensitive marker, an empty headline, another day's date) → error naming the row
  number (1 = first announcement row on the page) and its code; never a list without it.

Lenient on purpose: whitespace and entities anywhere, a missing or unreadable page count
(``pages=None``), a headline without a document link (``document_id=None``), header rows,
cells beyond the four columns, a time with or without the date in front.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from skimd.domain.market import Announcement
from skimd.errors import DataSourceError
from skimd.infrastructure.news._html import Element, collapse, parse_html

DEFAULT_URL = "https://www.asx.com.au/asx/v2/statistics/todayAnns.do"

# ASX codes: three characters for the issuer, up to six for other securities (e.g. "BHPKOA").
_CODE = re.compile(r"[A-Z0-9]{3,6}")
_WHEN = re.compile(
    r"(?:(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\s*)?"
    r"(?P<h>\d{1,2}):(?P<min>\d{2})\s*(?:(?P<ampm>[ap])\.?\s*m\.?)?",
    re.IGNORECASE,
)
_PAGES = re.compile(r"(\d+)\s*pages?\b", re.IGNORECASE)
_HEADING_DATE = re.compile(r"published on\s+(\d{1,2})\s+([a-z]+)\s+(\d{4})", re.IGNORECASE)
_NO_ANNOUNCEMENTS = re.compile(r"\bno announcements\b", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"),
        start=1,
    )
}  # fmt: skip
_SNIPPET = 60


class AnnouncementPageError(DataSourceError):
    """The announcements page cannot be read; ``row`` is the 1-based announcement row at
    fault (None when the page as a whole is unrecognisable)."""

    def __init__(
        self, source: str, problem: str, row: int | None = None, code: str | None = None
    ) -> None:
        where = f"ASX announcements page {source}"
        if row is not None:
            where += f": row {row}" + (f" ({code})" if code else "")
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.row = row


@dataclass(frozen=True, slots=True)
class _Columns:
    code: int
    when: int
    sensitive: int
    headline: int

    @property
    def width(self) -> int:
        return max(self.code, self.when, self.sensitive, self.headline) + 1


class _RowError(Exception):
    """A problem with one row; turned into AnnouncementPageError with the row number."""


def parse_announcements(
    html: str, day: date, zone: ZoneInfo, *, source: str = DEFAULT_URL
) -> list[Announcement]:
    """Every announcement on the page, oldest first (ties keep release order).

    ``day`` is the Sydney date the page is for and ``zone`` the exchange's zone
    (Australia/Sydney); ``source`` only names the page in error messages. Raises
    :class:`AnnouncementPageError` as described in the module docstring.
    """
    doc = parse_html(html)
    found = _find_table(doc)
    if found is None:
        if _is_empty_today_page(doc):
            _check_heading_date(doc, day, source)
            return []
        raise AnnouncementPageError(source, f"no announcements table ({_describe(doc, html)})")
    table, columns = found
    if not table.closed:
        raise AnnouncementPageError(source, "the announcements table is cut off (no </table>)")
    _check_heading_date(doc, day, source)

    newest_first: list[Announcement] = []
    number = 0
    for row in _data_rows(table):
        cells = _cells(row)
        if len(cells) == 1 and _NO_ANNOUNCEMENTS.search(cells[0].text()):
            continue  # a "No announcements" placeholder row
        number += 1
        try:
            newest_first.append(_parse_row(cells, columns, day, zone))
        except _RowError as exc:
            code = collapse(cells[columns.code].text()) if len(cells) > columns.code else ""
            raise AnnouncementPageError(
                source, str(exc), row=number, code=_snip(code) or None
            ) from exc
    if not newest_first and _announcement_links(doc):
        raise AnnouncementPageError(
            source, "the announcements table has no rows but the page links announcements"
        )
    # The page lists newest first; reversing keeps same-minute releases in release order.
    oldest_first = list(reversed(newest_first))
    oldest_first.sort(key=lambda a: a.released_at)
    return oldest_first


# -- finding the table ---------------------------------------------------------------------


def _find_table(doc: Element) -> tuple[Element, _Columns] | None:
    """The first table whose header row names the four announcement columns."""
    for table in doc.iter("table"):
        for row in table.iter("tr", into_tables=False):
            cells = _cells(row)
            if not cells or any(cell.tag != "th" for cell in cells):
                if any(cell.tag == "td" for cell in cells):
                    break  # data before any usable header: not our table
                continue
            columns = _columns([collapse(cell.text()).lower() for cell in cells])
            if columns is not None:
                return table, columns
    return None


def _columns(labels: list[str]) -> _Columns | None:
    found: dict[str, int] = {}
    for index, label in enumerate(labels):
        if "asx code" in label or label == "code":
            kind = "code"
        elif "headline" in label:
            kind = "headline"
        elif "price sens" in label or "sensitive" in label:
            kind = "sensitive"
        elif label.startswith("date") or label == "time" or "released" in label:
            kind = "when"
        else:
            continue
        found.setdefault(kind, index)
    if len(found) != 4:
        return None
    return _Columns(found["code"], found["when"], found["sensitive"], found["headline"])


def _data_rows(table: Element) -> list[Element]:
    """Rows of ``table`` itself (not of nested tables) that hold at least one ``<td>``."""
    return [
        row
        for row in table.iter("tr", into_tables=False)
        if any(cell.tag == "td" for cell in _cells(row))
    ]


def _cells(row: Element) -> list[Element]:
    return [child for child in row.elements() if child.tag in ("td", "th")]


# -- one row -------------------------------------------------------------------------------


def _parse_row(cells: list[Element], columns: _Columns, day: date, zone: ZoneInfo) -> Announcement:
    if len(cells) < columns.width:
        raise _RowError(f"{len(cells)} cells, expected at least {columns.width}")
    code = collapse(cells[columns.code].text()).upper()
    if not _CODE.fullmatch(code):
        raise _RowError(f"unreadable ASX code {_snip(code)!r}")
    released_at = _parse_when(collapse(cells[columns.when].text()), day, zone)
    sensitive = _parse_sensitive(cells[columns.sensitive])
    headline, document_id, pages = _parse_headline(cells[columns.headline])
    return Announcement(
        symbol=code,
        headline=headline,
        released_at=released_at,
        price_sensitive=sensitive,
        document_id=document_id,
        pages=pages,
    )


def _parse_when(text: str, day: date, zone: ZoneInfo) -> datetime:
    match = _WHEN.fullmatch(text)
    if match is None:
        raise _RowError(f"unreadable release time {_snip(text)!r}")
    hour, minute = int(match["h"]), int(match["min"])
    ampm = (match["ampm"] or "").lower()
    if minute > 59 or (ampm and not 1 <= hour <= 12) or (not ampm and hour > 23):
        raise _RowError(f"unreadable release time {_snip(text)!r}")
    if ampm:
        hour = hour % 12 + (12 if ampm == "p" else 0)
    if match["y"] is not None:
        try:
            shown = date(int(match["y"]), int(match["m"]), int(match["d"]))
        except ValueError as exc:
            raise _RowError(f"unreadable release date {_snip(text)!r}") from exc
        if shown != day:
            raise _RowError(f"dated {shown.isoformat()}, not {day.isoformat()} (not today's page?)")
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    return local.astimezone(UTC)


def _is_marker_image(img: Element) -> bool:
    described = " ".join(
        (img.attr("class"), img.attr("alt"), img.attr("title"), img.attr("src"))
    ).lower()
    return any(word in described for word in ("pricesens", "price sens", "price-sens", "asterix"))


def _parse_sensitive(cell: Element) -> bool:
    """The marker is an image (the asterisk, now an SVG) or a literal ``*``/``$``.

    The cell's own ``class="pricesens"`` is NOT a marker: the per-company listing puts that
    class on every cell of the column, sensitive or not.
    """
    if any(_is_marker_image(img) for img in cell.iter("img")):
        return True
    text = collapse(cell.text())
    if not text:
        return False
    if text in ("*", "$") or "price sensitive" in text.lower():
        return True
    raise _RowError(f"unrecognised price-sensitive marker {_snip(text)!r}")


def _ends_headline(element: Element) -> bool:
    return element.tag in ("br", "img") or bool(element.classes & {"page", "filesize"})


def _parse_headline(cell: Element) -> tuple[str, str | None, int | None]:
    links = [a for a in cell.iter("a") if a.attr("href")]
    link = next((a for a in links if "idsid=" in a.attr("href").lower()), None)
    if link is None and links:
        link = links[0]
    headline = collapse((link or cell).text(stop=_ends_headline))
    if not headline:
        raise _RowError("empty headline")
    document_id = None
    if link is not None:
        query = parse_qs(urlsplit(link.attr("href")).query)
        ids = next((v for k, v in query.items() if k.lower() == "idsid"), [])
        if ids and ids[0].strip().isdigit():
            document_id = ids[0].strip()
    pages = None
    for span in cell.iter():
        if "page" in span.classes:
            match = _PAGES.search(collapse(span.text()))
            pages = int(match.group(1)) if match else None
            break
    return headline, document_id, pages


# -- the page as a whole -------------------------------------------------------------------


def _announcement_links(doc: Element) -> list[Element]:
    return [
        a
        for a in doc.iter("a")
        if "displayannouncement" in a.attr("href").lower() or "idsid=" in a.attr("href").lower()
    ]


def _title(doc: Element) -> str:
    title = next(doc.iter("title"), None)
    return collapse(title.text()) if title is not None else ""


def _is_empty_today_page(doc: Element) -> bool:
    """The ASX's own page with an empty ``<announcement_data>`` and no announcement links.

    Before the first release of the day the page was seen without any table at all. Only
    the real page qualifies (its title or heading, plus the ``announcement_data`` element),
    so an error or block page never passes as "no announcements".
    """
    if next(doc.iter("announcement_data"), None) is None:
        return False
    heading = " ".join(collapse(h1.text()) for h1 in doc.iter("h1")).lower()
    own_page = "announcements" in _title(doc).lower() or "announcements published" in heading
    return own_page and not _announcement_links(doc)


def _check_heading_date(doc: Element, day: date, source: str) -> None:
    """The heading "Company announcements published on 22 September 2026" must say ``day``
    when it is there (a page served stale from a cache must not pass as today's)."""
    for h1 in doc.iter("h1"):
        match = _HEADING_DATE.search(collapse(h1.text()))
        if match is None:
            continue
        month = _MONTHS.get(match.group(2).lower())
        if month is None:
            return
        try:
            shown = date(int(match.group(3)), month, int(match.group(1)))
        except ValueError:
            return
        if shown != day:
            raise AnnouncementPageError(
                source,
                f"page lists announcements published on {shown.isoformat()}, not {day.isoformat()}",
            )
        return


def _describe(doc: Element, html: str) -> str:
    """A one-line hint of what came back instead, for the error message."""
    title = _title(doc)
    hint = f"page title {_snip(title)!r}" if title else "no page title"
    if "incapsula incident" in html.lower() or "request unsuccessful" in title.lower():
        hint += ", looks like a bot-protection block page"
    return f"{hint}, {len(html):,} characters"


def _snip(text: str) -> str:
    text = collapse(text)
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
