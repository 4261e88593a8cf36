"""Opening ranges, the first step of each intraday poll.

A ranging candidate's ORH/ORL grow with each snapshot until ``range_minutes`` after it was
first seen open. Then its range is complete: it becomes ``tradeable``, or ``skipped`` when
the range is flat or the required news is missing (the rule is the candidate's own,
:meth:`~skimd.domain.trading.CandidateRecord.range_complete`), and a tradeable one is
alerted with its entry plan and the path seen so far (its chart). The trade plan follows
along: ``draft`` once a range exists, then ``active`` or ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog

from skimd.domain.alerts import TradeableCandidate
from skimd.domain.entries import EntryPlan
from skimd.domain.market import Quote
from skimd.domain.trading import CandidateRecord, CandidateState
from skimd.services.trading.context import TradingContext

log = structlog.get_logger(__name__)

_PLAN_STATUS = {CandidateState.TRADEABLE: "active", CandidateState.SKIPPED: "cancelled"}


class OpeningRanges:
    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx

    def update(
        self, candidates: list[CandidateRecord], quotes: Mapping[int, Quote], now: datetime
    ) -> list[str]:
        """Grow or complete the ranges of the ranging ``candidates`` from ``quotes`` and
        save them; ``candidates`` is updated in place (the entry step of the same poll reads
        it). Returns the tickers whose range completed."""
        length = self.ctx.params.range_length
        updates: list[tuple[CandidateRecord, bool]] = []  # (range so far, complete?)
        ranged: list[str] = []
        for c in candidates:
            if c.status is not CandidateState.RANGING or c.conid is None or c.conid not in quotes:
                continue
            quote = quotes[c.conid]
            if not quote.is_open:
                continue
            start = c.range_start_at or quote.at
            if quote.at < start + length or c.orh is None or c.orl is None:
                high = quote.high if quote.high is not None else quote.last
                low = quote.low if quote.low is not None else quote.last
                assert high is not None and low is not None
                grown = c.with_(
                    range_start_at=start,
                    orh=high if c.orh is None else max(c.orh, high),
                    orl=low if c.orl is None else min(c.orl, low),
                )
                if grown != c:
                    updates.append((grown, False))
                continue
            updates.append((c, True))
            ranged.append(c.ticker)
        if updates:
            self._save(updates, candidates, now)
        return ranged

    def _save(
        self,
        updates: list[tuple[CandidateRecord, bool]],
        candidates: list[CandidateRecord],
        now: datetime,
    ) -> None:
        p = self.ctx.params
        day = self.ctx.calendar.market_date(now)
        saved_all: list[CandidateRecord] = []
        with self.ctx.store.transaction() as tx:
            for record, complete in updates:
                # Re-read inside the unit of work: the news job may have marked it since
                # this poll read it; only the range fields (and the final state) are ours.
                current = tx.candidate(record.scan_date, record.ticker)
                if current is None or current.status is not CandidateState.RANGING:
                    continue
                merged = current.with_(
                    range_start_at=record.range_start_at, orh=record.orh, orl=record.orl
                )
                if complete:
                    merged = merged.range_complete(require_news=p.require_news)
                saved = tx.save_candidate(merged, now)
                saved_all.append(saved)
                plan = EntryPlan.of(saved, p.entry_terms)
                assert plan is not None  # a range exists once it has been seen open
                plan_status = _PLAN_STATUS.get(
                    saved.status, "draft" if current.orh is None else None
                )
                if plan_status is not None:  # draft once ranging, then active or cancelled
                    tx.save_plan(plan.trade_plan(saved, plan_status), now)
                if saved.status is CandidateState.TRADEABLE:
                    tx.alert(
                        TradeableCandidate(
                            occurred_at=now,
                            symbol=saved.ticker,
                            prev_close=saved.prev_close,
                            orh=plan.orh,
                            orl=plan.orl,
                            entry=plan.trigger,
                            stop=plan.stop,
                            range_end=now,
                            path=self.ctx.tape.path(day, saved.ticker),
                            volumes=self.ctx.tape.volumes(day, saved.ticker),
                        ),
                        dedup_key=f"tradeable:{saved.scan_date}:{saved.ticker}",
                    )
                elif saved.status is CandidateState.SKIPPED:
                    log.info("candidate skipped: no price-sensitive news", ticker=saved.ticker)
        by_ticker = {s.ticker: s for s in saved_all}
        for i, c in enumerate(candidates):
            if c.ticker in by_ticker:
                candidates[i] = by_ticker[c.ticker]
