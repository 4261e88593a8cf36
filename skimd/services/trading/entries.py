"""Breakout entries, the second step of each intraday poll.

A tradeable candidate whose last price is above its plan's trigger (ORH + buffer) gets ONE
entry intent: a deterministic client order id, written in a unit of work that checks every
guard again before it is placed, sized by the plan
(:meth:`~skimd.domain.entries.EntryPlan.order_at`). The candidate becomes ``entered`` with
the intent, or ``skipped`` when not even one share fits the limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import structlog

from skimd.domain.calendar import MarketSession
from skimd.domain.entries import EntryPlan
from skimd.domain.market import Quote
from skimd.domain.orders import OrderType, Side
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    IntentPurpose,
    IntentRecord,
    client_order_id,
)
from skimd.services.trading.context import TradingContext
from skimd.services.trading.guards import (
    EntryGuards,
    GuardVerdict,
    check_entry,
    check_price_band,
)
from skimd.services.trading.orders import OrderDesk

log = structlog.get_logger(__name__)


@dataclass
class EntryRun:
    """Tickers entered, and tickers a guard held back, in one poll."""

    entered: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


class BreakoutEntries:
    def __init__(self, ctx: TradingContext, desk: OrderDesk, guards: EntryGuards) -> None:
        self.ctx = ctx
        self.desk = desk
        self.guards = guards

    async def run(
        self,
        candidates: Sequence[CandidateRecord],
        quotes: Mapping[int, Quote],
        last_prices: Mapping[str, Decimal],
        session: MarketSession,
    ) -> EntryRun:
        """Enter every tradeable candidate of ``candidates`` breaking out now."""
        terms = self.ctx.params.entry_terms
        run = EntryRun()
        breaking: list[tuple[CandidateRecord, EntryPlan, Quote]] = []
        for c in candidates:
            if c.status is not CandidateState.TRADEABLE or c.conid is None:
                continue
            if c.conid not in quotes:
                continue
            plan = EntryPlan.of(c, terms)
            if plan is not None and plan.breaks_out(quotes[c.conid].last):
                breaking.append((c, plan, quotes[c.conid]))
        if not breaking:
            return run
        now = self.ctx.now()
        gates = self.guards.gates(now, session, last_prices)
        if not gates.allowed:
            self.guards.trip(gates, now)
            run.blocked.extend(c.ticker for c, _, _ in breaking)
            return run
        for candidate, plan, quote in breaking:
            await self._enter(candidate, plan, quote, last_prices, session, run)
        return run

    async def _enter(
        self,
        c: CandidateRecord,
        plan: EntryPlan,
        quote: Quote,
        last_prices: Mapping[str, Decimal],
        session: MarketSession,
        run: EntryRun,
    ) -> None:
        """Write one entry intent (every guard re-checked inside the unit of work), then
        place it."""
        assert c.conid is not None and quote.last is not None
        now = self.ctx.now()
        order = plan.order_at(quote.last)
        coid = client_order_id(session.day, c.ticker, IntentPurpose.ENTRY)
        band = check_price_band(
            self.ctx, ticker=c.ticker, limit_price=order.limit, last=quote.last, now=now
        )
        if not band.allowed:
            self.guards.trip(band, now)
            run.blocked.append(c.ticker)
            return
        blocked: GuardVerdict | None = None
        with self.ctx.store.transaction() as tx:
            current = tx.candidate(c.scan_date, c.ticker)
            if current is None or current.status is not CandidateState.TRADEABLE:
                return
            if tx.intent(coid) is not None:  # placed already (e.g. before a restart)
                tx.save_candidate(current.entered(), now)
                return
            verdict = check_entry(
                tx,
                self.ctx,
                ticker=c.ticker,
                limit_price=order.limit,
                last=quote.last,
                now=now,
                entries_close_at=self.ctx.entries_close_at(session),
                last_prices=last_prices,
            )
            if not verdict.allowed:
                blocked = verdict
            elif order.qty <= 0:
                tx.save_candidate(current.too_small(), now)
                log.info(
                    "breakout too small to size",
                    ticker=c.ticker,
                    limit=order.limit,
                    stop=order.stop,
                )
                return
            else:
                intent = tx.add_intent(
                    IntentRecord(
                        client_order_id=coid,
                        ticker=c.ticker,
                        conid=c.conid,
                        side=Side.BUY.value,
                        qty=order.qty,
                        order_type=OrderType.LMT.value,
                        limit_price=order.limit,
                        purpose=IntentPurpose.ENTRY,
                        created_at=now,
                        candidate_id=current.id,
                    )
                )
                tx.save_candidate(current.entered(), now)
        if blocked is not None:  # an earlier entry of this same poll filled the last slot
            self.guards.trip(blocked, now)
            run.blocked.append(c.ticker)
            return
        log.info("breakout entry", ticker=c.ticker, last=quote.last, orh=c.orh, qty=order.qty)
        await self.desk.place(intent)
        run.entered.append(c.ticker)
