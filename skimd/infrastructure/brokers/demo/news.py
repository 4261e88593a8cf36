"""Seeded ASX-style company announcements for the demo market.

Most big gappers (|gap| >= 4 %) have a price-sensitive announcement released before the
open (07:30-09:58 Sydney), worded to match the gap's direction; a few other companies carry
price-sensitive news without gapping much, and routine, non-sensitive notices are spread
through the day (07:30-17:30). Each item has an 8-digit document id, as on the ASX site, so
a later HTML rendering can link to it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from skimd.domain.market import Announcement

if TYPE_CHECKING:
    from skimd.infrastructure.brokers.demo.market import DemoMarket

GOOD_NEWS = (
    "High-Grade Drilling Results Extend Mineralisation",
    "Binding Offtake Agreement Executed",
    "Maiden Mineral Resource Estimate",
    "Record Quarterly Revenue and Cash Flow Positive",
    "Positive Phase 2 Clinical Trial Results",
    "Strategic Investment and Placement at a Premium",
    "Takeover Offer Received - Board Recommends",
    "Major Contract Award",
    "Upgraded FY Earnings Guidance",
)
BAD_NEWS = (
    "Trading Update - FY Guidance Revised",
    "Capital Raising at a Discount - Placement and SPP",
    "Clinical Trial Did Not Meet Primary Endpoint",
    "Resignation of Managing Director",
    "Impairment of Exploration Assets",
)
SENSITIVE_NEUTRAL = (
    "Quarterly Activities Report",
    "Half Year Results Presentation",
    "Response to ASX Price Query",
    "Reinstatement to Official Quotation",
)
ROUTINE = (
    "Change of Director's Interest Notice",
    "Appendix 2A - Application for Quotation of Securities",
    "Becoming a substantial holder",
    "Ceasing to be a substantial holder",
    "Notice of Annual General Meeting",
    "Investor Presentation",
    "Cleansing Notice",
)


def _at(day: date, rng: random.Random, start: time, end: time) -> datetime:
    from skimd.infrastructure.brokers.demo.market import SYDNEY

    lo = datetime.combine(day, start, SYDNEY)
    hi = datetime.combine(day, end, SYDNEY)
    seconds = rng.uniform(0, (hi - lo).total_seconds())
    return (lo + timedelta(seconds=int(seconds))).astimezone(UTC)


def generate_announcements(market: DemoMarket, day: date) -> list[Announcement]:
    """Every announcement of ``day`` (empty on a non-trading day), oldest first."""
    if not market.is_trading_day(day):
        return []
    items: list[Announcement] = []
    for index, plan in enumerate(market.plans(day)):
        rng = random.Random(f"skimd-demo|{market.seed}|{plan.symbol}|{day.isoformat()}|news")
        drafts: list[tuple[str, bool, datetime]] = []
        big = abs(plan.gap_pct) >= 4
        if big and rng.random() < 0.85:
            pool = GOOD_NEWS if plan.gap_pct > 0 else BAD_NEWS
            drafts.append((rng.choice(pool), True, _at(day, rng, time(7, 30), time(9, 58))))
        elif not big and rng.random() < 0.012:
            headline = rng.choice(SENSITIVE_NEUTRAL + GOOD_NEWS)
            drafts.append((headline, True, _at(day, rng, time(7, 30), time(15, 30))))
        if rng.random() < 0.05:
            drafts.append((rng.choice(ROUTINE), False, _at(day, rng, time(7, 30), time(17, 30))))
        for n, (headline, sensitive, released) in enumerate(drafts):
            items.append(
                Announcement(
                    symbol=plan.symbol,
                    headline=headline,
                    released_at=released,
                    price_sensitive=sensitive,
                    document_id=f"{day.toordinal() % 100:02d}{index:04d}{n:02d}",
                    pages=rng.randint(1, 40),
                )
            )
    items.sort(key=lambda a: (a.released_at, a.symbol, a.document_id or ""))
    return items
