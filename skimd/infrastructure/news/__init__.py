"""ASX company announcements: the real source of
:class:`~skimd.services.ports.broker.AnnouncementFeed`.

Bootstrap builds ``AsxAnnouncementFeed(http_client, DEFAULT_URL, clock, ZoneInfo(
"Australia/Sydney"))``; :func:`parse_announcements` is the pure page reader behind it.
"""

from skimd.infrastructure.news.asx_feed import AsxAnnouncementFeed
from skimd.infrastructure.news.asx_page import (
    DEFAULT_URL,
    AnnouncementPageError,
    parse_announcements,
)

__all__ = ["DEFAULT_URL", "AnnouncementPageError", "AsxAnnouncementFeed", "parse_announcements"]
