"""Seeded ASX-style company announcements for the demo market.

Most big gappers (|gap| >= 4 %) have a price-sensitive announcement released before the
open (from 07:30 until :data:`PRE_OPEN_LEAD` before the session opens), worded to match the
gap's direction; a few other companies carry price-sensitive news without gapping much, and
routine, non-sensitive notices are spread through the day (07:30-17:30). Those wall-clock
times are the announcement platform's hours in the market's zone, not the session's. Each
item has an 8-digit document id, as on the ASX site, so a later HTML rendering can link to
it.

Built from the day's plans alone (:mod:`.day_plans`), so this module needs nothing of the
market that asks for it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo

from skimd.domain.calendar import MarketSession
from skimd.domain.market import Announcement
from skimd.infrastructure.brokers.demo.day_plans import DayPlan

PLATFORM_OPENS = time(7, 30)
SENSITIVE_UNTIL = time(15, 30)
PLATFORM_CLOSES = time(17, 30)
# a gapper's news lands just before its session opens, so the gap is "on news"
PRE_OPEN_LEAD = timedelta(minutes=2)

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


def _at(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    seconds = rng.uniform(0, (hi - lo).total_seconds())
    return (lo + timedelta(seconds=int(seconds))).astimezone(UTC)


def generate_announcements(
    seed: int, session: MarketSession, plans: Sequence[DayPlan], zone: tzinfo
) -> list[Announcement]:
    """Every announcement of ``session``'s day for the tickers of ``plans`` (the market's
    plans of that day, in universe order), oldest first. ``zone``: the market's."""
    day = session.day
    opens = datetime.combine(day, PLATFORM_OPENS, zone)
    pre_open = session.open_at - PRE_OPEN_LEAD
    sensitive_until = datetime.combine(day, SENSITIVE_UNTIL, zone)
    closes = datetime.combine(day, PLATFORM_CLOSES, zone)
    items: list[Announcement] = []
    for index, plan in enumerate(plans):
        rng = random.Random(f"skimd-demo|{seed}|{plan.symbol}|{day.isoformat()}|news")
        drafts: list[tuple[str, bool, datetime]] = []
        big = abs(plan.gap_pct) >= 4
        if big and rng.random() < 0.85:
            pool = GOOD_NEWS if plan.gap_pct > 0 else BAD_NEWS
            drafts.append((rng.choice(pool), True, _at(rng, opens, pre_open)))
        elif not big and rng.random() < 0.012:
            headline = rng.choice(SENSITIVE_NEUTRAL + GOOD_NEWS)
            drafts.append((headline, True, _at(rng, opens, sensitive_until)))
        if rng.random() < 0.05:
            drafts.append((rng.choice(ROUTINE), False, _at(rng, opens, closes)))
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
