"""The gap scan and the news scan.

Gap scan: from the broker's scanner when it has one, otherwise from snapshots of the
configured universe. Each run upserts today's candidates by (date, ticker): running it
again updates gap, price and volume and never duplicates or resets a candidate's range or
state. A new candidate's opening range starts at the moment it is first seen open, which is
why the scan runs every few seconds from the open until ``scan_until`` (after it, a
gapper seen for the first time is reported but not saved).

News scan: today's announcements (the ASX page, or the demo market). A price-sensitive one
marks the matching candidate; a price-sensitive announcement released while new candidates
can still be traded (up to ``scan_until``) is also alerted as a news candidate (the
standalone list). A page that cannot be parsed raises before anything is written, so a bad
page fails the job and alerts, and never wipes what is known.

Candidate alerts, once per ticker and day: a news candidate and a gap candidate of the same
ticker share one outbox dedup key (:func:`candidate_key`), queued in the same unit of work
as what was found, so whichever comes first is the only one said, also across a restart.
The candidate itself is still saved and marked with its news (the journal keeps it all).

Late candidates: an announcement released after ``scan_until`` cannot make a candidate
that is traded today (a gapper first seen after it is not saved), so it is not sent on its
own. After the session closes, :meth:`Scanner.send_late_candidates` sends the day's late
ones as ONE :class:`~skimd.domain.alerts.LateCandidates` digest: every ticker whose first
price-sensitive announcement came after ``scan_until`` and that was not alerted today as a
gap candidate. It reads the day's announcements again (so a restart loses none) and is
queued under one dedup key per day (so it is never sent twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import structlog

from skimd.domain.alerts import CandidateFound, LateCandidates
from skimd.domain.gaps import GapFilter
from skimd.domain.market import Announcement, GapCandidate, Quote
from skimd.domain.trading import CandidateRecord, CandidateSource
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext

log = structlog.get_logger(__name__)


def candidate_key(day: date, ticker: str) -> str:
    """The outbox dedup key of a ticker's candidate alert on ``day`` (news or gap alike)."""
    return f"candidate:{day.isoformat()}:{ticker}"


def late_candidates_key(day: date) -> str:
    """The outbox dedup key of ``day``'s late-candidate digest."""
    return f"late_candidates:{day.isoformat()}"


def _first_per_symbol(announcements: Iterable[Announcement]) -> dict[str, Announcement]:
    """Each symbol's earliest announcement (ties: the first listed)."""
    first: dict[str, Announcement] = {}
    for ann in announcements:
        known = first.get(ann.symbol)
        if known is None or ann.released_at < known.released_at:
            first[ann.symbol] = ann
    return first


def _news_candidate(ann: Announcement, now: datetime) -> CandidateFound:
    return CandidateFound(
        occurred_at=now, symbol=ann.symbol, source=CandidateSource.NEWS, headline=ann.headline
    )


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
        # The news scan's candidate alerts this process has queued (or found queued) today:
        # a dedup key once in the outbox stays there, so it is not looked up again.
        self._news_alerted: set[str] = set()
        # announcements already recorded for replay today (recording never writes one twice;
        # this saves the transaction when nothing is new)
        self._news_recorded: set[tuple[str, str | None, str, datetime]] = set()
        # (store generation, tickers with news) when every candidate last had its news
        # attached: until either changes no candidate can need it (the store's generation
        # moves with every commit of this process, the one writer of candidates).
        self._news_attached: tuple[int, frozenset[str]] | None = None
        self._late_sent: date | None = None  # the day whose late digest is queued

    def window_closes_at(self, day: date) -> datetime:
        """When a new candidate can no longer be traded on ``day`` (``scan_until``)."""
        return datetime.combine(day, self.ctx.params.scan_until, tzinfo=self.ctx.calendar.zone)

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
            self._news_day, self._news, self._news_alerted = day, {}, set()
            self._news_recorded = set()
        for ann in sensitive:
            self._news.setdefault(ann.symbol, ann)
        now = ctx.now()
        closes = self.window_closes_at(day)
        # late ones (released after the window) go in the day's digest after the close
        due = [
            ann for ann in sensitive
            if ann.released_at <= closes
            and candidate_key(day, ann.symbol) not in self._news_alerted
        ]
        unrecorded = [
            a for a in announcements
            if ctx.records_market and _announcement_key(a) not in self._news_recorded
        ]
        unattached = False
        if self._news_attached != (ctx.store.generation, frozenset(self._news)):
            with ctx.store.read() as tx:  # most runs find nothing to write: no transaction
                unattached = any(self._news_for(c) is not None for c in tx.candidates(day))
        if due or unattached or unrecorded:
            with ctx.store.transaction() as tx:
                tx.record_announcements(day, unrecorded)  # kept to replay the day
                for ann in due:
                    key = candidate_key(day, ann.symbol)
                    tx.alert(_news_candidate(ann, now), dedup_key=key)
                for candidate in tx.candidates(day):
                    self._attach_news(tx, candidate)
            self._news_alerted.update(candidate_key(day, ann.symbol) for ann in due)
            self._news_recorded.update(_announcement_key(a) for a in unrecorded)
        self._news_attached = (ctx.store.generation, frozenset(self._news))
        log.info("news scan", announcements=len(announcements), price_sensitive=len(sensitive))
        return sensitive

    def _news_for(self, candidate: CandidateRecord) -> Announcement | None:
        """The announcement to attach to ``candidate``, if it has none yet."""
        return None if candidate.price_sensitive else self._news.get(candidate.ticker)

    def _attach_news(self, tx: TradingTx, candidate: CandidateRecord) -> CandidateRecord:
        ann = self._news_for(candidate)
        if ann is None:
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
            if ctx.records_market:
                tx.record_quotes(day, [_scanned(gap, now) for gap in gaps], kind="scan")
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
                        dedup_key=candidate_key(day, gap.symbol),
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

    async def send_late_candidates(self) -> str:
        """Queue today's late-candidate digest (see the module doc); once per day."""
        ctx = self.ctx
        day = ctx.today()
        if ctx.news is None or self._late_sent == day:
            return "no late candidates to send"
        announcements = await ctx.news.announcements(day)
        closes = self.window_closes_at(day)
        first = _first_per_symbol(a for a in announcements if a.price_sensitive)
        late = [a for a in first.values() if a.released_at > closes]
        now = ctx.now()
        with ctx.store.transaction() as tx:
            fresh = [a for a in late if tx.candidate(day, a.symbol) is None]
            fresh.sort(key=lambda a: (a.released_at, a.symbol))
            queued = bool(fresh) and tx.alert(
                LateCandidates(
                    occurred_at=now,
                    trading_day=day,
                    window_closed_at=closes,
                    candidates=tuple(_news_candidate(a, a.released_at) for a in fresh),
                ),
                dedup_key=late_candidates_key(day),
            )
        self._late_sent = day
        log.info("late candidates", late=len(late), sent=len(fresh) if queued else 0)
        return f"{len(fresh)} late candidates" + ("" if queued or not fresh else " (sent before)")

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


def _scanned(gap: GapCandidate, at: datetime) -> Quote:
    """What a scan reported of ``gap`` at ``at``, as the quote a replay's scan screens."""
    return Quote(
        conid=gap.conid,
        symbol=gap.symbol,
        at=at,
        last=gap.last,
        open=gap.open,
        prev_close=gap.prev_close,
        volume=gap.volume,
    )


def _announcement_key(ann: Announcement) -> tuple[str, str | None, str, datetime]:
    return (ann.symbol, ann.document_id, ann.headline, ann.released_at)
