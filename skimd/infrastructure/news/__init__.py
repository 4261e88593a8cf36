"""ASX company announcements: the real source of
:class:`~skimd.services.ports.broker.AnnouncementFeed`.

Bootstrap builds :class:`.asx_feed.AsxAnnouncementFeed` (``http_client``, the configured
page URL, normally :data:`.asx_page.DEFAULT_URL`, clock, ``ZoneInfo("Australia/Sydney")``);
:func:`.asx_page.parse_announcements` is the pure page reader behind it. The package
imports neither: the daemon builds the feed at start but reads a page only in the news job,
so the page reader (and the stdlib HTML parser under it) is imported by the first read.
"""
