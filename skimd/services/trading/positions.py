"""Managing open positions, the last step of each intraday poll, under one rule: every
position is protected at every moment, by a resting stop working at the broker or by the
software stop (:func:`~skimd.domain.protection.protection_of` derives which from its orders).

Per position, unless it is paused (a quantity mismatch):

1. an exit that is due goes out at market, once no other exit is working and the resting
   stop is confirmed cancelled: a flatten an operator asked for (``skimd flatten``), the
   optional end-of-day flatten, the day-N half exit, then the moving-average trail. An exit
   the broker refused waits for its back-off
   (:func:`~skimd.domain.protection.retry_delay`) before it is tried again; meanwhile the
   position is managed as if no exit were due;
2. the stop ratchets up (from day 2, to the previous session's low);
3. the resting stop follows the stop and the shares no working exit sells, at once: an exit
   the broker just refused has its stop back in the same poll, and a fill its first stop;
4. without a working broker stop covering those shares (resting stops off, or refused, or
   not confirmed yet), the software stop guards them: a last price at or below the stop
   sells them at market (and if that sale is refused, the resting stop goes back);
5. a run of refusals (of the stop or of an exit) raises ONE critical alert saying what
   protects the position now and what the trader can do, and a resting stop the broker
   takes again after refusals says so once. Each refusal after the first of its run is
   recorded without an alert of its own.

Every sell is written from the position re-read in its unit of work, so it never sells
more than is held.

A ticker an operator paused (``skimd pause``) has no stop moves: no ratchet (2) and no
moving-average trail; everything that protects it (3, 4, 5) and the flattens go on.
:meth:`PositionManager.exit_now` is the operator's flatten between polls: step 1 with the
flatten as the exit due, then step 3, exactly as a poll would run them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import structlog

from skimd.domain.alerts import Alert, ProtectionFallback, ProtectionRestored
from skimd.domain.calendar import MarketSession
from skimd.domain.control import ExitNow
from skimd.domain.market import Bar, Quote
from skimd.domain.orders import OrderType, Side, TimeInForce
from skimd.domain.protection import (
    Cover,
    ended_refusal_run,
    open_exits,
    open_stops,
    protection_of,
    refusal_run,
    selling,
)
from skimd.domain.trading import (
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    client_order_id,
    half_quantity,
    ratchet_stop,
    trading_day_number,
    trail_exit_due,
)
from skimd.services.trading.context import TradingContext
from skimd.services.trading.orders import OrderDesk

log = structlog.get_logger(__name__)


class _Orders:
    """One position's orders as this poll knows them: what the watch read, updated with
    every answer the desk gives (so each step sees what the one before it did)."""

    def __init__(self, intents: Sequence[IntentRecord]) -> None:
        self.intents = list(intents)

    def note(self, intent: IntentRecord) -> IntentRecord:
        for n, known in enumerate(self.intents):
            if known.client_order_id == intent.client_order_id:
                self.intents[n] = intent
                return intent
        self.intents.append(intent)
        return intent

    def exits(self) -> list[IntentRecord]:
        return open_exits(self.intents)

    def stops(self) -> list[IntentRecord]:
        return open_stops(self.intents)


class PositionManager:
    def __init__(self, ctx: TradingContext, desk: OrderDesk) -> None:
        self.ctx = ctx
        self.desk = desk
        self._history: dict[tuple[str, date], list[Bar]] = {}
        self._told: set[str] = set()  # alert keys of refusal runs told already

    async def manage(
        self,
        positions: Sequence[PositionRecord],
        intents_by_position: Mapping[int, Sequence[IntentRecord]],
        quotes: Mapping[int, Quote],
        session: MarketSession,
        *,
        paused: Collection[str] = (),
        flatten: Collection[int] = (),
    ) -> list[str]:
        """Manage every open position that is not paused after a quantity mismatch, from
        all its orders (``intents_by_position``: refused and finished ones too); tickers in
        ``paused`` (by an operator) get no stop moves, positions whose id is in ``flatten``
        are flattened. Returns the exits placed (and not refused), as ``ticker:purpose``."""
        exits: list[str] = []
        for position in positions:
            if position.paused or position.conid is None or position.id is None:
                continue
            orders = _Orders(intents_by_position.get(position.id, ()))
            after = await self._manage_one(
                position,
                orders,
                quotes.get(position.conid),
                session,
                exits,
                paused=position.ticker in paused,
                flatten=position.id in flatten,
            )
            self._tell(after, orders)
        return exits

    async def _manage_one(
        self,
        position: PositionRecord,
        orders: _Orders,
        quote: Quote | None,
        session: MarketSession,
        exits: list[str],
        *,
        paused: bool = False,
        flatten: bool = False,
    ) -> PositionRecord:
        """Steps 1-4 of the module doc; the position as it is afterwards (closed, when an
        exit or a stop sold it all)."""
        now = self.ctx.now()
        day_n = trading_day_number(
            position.entry_date,
            session.day,
            self.ctx.calendar.trading_days(position.entry_date, session.day),
        )
        if not orders.exits():
            purpose, qty = self._exit_due(
                position, day_n, session, now, paused=paused, flatten=flatten
            )
            if purpose is not None and self._may_try(orders, purpose, now):
                cleared, sold = await self._exit(orders, position, purpose, qty, session)
                if not cleared:
                    return self._reread(position)  # try again next poll
                if sold is not None and _went_out(sold):
                    exits.append(f"{position.ticker}:{purpose.value}")
                position = self._reread(position)
                if not position.has_shares:
                    return position
        if not paused:
            position = self._ratchet(position, day_n, session)
        return await self._guard(orders, position, quote, session, exits)

    async def _exit(
        self,
        orders: _Orders,
        position: PositionRecord,
        purpose: IntentPurpose,
        qty: int,
        session: MarketSession,
    ) -> tuple[bool, IntentRecord | None]:
        """Step 1's exit: the resting stop confirmed cancelled, then the sale at market
        (True, the intent as placed or None); (False, None) while the stop is not confirmed
        cancelled: if it filled (or its cancel is pending) we may no longer hold the shares."""
        if not await self._cancel_all(orders, orders.stops(), f"replaced by {purpose.value} exit"):
            return False, None
        return True, await self._sell_at_market(orders, position, purpose, qty, session)

    async def exit_now(
        self, position: PositionRecord, intents: Sequence[IntentRecord], session: MarketSession
    ) -> ExitNow:
        """Flatten ``position`` now (an operator's request), from all its orders: step 1
        with the flatten as the exit due, then step 3 and 5, as the next poll would; never a
        second exit while one is working (see :class:`~skimd.domain.control.ExitNow`)."""
        assert position.id is not None and position.conid is not None
        orders = _Orders(intents)
        working = orders.exits()
        if working:
            return ExitNow("exiting", working[0], cover=protection_of(position, intents).cover)
        purpose = IntentPurpose.MANUAL
        run = refusal_run(orders.intents, purpose)
        if run is not None and run.waiting(self.ctx.now()):
            note = f"the broker refused the flatten ({run.reason})"
            return ExitNow("waiting", run.last, note, run.retry_at)
        cleared, sold = await self._exit(orders, position, purpose, position.qty, session)
        after = self._reread(position)
        if after.has_shares:
            after = await self._guard(orders, after, None, session, [])  # a refusal: stop back
        self._tell(after, orders)
        cover = protection_of(after, orders.intents).cover
        if not cleared:
            note = "the resting stop is not confirmed cancelled yet"
            return ExitNow("waiting", None, note, cover=cover)
        if sold is None:
            return ExitNow("exiting", None, "nothing left to sell", cover=cover)
        if sold.status is IntentStatus.REJECTED:
            return ExitNow("refused", sold, sold.reason or "", cover=cover)
        return ExitNow(
            "unknown" if sold.status is IntentStatus.UNKNOWN else "sent", sold, cover=cover
        )

    def _ratchet(
        self, position: PositionRecord, day_n: int, session: MarketSession
    ) -> PositionRecord:
        """From day 2 the stop may rise to the previous session's low (never fall)."""
        proposed = self._previous_low(position, session) if day_n >= 2 else None
        new_stop = ratchet_stop(position.stop, proposed)
        if new_stop == position.stop or position.id is None:
            return position
        with self.ctx.store.transaction() as tx:
            current = tx.position(position.id)
            if current is not None:
                position = tx.save_position(replace(current, stop=new_stop))
        log.info("stop raised", ticker=position.ticker, stop=new_stop)
        return position

    async def _guard(
        self,
        orders: _Orders,
        position: PositionRecord,
        quote: Quote | None,
        session: MarketSession,
        exits: list[str],
    ) -> PositionRecord:
        """Protect the shares no exit is selling: the resting stop (when on), else, or while
        it is not working, the software stop."""
        resting = self.ctx.params.resting_stop
        if resting:
            await self._follow_resting_stop(orders, position, session)
        protection = protection_of(position, orders.intents)
        last = None if quote is None else quote.last
        stop = position.stop
        if protection.cover is not Cover.SOFTWARE_STOP or stop is None or last is None:
            return position
        if last > stop or not self._may_try(orders, IntentPurpose.STOP_EXIT, self.ctx.now()):
            return position
        # an unconfirmed or short stop must be gone before the software stop sells
        if not await self._cancel_all(orders, orders.stops(), "the software stop sells"):
            return self._reread(position)
        qty = protection.exposed
        sold = await self._sell_at_market(orders, position, IntentPurpose.STOP_EXIT, qty, session)
        if sold is not None and _went_out(sold):
            exits.append(f"{position.ticker}:stop")
        fresh = self._reread(position)
        if fresh.has_shares and resting:
            await self._follow_resting_stop(orders, fresh, session)  # after a refusal
            return self._reread(fresh)
        return fresh

    async def _cancel_all(
        self, orders: _Orders, cancel: Sequence[IntentRecord], reason: str
    ) -> bool:
        """Cancel ``cancel``; True only when every one is confirmed cancelled with nothing
        filled since we last looked (a stop that filled meanwhile is booked, and False)."""
        confirmed = True
        for order in cancel:
            after = orders.note(await self.desk.cancel(order, reason))
            if after.status is not IntentStatus.CANCELLED or after.filled_qty != order.filled_qty:
                confirmed = False
        return confirmed

    def _may_try(self, orders: _Orders, purpose: IntentPurpose, now: datetime) -> bool:
        """False while an order of ``purpose`` the broker refused waits for its back-off."""
        run = refusal_run(orders.intents, purpose)
        return run is None or not run.waiting(now)

    def _reread(self, position: PositionRecord) -> PositionRecord:
        """The position as stored now (fills booked by this poll included)."""
        assert position.id is not None
        with self.ctx.store.read() as tx:
            fresh = tx.position(position.id)
        return position if fresh is None else fresh

    def _exit_due(
        self,
        position: PositionRecord,
        day_n: int,
        session: MarketSession,
        now: datetime,
        *,
        paused: bool,
        flatten: bool,
    ) -> tuple[IntentPurpose | None, int]:
        p = self.ctx.params
        if flatten:
            return IntentPurpose.MANUAL, position.qty
        flatten_from = session.close_at - timedelta(minutes=p.flatten_minutes_before_close)
        if p.flatten_at_close and now >= flatten_from:
            return IntentPurpose.FLATTEN, position.qty
        if not position.partial_exit_done and day_n >= p.partial_exit_day:
            half = half_quantity(position.qty)
            if half > 0:
                return IntentPurpose.PARTIAL, half
        if position.partial_exit_done and day_n >= 2 and not paused:
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

    async def _sell_at_market(
        self,
        orders: _Orders,
        position: PositionRecord,
        purpose: IntentPurpose,
        qty: int,
        session: MarketSession,
    ) -> IntentRecord | None:
        """Write and place a market exit for ``qty`` (never more than the position holds
        now); the intent as placed, or None when nothing was written."""
        intent = self._write_sell(position, purpose, session, qty=qty, order_type=OrderType.MKT)
        if intent is None:
            return None
        log.info("exit", ticker=intent.ticker, purpose=purpose.value, qty=intent.qty)
        return await self._place(orders, intent)

    async def _follow_resting_stop(
        self, orders: _Orders, position: PositionRecord, session: MarketSession
    ) -> None:
        """Keep exactly one resting stop at the broker matching the position's stop and the
        shares no working exit sells: cancel a stale one, then place its successor (the
        next sequence number) unless a refused one is still waiting for its back-off."""
        if position.stop is None or position.id is None or position.conid is None:
            return
        exposed = max(position.qty - selling(orders.intents), 0) if position.has_shares else 0
        resting = orders.stops()
        current = [
            i for i in resting if exposed and i.stop_price == position.stop and i.qty == exposed
        ]
        stale = [i for i in resting if i not in current]
        if not await self._cancel_all(orders, stale, "stop moved or quantity changed"):
            return  # the old stop filled or is still cancelling: never two stops live
        if current or not exposed or not self._may_try(orders, IntentPurpose.STOP, self.ctx.now()):
            return
        intent = self._write_sell(
            position,
            IntentPurpose.STOP,
            session,
            order_type=OrderType.STP,
            qty=exposed,
            tif=TimeInForce.GTC,
        )
        if intent is None:
            return
        log.info("resting stop placed", ticker=intent.ticker, stop=intent.stop_price)
        await self._place(orders, intent)

    async def _place(self, orders: _Orders, intent: IntentRecord) -> IntentRecord:
        """Place a written intent; a refusal that continues a run is recorded without an
        alert of its own (the run's one alert is :meth:`_tell`'s)."""
        retry = refusal_run(orders.intents, intent.purpose) is not None
        orders.note(intent)
        return orders.note(await self.desk.place(intent, alert_refusal=not retry))

    def _tell(self, position: PositionRecord, orders: _Orders) -> None:
        """One alert per refusal run opened (what protects the position now, when the
        refused order is tried again), and one when the broker takes a resting stop again
        after refusals; remembered here and deduplicated by the outbox across restarts."""
        if not any(i.status is IntentStatus.REJECTED for i in orders.intents):
            return  # no refusal, nothing to tell (most positions, most polls)
        protection = protection_of(position, orders.intents)
        news: list[tuple[str, Alert]] = []
        now = self.ctx.now()
        for run in protection.refusals:
            key = f"protection:{run.first.client_order_id}"
            if key not in self._told:
                alert = ProtectionFallback(
                    occurred_at=now,
                    symbol=position.ticker,
                    quantity=position.qty,
                    refused=run.purpose,
                    client_order_id=run.last.client_order_id,
                    reason=run.reason,
                    cover=protection.cover,
                    stop=protection.stop,
                    retry_at=run.retry_at,
                )
                news.append((key, alert))
                log.warning(
                    "position protection fell back",
                    ticker=position.ticker,
                    refused=run.purpose.value,
                    cover=protection.cover.value,
                    reason=run.reason,
                )
        ended = ended_refusal_run(orders.intents, IntentPurpose.STOP)
        if ended is not None:
            run, taken = ended
            key = f"protection-restored:{run.first.client_order_id}"
            if key not in self._told:
                restored = ProtectionRestored(
                    occurred_at=now,
                    symbol=position.ticker,
                    quantity=taken.qty,
                    stop=taken.stop_price,
                    client_order_id=taken.client_order_id,
                    refusals=run.count,
                    since=run.since,
                )
                news.append((key, restored))
        if not news:
            return
        with self.ctx.store.transaction() as tx:
            for key, queued in news:
                tx.alert(queued, dedup_key=key)
        self._told.update(key for key, _ in news)

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
        when there is nothing to sell or a refusal of this purpose waits for its back-off."""
        assert position.id is not None and position.conid is not None
        now = self.ctx.now()
        with self.ctx.store.transaction() as tx:
            fresh = tx.position(position.id)
            if fresh is None or not fresh.has_shares:
                return None
            stop = fresh.stop if order_type is OrderType.STP else None
            if order_type is OrderType.STP and stop is None:
                return None
            existing = tx.intents_for_position(position.id)
            run = refusal_run(existing, purpose)
            if run is not None and run.waiting(now):
                return None  # refused just now: tried again when its back-off ends
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


def _went_out(intent: IntentRecord) -> bool:
    """True when a placed exit went out and the broker did not refuse it."""
    return intent.status is not IntentStatus.REJECTED
