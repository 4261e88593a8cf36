"""One poll of the market while it is open: opening ranges, breakout entries, managing
positions. A single job does all three so each poll costs one snapshot request for every
instrument of interest (pacing) and one read of the database.

Per poll, in order:

1. follow open orders (fills become positions; see :class:`OrderDesk`);
2. snapshot every ranging/tradeable candidate and every open position;
3. ranges: a ranging candidate's ORH/ORL grow with each snapshot until ``range_minutes``
   after it was first seen open; then it becomes ``tradeable`` (or ``skipped`` without the
   required news) and the trader is alerted with its range;
4. entries: a tradeable candidate whose last price is above ORH + buffer gets ONE entry
   intent (deterministic client order id, written before it is placed), sized by risk,
   after every guard passes;
5. manage: stops ratchet up only; the resting stop order follows the stop and the quantity;
   day-N half exit; the moving-average trail; the optional end-of-day flatten; without a
   resting stop, a last price at or below the stop exits at market.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import structlog

from skimd.domain.alerts import TradeableCandidate
from skimd.domain.calendar import MarketSession
from skimd.domain.market import Bar, Quote
from skimd.domain.orders import OrderType, Side, TimeInForce
from skimd.domain.trading import (
    CandidateRecord,
    CandidateState,
    GuardKind,
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PlanRecord,
    PositionRecord,
    breakout_trigger,
    client_order_id,
    entry_limit,
    half_quantity,
    initial_stop,
    is_breakout,
    position_size,
    ratchet_stop,
    trading_day_number,
    trail_exit_due,
)
from skimd.services.trading.context import TradingContext
from skimd.services.trading.guards import (
    GuardVerdict,
    alert_trip,
    check_entry,
    check_gates,
    check_price_band,
)
from skimd.services.trading.orders import OrderDesk
from skimd.services.trading.ports import TradingTx

log = structlog.get_logger(__name__)


@dataclass
class PollOutcome:
    ranged: list[str] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"ranges set {len(self.ranged)}, entries {len(self.entered)}, "
            f"exits {len(self.exits)}, blocked {len(self.blocked)}"
        )


class IntradayWatch:
    def __init__(self, ctx: TradingContext, desk: OrderDesk) -> None:
        self.ctx = ctx
        self.desk = desk
        self._alerted: set[str] = set()  # guard trips already queued (the outbox dedups too)
        self._history: dict[tuple[str, date], list[Bar]] = {}
        self._cached: (
            tuple[tuple[int, date], list[CandidateRecord], list[PositionRecord], list[IntentRecord]]
            | None
        ) = None
        self._gate_cache: tuple[tuple[int, date], GuardVerdict] | None = None

    async def poll(self) -> PollOutcome:
        ctx = self.ctx
        outcome = PollOutcome()
        session = ctx.session()
        now = ctx.now()
        if session is None or not session.is_open(now):
            return outcome
        candidates, positions, open_intents = self._working_set(session.day)
        allow = False
        if any(i.broker_order_id is None for i in open_intents):  # something to settle
            with ctx.store.read() as tx:
                allow = now < ctx.entries_close_at(session) and not tx.guard().locked
        if await self.desk.refresh(open_intents, allow_entries=allow):
            candidates, positions, open_intents = self._working_set(session.day)
        conids = sorted(
            {c.conid for c in candidates if c.conid is not None}
            | {p.conid for p in positions if p.conid is not None}
        )
        if not conids:
            return outcome
        quotes = {q.conid: q for q in await ctx.broker.snapshots(conids)}
        now = ctx.now()
        self._ranges(candidates, quotes, now, outcome)
        last_prices = {q.symbol: q.last for q in quotes.values() if q.last is not None}
        held = {p.ticker for p in positions}  # held (or paused after a mismatch): no entry
        entering = [c for c in candidates if c.ticker not in held]
        await self._entries(entering, quotes, last_prices, session, outcome)
        by_position: dict[int, list[IntentRecord]] = {}
        for intent in open_intents:
            if intent.position_id is not None:
                by_position.setdefault(intent.position_id, []).append(intent)
        await self._manage(positions, by_position, quotes, session, outcome)
        return outcome

    def _working_set(
        self, day: date
    ) -> tuple[list[CandidateRecord], list[PositionRecord], list[IntentRecord]]:
        """Today's live candidates, open positions and open intents: read in one go, and
        read again only after this process wrote something (most polls change nothing)."""
        generation = self.ctx.store.generation
        if self._cached is None or self._cached[0] != (generation, day):
            with self.ctx.store.read() as tx:
                self._cached = (
                    (generation, day),
                    tx.candidates(day, [CandidateState.RANGING, CandidateState.TRADEABLE]),
                    tx.open_positions(),
                    tx.open_intents(),
                )
        _, candidates, positions, intents = self._cached
        return list(candidates), list(positions), list(intents)

    def _gates(
        self, now: datetime, session: MarketSession, last_prices: Mapping[str, Decimal]
    ) -> GuardVerdict:
        """The account-wide guards. A refusal by max orders or max positions depends only
        on this process's own writes, so it is reused until the next write; the others
        (kill switch set from the CLI, loss cap moving with prices) are read every time.
        Whatever this says, the entry's own unit of work checks every guard again."""
        key = (self.ctx.store.generation, session.day)
        if self._gate_cache is not None and self._gate_cache[0] == key:
            return self._gate_cache[1]
        with self.ctx.store.read() as tx:
            verdict = check_gates(
                tx,
                self.ctx,
                now=now,
                entries_close_at=self.ctx.entries_close_at(session),
                last_prices=last_prices,
            )
        cacheable = (GuardKind.MAX_ORDERS_PER_DAY, GuardKind.MAX_POSITIONS)
        self._gate_cache = (key, verdict) if verdict.kind in cacheable else None
        return verdict

    def _trip(self, verdict: GuardVerdict, now: datetime) -> None:
        """Alert a tripped guard once (the in-memory set saves a write per poll)."""
        key = verdict.dedup_key or verdict.detail
        if key in self._alerted:
            return
        with self.ctx.store.transaction() as tx:
            if alert_trip(tx, verdict, now):
                log.warning("guard tripped", guard=verdict.kind, detail=verdict.detail)
        self._alerted.add(key)

    # -- ranges ----------------------------------------------------------------------------

    def _ranges(
        self,
        candidates: list[CandidateRecord],
        quotes: Mapping[int, Quote],
        now: datetime,
        outcome: PollOutcome,
    ) -> None:
        length = self.ctx.params.range_length
        updates: list[CandidateRecord] = []
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
                    updates.append(grown)
                continue
            updates.append(c.with_(status=CandidateState.TRADEABLE))  # decided below
            outcome.ranged.append(c.ticker)
        if not updates:
            return
        saved_all: list[CandidateRecord] = []
        with self.ctx.store.transaction() as tx:
            for record in updates:
                # Re-read inside the unit of work: the news job may have marked it since
                # this poll read it; only the range fields (and the final state) are ours.
                current = tx.candidate(record.scan_date, record.ticker)
                if current is None or current.status is not CandidateState.RANGING:
                    continue
                merged = current.with_(
                    range_start_at=record.range_start_at, orh=record.orh, orl=record.orl
                )
                if record.status is not CandidateState.RANGING:
                    assert merged.orh is not None and merged.orl is not None
                    wants_news = self.ctx.params.require_news and not merged.price_sensitive
                    flat = merged.orh <= merged.orl
                    final = (
                        CandidateState.SKIPPED if wants_news or flat else CandidateState.TRADEABLE
                    )
                    merged = merged.with_(status=final)
                saved = tx.save_candidate(merged, now)
                saved_all.append(saved)
                plan_status = {
                    CandidateState.TRADEABLE: "active",
                    CandidateState.SKIPPED: "cancelled",
                }.get(saved.status, "draft" if current.orh is None else None)
                if plan_status is not None:  # draft once ranging, then active or cancelled
                    self._save_plan(tx, saved, plan_status, now)
                if saved.status is CandidateState.TRADEABLE:
                    assert saved.orh is not None and saved.orl is not None
                    tx.alert(
                        TradeableCandidate(
                            occurred_at=now,
                            symbol=saved.ticker,
                            prev_close=saved.prev_close,
                            orh=saved.orh,
                            orl=saved.orl,
                            entry=breakout_trigger(
                                saved.orh, self.ctx.params.breakout_buffer_ticks
                            ),
                            stop=initial_stop(saved.orl, None),
                            range_end=now,
                        ),
                        dedup_key=f"tradeable:{saved.scan_date}:{saved.ticker}",
                    )
                elif saved.status is CandidateState.SKIPPED:
                    log.info("candidate skipped: no price-sensitive news", ticker=saved.ticker)
        updates = saved_all
        # the in-memory list must reflect the new states for the entry step of this poll
        by_ticker = {u.ticker: u for u in updates}
        for i, c in enumerate(candidates):
            if c.ticker in by_ticker:
                candidates[i] = by_ticker[c.ticker]

    def _save_plan(self, tx: TradingTx, c: CandidateRecord, status: str, now: datetime) -> None:
        assert c.orh is not None and c.orl is not None
        tx.save_plan(
            PlanRecord(
                ticker=c.ticker,
                entry=breakout_trigger(c.orh, self.ctx.params.breakout_buffer_ticks),
                stop=initial_stop(c.orl, None),
                status=status,
                candidate_id=c.id,
                notes=c.news_headline,
            ),
            now,
        )

    # -- entries ---------------------------------------------------------------------------

    async def _entries(
        self,
        candidates: Sequence[CandidateRecord],
        quotes: Mapping[int, Quote],
        last_prices: Mapping[str, Decimal],
        session: MarketSession,
        outcome: PollOutcome,
    ) -> None:
        p = self.ctx.params
        breaking = [
            c
            for c in candidates
            if c.status is CandidateState.TRADEABLE
            and c.conid is not None
            and c.conid in quotes
            and c.orh is not None
            and is_breakout(quotes[c.conid].last, c.orh, p.breakout_buffer_ticks)
        ]
        if not breaking:
            return
        now = self.ctx.now()
        gates = self._gates(now, session, last_prices)
        if not gates.allowed:
            self._trip(gates, now)
            outcome.blocked.extend(c.ticker for c in breaking)
            return
        for candidate in breaking:
            assert candidate.conid is not None
            await self._enter(candidate, quotes[candidate.conid], last_prices, session, outcome)

    async def _enter(
        self,
        c: CandidateRecord,
        quote: Quote,
        last_prices: Mapping[str, Decimal],
        session: MarketSession,
        outcome: PollOutcome,
    ) -> None:
        """Write one entry intent (every guard re-checked inside the unit of work), then
        place it."""
        p = self.ctx.params
        assert c.orh is not None and c.orl is not None and c.conid is not None
        assert quote.last is not None
        now = self.ctx.now()
        limit = entry_limit(quote.last, p.entry_slippage_ticks)
        stop = initial_stop(c.orl, None)
        qty = position_size(limit, stop, p.sizing)
        coid = client_order_id(session.day, c.ticker, IntentPurpose.ENTRY)
        band = check_price_band(
            self.ctx, ticker=c.ticker, limit_price=limit, last=quote.last, now=now
        )
        if not band.allowed:
            self._trip(band, now)
            outcome.blocked.append(c.ticker)
            return
        blocked: GuardVerdict | None = None
        with self.ctx.store.transaction() as tx:
            current = tx.candidate(c.scan_date, c.ticker)
            if current is None or current.status is not CandidateState.TRADEABLE:
                return
            if tx.intent(coid) is not None:  # placed already (e.g. before a restart)
                tx.save_candidate(current.with_(status=CandidateState.ENTERED), now)
                return
            verdict = check_entry(
                tx,
                self.ctx,
                ticker=c.ticker,
                limit_price=limit,
                last=quote.last,
                now=now,
                entries_close_at=self.ctx.entries_close_at(session),
                last_prices=last_prices,
            )
            if not verdict.allowed:
                blocked = verdict
            elif qty <= 0:
                tx.save_candidate(current.with_(status=CandidateState.SKIPPED), now)
                log.info("breakout too small to size", ticker=c.ticker, limit=limit, stop=stop)
                return
            else:
                intent = tx.add_intent(
                    IntentRecord(
                        client_order_id=coid,
                        ticker=c.ticker,
                        conid=c.conid,
                        side=Side.BUY.value,
                        qty=qty,
                        order_type=OrderType.LMT.value,
                        limit_price=limit,
                        purpose=IntentPurpose.ENTRY,
                        created_at=now,
                        candidate_id=current.id,
                    )
                )
                tx.save_candidate(current.with_(status=CandidateState.ENTERED), now)
        if blocked is not None:  # an earlier entry of this same poll filled the last slot
            self._trip(blocked, now)
            outcome.blocked.append(c.ticker)
            return
        log.info("breakout entry", ticker=c.ticker, last=quote.last, orh=c.orh, qty=qty)
        await self.desk.place(intent)
        outcome.entered.append(c.ticker)

    # -- managing positions ----------------------------------------------------------------

    async def _manage(
        self,
        positions: Sequence[PositionRecord],
        open_by_position: Mapping[int, list[IntentRecord]],
        quotes: Mapping[int, Quote],
        session: MarketSession,
        outcome: PollOutcome,
    ) -> None:
        for position in positions:
            if position.paused or position.conid is None or position.id is None:
                continue
            quote = quotes.get(position.conid)
            intents = open_by_position.get(position.id, [])
            await self._manage_one(position, intents, quote, session, outcome)

    async def _manage_one(
        self,
        position: PositionRecord,
        intents: Sequence[IntentRecord],
        quote: Quote | None,
        session: MarketSession,
        outcome: PollOutcome,
    ) -> None:
        p = self.ctx.params
        now = self.ctx.now()
        open_exits = [
            i
            for i in intents
            if i.status.is_open and i.purpose.is_exit and i.purpose is not IntentPurpose.STOP
        ]
        if open_exits:
            return  # an exit is working; wait for it
        resting = [i for i in intents if i.status.is_open and i.purpose is IntentPurpose.STOP]
        day_n = trading_day_number(
            position.entry_date,
            session.day,
            self.ctx.sessions_between(position.entry_date, session.day),
        )
        exit_purpose, exit_qty = self._exit_due(position, day_n, session, now)
        if exit_purpose is not None:
            # The resting stop must be gone before the exit goes out: if it filled (or its
            # cancel is still pending) selling again would sell shares we no longer hold.
            if not await self._cancel_all(resting, f"replaced by {exit_purpose.value} exit"):
                return  # try again next poll, with the position as it is then
            if await self._exit(position, exit_purpose, exit_qty, session):
                outcome.exits.append(f"{position.ticker}:{exit_purpose.value}")
            return
        # stop ratchet: from day 2 the stop may rise to the previous session's low
        proposed = None
        if day_n >= 2:
            proposed = self._previous_low(position, session)
        new_stop = ratchet_stop(position.stop, proposed)
        if new_stop != position.stop:
            with self.ctx.store.transaction() as tx:
                current = tx.position(position.id) if position.id is not None else None
                if current is not None:
                    position = tx.save_position(replace(current, stop=new_stop))
            log.info("stop raised", ticker=position.ticker, stop=new_stop)
        if p.resting_stop:
            await self._follow_resting_stop(position, resting, session)
            return
        last = None if quote is None else quote.last
        stopped = position.stop is not None and last is not None and last <= position.stop
        if stopped and await self._exit(position, IntentPurpose.STOP_EXIT, position.qty, session):
            outcome.exits.append(f"{position.ticker}:stop")

    async def _cancel_all(self, orders: Sequence[IntentRecord], reason: str) -> bool:
        """Cancel ``orders``; True only when every one is confirmed cancelled with nothing
        filled since we last looked (a stop that filled meanwhile is booked, and False)."""
        confirmed = True
        for order in orders:
            after = await self.desk.cancel(order, reason)
            if after.status is not IntentStatus.CANCELLED or after.filled_qty != order.filled_qty:
                confirmed = False
        return confirmed

    def _exit_due(
        self, position: PositionRecord, day_n: int, session: MarketSession, now: datetime
    ) -> tuple[IntentPurpose | None, int]:
        p = self.ctx.params
        flatten_from = session.close_at - timedelta(minutes=p.flatten_minutes_before_close)
        if p.flatten_at_close and now >= flatten_from:
            return IntentPurpose.FLATTEN, position.qty
        if not position.partial_exit_done and day_n >= p.partial_exit_day:
            half = half_quantity(position.qty)
            if half > 0:
                return IntentPurpose.PARTIAL, half
        if position.partial_exit_done and day_n >= 2:
            closes = [b.close for b in self._bars_before(position.ticker, session.day)]
            if trail_exit_due(closes, p.trail_ma_days):
                return IntentPurpose.TRAIL, position.qty
        return None, 0

    def _previous_low(self, position: PositionRecord, session: MarketSession) -> Decimal | None:
        prior = [
            b
            for b in self._bars_before(position.ticker, session.day)
            if b.day >= position.entry_date
        ]
        return prior[-1].low if prior else None

    def _bars_before(self, ticker: str, day: date) -> list[Bar]:
        """Stored daily bars before ``day`` (read once per ticker and day: they are written
        by the warm-up and end-of-day jobs, never during the session)."""
        key = (ticker, day)
        if key not in self._history:
            start = day - timedelta(days=self.ctx.params.trail_ma_days * 3 + 10)
            with self.ctx.store.read() as tx:
                bars = tx.daily_bars(ticker, start, day)
            self._history = {k: v for k, v in self._history.items() if k[1] == day}
            self._history[key] = [b for b in bars if b.day < day]
        return self._history[key]

    async def _exit(
        self, position: PositionRecord, purpose: IntentPurpose, qty: int, session: MarketSession
    ) -> bool:
        """Write and place a market exit for ``qty`` (never more than the position holds
        now); False when there is nothing left to sell."""
        intent = self._write_sell(position, purpose, session, qty=qty, order_type=OrderType.MKT)
        if intent is None:
            return False
        log.info("exit", ticker=intent.ticker, purpose=purpose.value, qty=intent.qty)
        await self.desk.place(intent)
        return True

    async def _follow_resting_stop(
        self, position: PositionRecord, resting: Sequence[IntentRecord], session: MarketSession
    ) -> None:
        """Keep exactly one resting stop at the broker matching the position's stop and
        quantity: cancel a stale one, then place its successor (the next sequence number)."""
        if position.stop is None or position.id is None or position.conid is None:
            return
        current = [i for i in resting if i.stop_price == position.stop and i.qty == position.qty]
        stale = [i for i in resting if i not in current]
        if not await self._cancel_all(stale, "stop moved or quantity changed"):
            return  # the old stop filled or is still cancelling: never two stops live
        if current:
            return
        intent = self._write_sell(
            position, IntentPurpose.STOP, session, order_type=OrderType.STP, tif=TimeInForce.GTC
        )
        if intent is None:
            return
        log.info("resting stop placed", ticker=intent.ticker, stop=intent.stop_price)
        await self.desk.place(intent)

    def _write_sell(
        self,
        position: PositionRecord,
        purpose: IntentPurpose,
        session: MarketSession,
        *,
        order_type: OrderType,
        qty: int | None = None,
        tif: TimeInForce = TimeInForce.DAY,
    ) -> IntentRecord | None:
        """Commit the intent of a sell for ``position`` (the next sequence number of
        ``purpose``), from the position re-read in the same unit of work: ``qty`` (default
        all) never exceeds what it holds now, and a stop order takes its current stop. None
        when there is nothing to sell or the broker refused this purpose just now."""
        assert position.id is not None and position.conid is not None
        now = self.ctx.now()
        with self.ctx.store.transaction() as tx:
            fresh = tx.position(position.id)
            if fresh is None or fresh.status != "open" or fresh.qty <= 0:
                return None
            stop = fresh.stop if order_type is OrderType.STP else None
            if order_type is OrderType.STP and stop is None:
                return None
            existing = tx.intents_for_position(position.id)
            if _recently_rejected(existing, purpose, now):
                return None  # alerted already; retried after REJECT_RETRY_S, not every poll
            seq = 1 + sum(1 for i in existing if i.purpose is purpose)
            return tx.add_intent(
                IntentRecord(
                    client_order_id=client_order_id(
                        session.day, position.ticker, purpose, position_id=position.id, seq=seq
                    ),
                    ticker=position.ticker,
                    conid=position.conid,
                    side=Side.SELL.value,
                    qty=fresh.qty if qty is None else min(qty, fresh.qty),
                    order_type=order_type.value,
                    stop_price=stop,
                    tif=tif.value,
                    purpose=purpose,
                    created_at=now,
                    candidate_id=fresh.candidate_id,
                    position_id=position.id,
                )
            )


REJECT_RETRY_S = 300  # a refused stop or exit is tried again this long after (each alerts)


def _recently_rejected(
    intents: Sequence[IntentRecord], purpose: IntentPurpose, now: datetime
) -> bool:
    """True when the broker refused an order of ``purpose`` for this position within the
    last REJECT_RETRY_S: placing the same thing again on every poll would only repeat the
    refusal and its alert."""
    window = timedelta(seconds=REJECT_RETRY_S)
    return any(
        i.purpose is purpose
        and i.status is IntentStatus.REJECTED
        and i.updated_at is not None
        and now - i.updated_at < window
        for i in intents
    )


__all__ = ["IntentStatus", "IntradayWatch", "PollOutcome"]
