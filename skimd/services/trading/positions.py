"""Managing open positions, the last step of each intraday poll.

Per position, unless it is paused (a quantity mismatch) or an exit is already working:

- an exit that is due goes out at market, after the resting stop is confirmed cancelled:
  the optional end-of-day flatten, the day-N half exit, then the moving-average trail;
- otherwise the stop ratchets up (from day 2, to the previous session's low), and the
  resting stop order follows the stop and the quantity; without a resting stop, a last
  price at or below the stop exits at market.

Every sell is written from the position re-read in its unit of work, so it never sells
more than is held; a purpose the broker refused is retried only after REJECT_RETRY_S.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import structlog

from skimd.domain.calendar import MarketSession
from skimd.domain.market import Bar, Quote
from skimd.domain.orders import OrderType, Side, TimeInForce
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


class PositionManager:
    def __init__(self, ctx: TradingContext, desk: OrderDesk) -> None:
        self.ctx = ctx
        self.desk = desk
        self._history: dict[tuple[str, date], list[Bar]] = {}

    async def manage(
        self,
        positions: Sequence[PositionRecord],
        open_by_position: Mapping[int, list[IntentRecord]],
        quotes: Mapping[int, Quote],
        session: MarketSession,
    ) -> list[str]:
        """Manage every open position that is not paused; returns the exits placed, as
        ``ticker:purpose``."""
        exits: list[str] = []
        for position in positions:
            if position.paused or position.conid is None or position.id is None:
                continue
            quote = quotes.get(position.conid)
            intents = open_by_position.get(position.id, [])
            await self._manage_one(position, intents, quote, session, exits)
        return exits

    async def _manage_one(
        self,
        position: PositionRecord,
        intents: Sequence[IntentRecord],
        quote: Quote | None,
        session: MarketSession,
        exits: list[str],
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
            self.ctx.calendar.trading_days(position.entry_date, session.day),
        )
        exit_purpose, exit_qty = self._exit_due(position, day_n, session, now)
        if exit_purpose is not None:
            # The resting stop must be gone before the exit goes out: if it filled (or its
            # cancel is still pending) selling again would sell shares we no longer hold.
            if not await self._cancel_all(resting, f"replaced by {exit_purpose.value} exit"):
                return  # try again next poll, with the position as it is then
            if await self._exit(position, exit_purpose, exit_qty, session):
                exits.append(f"{position.ticker}:{exit_purpose.value}")
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
            exits.append(f"{position.ticker}:stop")

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
            if fresh is None or not fresh.has_shares:
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

