"""AsxAnnouncementFeed against httpx.MockTransport: the real client, no network."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from skimd.clock import SimulatedClock
from skimd.errors import DataSourceError, InvalidInputError
from skimd.infrastructure.news.asx_feed import AsxAnnouncementFeed
from skimd.infrastructure.news.asx_page import DEFAULT_URL, AnnouncementPageError
from skimd.services.ports.broker import AnnouncementFeed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "news"
SYDNEY = ZoneInfo("Australia/Sydney")
DAY = date(2026, 11, 23)
HTML = {"content-type": "text/html;charset=UTF-8"}

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def sydney(hour: int, minute: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SYDNEY)


class Site:
    """The ASX site as a MockTransport: answers with ``handler`` and records requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(
            200, headers=HTML, text=fixture("asx_today.html")
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
async def http(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(site)) as client:
        yield client


def make_feed(http: httpx.AsyncClient, now: datetime) -> tuple[AsxAnnouncementFeed, SimulatedClock]:
    clock = SimulatedClock(now)
    return AsxAnnouncementFeed(http, DEFAULT_URL, clock, SYDNEY), clock


async def test_only_announcements_released_by_now_are_returned(
    site: Site, http: httpx.AsyncClient
) -> None:
    feed, clock = make_feed(http, sydney(10, 31))
    as_protocol: AnnouncementFeed = feed

    before = await as_protocol.announcements(DAY)
    assert [a.symbol for a in before] == ["MIN", "PDN", "8IH", "DEG"]

    clock.advance_to(sydney(10, 32))  # released_at == now counts as released
    at_release = await feed.announcements(DAY)
    assert [a.symbol for a in at_release][-2:] == ["A8G", "LTR"]

    clock.advance_to(sydney(17, 0))
    everything = await feed.announcements(DAY)
    assert [a.symbol for a in everything] == [
        "MIN", "PDN", "8IH", "DEG", "A8G", "LTR", "BHP", "NWC",
    ]  # fmt: skip
    assert everything[0].released_at == datetime(2026, 11, 22, 20, 31, tzinfo=UTC)
    assert len(site.requests) == 3, "the page is fetched afresh on every call"


async def test_the_page_is_fetched_with_a_get_for_html(site: Site, http: httpx.AsyncClient) -> None:
    feed, _ = make_feed(http, sydney(12, 0))

    await feed.announcements(DAY)

    (request,) = site.requests
    assert request.method == "GET"
    assert str(request.url) == DEFAULT_URL
    assert request.headers["accept"] == "text/html"


async def test_another_day_is_refused_without_a_request(
    site: Site, http: httpx.AsyncClient
) -> None:
    # 07:00 Sydney on 23 Nov is still 22 Nov in UTC: "today" is the Sydney date.
    feed, _ = make_feed(http, sydney(7, 0))

    with pytest.raises(InvalidInputError, match=r"only today's \(2026-11-23\).*2026-11-22"):
        await feed.announcements(date(2026, 11, 22))
    assert site.requests == []
    assert await feed.announcements(DAY) == []  # nothing released before 07:00


@pytest.mark.parametrize("status", [500, 503, 404, 403, 302])
async def test_a_non_2xx_status_is_a_data_source_error(
    site: Site, http: httpx.AsyncClient, status: int
) -> None:
    site.handler = lambda request: httpx.Response(
        status, headers={**HTML, "location": DEFAULT_URL}, text=fixture("asx_today.html")
    )
    feed, _ = make_feed(http, sydney(12, 0))

    with pytest.raises(DataSourceError) as caught:
        await feed.announcements(DAY)

    assert str(caught.value) == f"ASX announcements page {DEFAULT_URL}: HTTP {status}"
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


async def test_a_timeout_is_a_data_source_error(site: Site, http: httpx.AsyncClient) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    site.handler = slow
    feed, _ = make_feed(http, sydney(12, 0))

    with pytest.raises(DataSourceError, match=r"todayAnns\.do: timed out$") as caught:
        await feed.announcements(DAY)
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_a_connection_failure_is_a_data_source_error(
    site: Site, http: httpx.AsyncClient
) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    site.handler = refused
    feed, _ = make_feed(http, sydney(12, 0))

    with pytest.raises(DataSourceError, match=r"todayAnns\.do: ConnectError$") as caught:
        await feed.announcements(DAY)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_content_that_is_not_html_is_a_data_source_error(
    site: Site, http: httpx.AsyncClient
) -> None:
    site.handler = lambda request: httpx.Response(200, json={"data": []})
    feed, _ = make_feed(http, sydney(12, 0))

    with pytest.raises(DataSourceError, match=r"expected an HTML page, got application/json$"):
        await feed.announcements(DAY)


@pytest.mark.parametrize(
    "body", [fixture("asx_blocked.html"), fixture("asx_error_503.html"), "\x00\xff garbage"]
)
async def test_an_html_answer_that_is_not_the_page_is_a_data_source_error(
    site: Site, http: httpx.AsyncClient, body: str
) -> None:
    site.handler = lambda request: httpx.Response(200, headers=HTML, text=body)
    feed, _ = make_feed(http, sydney(12, 0))

    with pytest.raises(AnnouncementPageError, match="no announcements table") as caught:
        await feed.announcements(DAY)
    assert isinstance(caught.value, DataSourceError)


async def test_a_broken_row_fails_the_call_naming_the_row(
    site: Site, http: httpx.AsyncClient
) -> None:
    site.handler = lambda request: httpx.Response(
        200, headers=HTML, text=fixture("asx_today_broken_row.html")
    )
    # Even when the broken row is "in the future" the whole call fails: no partial list.
    feed, _ = make_feed(http, sydney(8, 0))

    with pytest.raises(AnnouncementPageError, match=r": row 4 \(A8G\): unreadable release time"):
        await feed.announcements(DAY)


async def test_an_empty_page_is_an_empty_day(site: Site, http: httpx.AsyncClient) -> None:
    site.handler = lambda request: httpx.Response(
        200, headers=HTML, text=fixture("asx_today_empty.html")
    )
    feed, _ = make_feed(http, sydney(7, 10))

    assert await feed.announcements(DAY) == []
