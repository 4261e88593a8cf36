"""The gap scan and the news scan.

Gap scan: from the broker's scanner when it has one, otherwise from snapshots of the
configured universe. Each run upserts today's candidates by (date, ticker): running it
again updates gap, price and volume and never duplicates or resets a candidate's range or
state. A new candidate's opening range starts at the moment it is first seen open, which is
why the scan runs every few seconds from the open until ``scan_until`` (after it, a
gapper seen for the first time is reported but not saved).

News scan: today's announcements (the ASX page, or the demo market). A price-sensitive one
marks the matching candidate; every price-sensitive announcement is also alerted once as a
news candidate (the standalone list). A page that cannot be parsed raises before anything is
written, so a bad page fails the job and alerts, and never wipes what is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import structlog

from skimd.domain.alerts import CandidateFound
from skimd.domain.gaps import GapFilter
from skimd.domain.market import Announcement, GapCandidate
from skimd.domain.trading import CandidateRecord, CandidateSource
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext

log = structlog.get_logger(__name__)


@dataclass
class ScanOutcome:
    """What one scan run found (for the job result and ``skimd scan``)."""

    gaps: list[GapCandidate] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    news: list[Announcement] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.gaps)} gap candidates ({len(self.new)} new), "
            f"{len(self.news)} price-sensitive announcements"
        )


class Scanner:
    """Both scans; remembers the day's price-sensitive announcements between runs."""

    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx
        self._news_day: date | None = None
        self._news: dict[str, Announcement] = {}

    async def scan_news(self) -> list[Announcement]:
        """Fetch today's announcements, mark matching candidates, alert new ones."""
        ctx = self.ctx
        feed = ctx.news
        if feed is None:
            return []
        day = ctx.today()
        announcements = await feed.announcements(day)  # raises before anything is written
        sensitive = [a for a in announcements if a.price_sensitive]
        if self._news_day != day:
            self._news_day, self._news = day, {}
        for ann in sensitive:
            self._news.setdefault(ann.symbol, ann)
        now = ctx.now()
        with ctx.store.transaction() as tx:
            for ann in sensitive:
                tx.alert(
                    CandidateFound(
                        occurred_at=now,
                        symbol=ann.symbol,
                        source=CandidateSource.NEWS,
                        headline=ann.headline,
                    ),
                    dedup_key=f"news:{day}:{ann.symbol}",
                )
            for candidate in tx.candidates(day):
                self._attach_news(tx, candidate)
        log.info("news scan", announcements=len(announcements), price_sensitive=len(sensitive))
        return sensitive

    def _attach_news(self, tx: TradingTx, candidate: CandidateRecord) -> CandidateRecord:
        ann = self._news.get(candidate.ticker)
        if ann is None or candidate.price_sensitive:
            return candidate
        return tx.save_candidate(
            candidate.with_(
                news_headline=ann.headline, news_time=ann.released_at, price_sensitive=True
            ),
            self.ctx.now(),
        )

    async def scan_gaps(self) -> ScanOutcome:
        """Find today's gappers and upsert them as candidates (see module doc)."""
        ctx = self.ctx
        outcome = ScanOutcome()
        if ctx.session() is None:
            return outcome
        day = ctx.today()
        if self._news_day != day and ctx.news is not None:
            outcome.news = await self.scan_news()
        gaps = await self._find_gaps()
        outcome.gaps = gaps
        now = ctx.now()
        # After scan_until a first sighting is no longer near the open, so its opening range
        # would be wrong: report it (``skimd scan``) but do not make it a candidate.
        late = now.astimezone(ctx.calendar.zone).time() > ctx.params.scan_until
        with ctx.store.transaction() as tx:
            for gap in gaps:
                existing = tx.candidate(day, gap.symbol)
                if existing is None and late:
                    continue
                if existing is None:
                    record = CandidateRecord(  # a new candidate starts ranging
                        scan_date=day,
                        ticker=gap.symbol,
                        conid=gap.conid,
                        range_start_at=now,
                    )
                    outcome.new.append(gap.symbol)
                    tx.alert(
                        CandidateFound(
                            occurred_at=now,
                            symbol=gap.symbol,
                            source=CandidateSource.GAP,
                            prev_close=gap.prev_close,
                            open_price=gap.open,
                            gap_pct=gap.gap_pct,
                        ),
                        dedup_key=f"gap:{day}:{gap.symbol}",
                    )
                else:
                    record = existing
                saved = tx.save_candidate(
                    record.with_(
                        conid=gap.conid,
                        gap_pct=gap.gap_pct,
                        prev_close=gap.prev_close,
                        open_price=gap.open,
                        volume=gap.volume,
                    ),
                    now,
                )
                self._attach_news(tx, saved)
        log.info("gap scan", found=len(gaps), new=len(outcome.new))
        return outcome

    async def _find_gaps(self) -> list[GapCandidate]:
        p = self.ctx.params
        broker = self.ctx.broker
        if broker.has_scanner:
            return await broker.scan_gaps(p.min_gap_pct, p.min_price, p.min_volume)
        if not p.universe:
            return []
        contracts = await broker.resolve(p.universe)
        quotes = await broker.snapshots([c.conid for c in contracts.values()])
        screen = GapFilter(p.min_gap_pct, p.min_price, p.min_volume)
        return screen.select(quotes, self.ctx.today())
