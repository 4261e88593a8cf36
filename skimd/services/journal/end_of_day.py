"""The journal's end of day, after the closing auction: sync, then what the trader learns
from (excursions, plans, the watchlist, mistakes, reports) and the reconciliation digest.

Each step is idempotent (upserts keyed by trade, candidate, round trip or day), so running
it twice, or after a crash half-way, leaves one set of records.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import structlog

from skimd.domain.alerts import DailySummary, ReconciliationDigest
from skimd.domain.entries import EntryPlan
from skimd.domain.excursions import Excursion, excursions
from skimd.domain.journal import RoundTripView, build_round_trips
from skimd.domain.market import Bar
from skimd.domain.mistakes import MistakeThresholds, detect_mistakes, round_trip_facts
from skimd.domain.orders import Side
from skimd.domain.trading import CandidateRecord, CandidateState, IntentPurpose
from skimd.services.journal.sync import PositionSync, SyncOutcome
from skimd.services.ports.journal import JournalStore, JournalTx, StoredRoundTrip
from skimd.services.trading.context import TradingContext

EXCURSION_SOURCE = "broker_1min_bars"
"""``excursion_metrics.data_source`` of the excursions computed here."""

log = structlog.get_logger(__name__)

ReportWriter = Callable[[date], Awaitable[int]]

R_STEP = Decimal("0.01")  # R multiples read to two decimals


@dataclass
class EndOfDayOutcome:
    sync: SyncOutcome
    excursions: int = 0
    plans: int = 0
    mistakes: int = 0
    reports: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.sync.summary()}; excursions {self.excursions}, plans {self.plans}, "
            f"mistakes {self.mistakes}, reports {self.reports}"
        )


_PLAN_STATUS = {
    CandidateState.RANGING: "draft",
    CandidateState.TRADEABLE: "active",
    CandidateState.ENTERED: "executed",
    CandidateState.CLOSED: "executed",
    CandidateState.SKIPPED: "cancelled",
    CandidateState.EXPIRED: "cancelled",
}


class JournalDay:
    def __init__(
        self,
        ctx: TradingContext,
        store: JournalStore,
        sync: PositionSync,
        thresholds: MistakeThresholds,
        reports: ReportWriter | None = None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.sync = sync
        self.thresholds = thresholds
        self.reports = reports

    async def run(self, day: date | None = None) -> EndOfDayOutcome:
        ctx = self.ctx
        day = day or ctx.today()
        outcome = EndOfDayOutcome(await self.sync.run())
        start, end = ctx.calendar.day_bounds(day)
        with self.store.read() as tx:
            touched = {
                t.id: t
                for t in tx.round_trips_opened_between(start, end)
                + tx.round_trips_closed_between(start, end)
            }
            candidates = tx.candidates(day)
        outcome.excursions = await self._excursions(day, list(touched.values()))
        now = ctx.now()
        with self.store.transaction() as tx:
            outcome.plans = self._plans(tx, candidates)
            tx.save_watchlist(
                f"candidates {day.isoformat()}",
                [(c.ticker, _note(c)) for c in candidates],
                now,
            )
            closed = [t for t in touched.values() if t.status == "closed"]
            outcome.mistakes = self._mistakes(tx, closed, candidates)
            # before the summary: a quiet digest holding it goes just ahead of the summary
            tx.alert(_digest(day, outcome.sync, now), dedup_key=f"reconciliation:{day}")
            self._daily_summary(tx, day, outcome)
        if self.reports is not None:
            outcome.reports = await self.reports(day)
        log.info("journal end of day", day=day.isoformat(), summary=outcome.summary())
        return outcome

    async def _excursions(self, day: date, trips: list[StoredRoundTrip]) -> int:
        """MFE/MAE/BSO of each entry made today, from the day's 1-minute bars."""
        count = 0
        bars_by_conid: dict[int, list[Bar]] = {}  # one fetch per ticker, however many trips
        results: list[tuple[str, Excursion, Decimal]] = []
        for trip in trips:
            view = self._view(trip)
            if view is None:
                continue
            entry = view.entries[0]
            if entry.executed_at.astimezone(self.ctx.calendar.zone).date() != day:
                continue
            if entry.conid not in bars_by_conid:
                bars_by_conid[entry.conid] = await self.ctx.broker.intraday_bars(entry.conid, day)
            bars = bars_by_conid[entry.conid]
            if not bars:
                continue
            last_exit = view.exits[-1] if view.is_closed and view.exits else None
            result = excursions(
                view.avg_entry_price,
                view.qty_bought,
                Side.BUY,
                bars,
                entry.executed_at,
                None if last_exit is None else last_exit.executed_at,
                view.avg_exit_price if last_exit is not None else None,
            )
            results.append((entry.exec_id, result, view.avg_entry_price))
            count += 1
        if results:
            with self.store.transaction() as tx:  # one commit for the day's excursions
                for conid, fetched in bars_by_conid.items():
                    if self.ctx.records_market:
                        tx.record_bars(fetched, conid)  # kept to replay the day
                for exec_id, result, entry_price in results:
                    tx.save_excursion(exec_id, result, self.ctx.now(), entry_price=entry_price,
                                      source=EXCURSION_SOURCE)
        return count

    def _view(self, trip: StoredRoundTrip) -> RoundTripView | None:
        with self.store.read() as tx:
            return _trip_view(tx, trip)

    def _plans(self, tx: JournalTx, candidates: list[CandidateRecord]) -> int:
        terms = self.ctx.params.entry_terms
        count = 0
        for c in candidates:
            plan = EntryPlan.of(c, terms)
            if plan is None or c.id is None:
                continue
            entry_exec = None
            qty = None
            for intent in tx.intents_for_candidate(c.id):
                if intent.purpose is IntentPurpose.ENTRY:
                    qty = intent.qty
                    entry_exec = _first_exec(tx, intent.client_order_id)
            status = _PLAN_STATUS[c.status]
            if status == "executed" and entry_exec is None:
                status = "active"  # the entry order is still working
            tx.save_plan(
                plan.trade_plan(c, status, qty=qty, entry_exec_id=entry_exec), self.ctx.now()
            )
            count += 1
        return count

    def _daily_summary(self, tx: JournalTx, day: date, outcome: EndOfDayOutcome) -> None:
        """The day in round trips closed today (wins, losses, net P&L, total R against
        each trip's initial stop) and positions still open; executions and their fees
        are carried apart, never counted as trades."""
        start, end = self.ctx.calendar.day_bounds(day)
        fills = tx.fills_between(start, end)
        closed = [
            t for t in tx.round_trips_closed_between(start, end) if t.net_pnl is not None
        ]
        pnl = [t.net_pnl for t in closed if t.net_pnl is not None]
        rs = [self._r_of(tx, t) for t in closed]
        known = [r for r in rs if r is not None]
        tx.alert(
            DailySummary(
                occurred_at=self.ctx.now(),
                trading_day=day,
                trades=len(fills),
                wins=sum(1 for v in pnl if v > 0),
                losses=sum(1 for v in pnl if v <= 0),
                realised_pnl=sum(pnl, Decimal(0)),
                fees=sum((f.commission for f in fills), Decimal(0)),
                open_positions=len(tx.open_positions()),
                total_r=sum(known, Decimal(0)).quantize(R_STEP) if known else None,
                unrated=len(rs) - len(known),
                candidates=len(tx.candidates(day)),
                reconciliation_clean=outcome.sync.clean,
            ),
            dedup_key=f"daily_summary:{day}",
        )

    def _r_of(self, tx: JournalTx, trip: StoredRoundTrip) -> Decimal | None:
        """A closed trip's net P&L over its initial risk: shares bought x (average entry -
        the plan's stop of the candidate it was entered on); None when that is not known."""
        view = _trip_view(tx, trip)
        if view is None or trip.net_pnl is None:
            return None
        entered = self.ctx.calendar.market_date(view.opened_at)
        candidate = next((c for c in tx.candidates(entered) if c.ticker == trip.ticker), None)
        plan = None if candidate is None else EntryPlan.of(candidate, self.ctx.params.entry_terms)
        if plan is None or plan.stop >= view.avg_entry_price:
            return None
        return trip.net_pnl / ((view.avg_entry_price - plan.stop) * view.qty_bought)

    def _mistakes(
        self, tx: JournalTx, closed: list[StoredRoundTrip], candidates: list[CandidateRecord]
    ) -> int:
        by_ticker = {c.ticker: c for c in candidates}
        count = 0
        for trip in closed:
            view = _trip_view(tx, trip)
            if view is None:
                continue
            c = by_ticker.get(trip.ticker)
            plan = None if c is None else EntryPlan.of(c, self.ctx.params.entry_terms)
            range_done = None
            if c is not None and c.range_start_at is not None:
                range_done = c.range_start_at + timedelta(minutes=self.ctx.params.range_minutes)
            facts = round_trip_facts(
                view,
                planned_stop=None if plan is None else plan.stop,
                risk_budget=self.ctx.params.risk_per_trade,
                had_price_sensitive_news=None if c is None else c.price_sensitive,
                opening_range_high=None if c is None else c.orh,
                opening_range_complete_at=range_done,
            )
            count += tx.save_mistakes(
                trip.id, detect_mistakes(facts, self.thresholds), self.ctx.now()
            )
        return count


def _trip_view(tx: JournalTx, trip: StoredRoundTrip) -> RoundTripView | None:
    """A stored round trip rebuilt from its own executions (prices, commissions, times)."""
    mine = set(trip.exec_ids)
    fills = [f for f in tx.fills_for(trip.ticker) if f.exec_id in mine]
    views = build_round_trips(fills) if fills else []
    return views[0] if views else None


def _digest(day: date, sync: SyncOutcome, now: datetime) -> ReconciliationDigest:
    """The three-way reconciliation as one alert (its CSV travels as an attachment)."""
    rows = tuple(sync.rows)
    notes: list[str] = []
    if sync.adopted:
        notes.append(f"adopted from the broker: {', '.join(sync.adopted)}")
    if sync.closed:
        notes.append(f"closed outside skimd: {', '.join(sync.closed)}")
    return ReconciliationDigest(
        occurred_at=now,
        trading_day=day,
        rows=rows,
        clean=sync.clean,
        notes=tuple(notes),
    )


def _first_exec(tx: JournalTx, client_order_id: str) -> str | None:
    intent = tx.intent(client_order_id)
    if intent is None or intent.filled_qty == 0:
        return None
    for ticker_fill in tx.fills_for(intent.ticker):
        if ticker_fill.client_order_id == client_order_id:
            return ticker_fill.exec_id
    return None


def _note(c: CandidateRecord) -> str:
    parts = [c.status.value]
    if c.gap_pct is not None:
        parts.append(f"gap {c.gap_pct}%")
    if c.news_headline:
        parts.append(c.news_headline)
    return "; ".join(parts)
