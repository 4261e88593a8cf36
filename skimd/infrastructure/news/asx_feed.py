"""The real :class:`~skimd.services.ports.broker.AnnouncementFeed`: the ASX
"Today's announcements" page over HTTP.

The page lists only the current Sydney day, so only that day can be asked for; any other
day is a caller error (:class:`~skimd.errors.InvalidInputError`), not an empty list that
would look like a quiet day. Everything that goes wrong with the page itself — no answer,
a timeout, a non-2xx status, something other than HTML, an unreadable page or row — is a
:class:`~skimd.errors.DataSourceError` (retry later, alert); nothing partial is returned.

The ``httpx.AsyncClient`` is injected (bootstrap owns it, with its timeout, User-Agent and
redirect policy); this class never creates or closes one.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import httpx

from skimd.clock import Clock
from skimd.domain.market import Announcement
from skimd.errors import DataSourceError, InvalidInputError


class AsxAnnouncementFeed:
    """Announcements of today's Sydney session, read from ``url`` (normally
    :data:`~skimd.infrastructure.news.asx_page.DEFAULT_URL`) on every call."""

    def __init__(self, http: httpx.AsyncClient, url: str, clock: Clock, zone: ZoneInfo) -> None:
        self._http = http
        self._url = url
        self._clock = clock
        self._zone = zone

    async def announcements(self, day: date) -> list[Announcement]:
        """Announcements released on ``day`` (today in ``zone``) up to now, oldest first.

        Raises InvalidInputError for any other day, DataSourceError when the page cannot be
        fetched or read.
        """
        now = self._clock.now()
        today = now.astimezone(self._zone).date()
        if day != today:
            raise InvalidInputError(
                f"ASX announcements: {self._url} lists only today's ({today.isoformat()}) "
                f"announcements; {day.isoformat()} was asked for"
            )
        html = await self._fetch()
        # imported on the first read (the news job), not when the daemon builds the feed
        from skimd.infrastructure.news.asx_page import parse_announcements

        items = parse_announcements(html, day, self._zone, source=self._url)
        return [item for item in items if item.released_at <= now]

    async def _fetch(self) -> str:
        where = f"ASX announcements page {self._url}"
        try:
            response = await self._http.get(self._url, headers={"Accept": "text/html"})
            response.raise_for_status()
        except httpx.TimeoutException as exc:
            raise DataSourceError(f"{where}: timed out") from exc
        except httpx.HTTPStatusError as exc:
            raise DataSourceError(f"{where}: HTTP {exc.response.status_code}") from exc
        except httpx.HTTPError as exc:
            raise DataSourceError(f"{where}: {type(exc).__name__}") from exc
        content_type = response.headers.get("content-type", "")
        if content_type and "html" not in content_type.lower():
            kind = content_type.split(";")[0].strip()
            raise DataSourceError(f"{where}: expected an HTML page, got {kind}")
        return response.text
