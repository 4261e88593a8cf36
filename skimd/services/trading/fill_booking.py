"""Fills turned into positions, and the trader told once per decision.

A buy opens or adds to the position (and marks its plan executed), a sell reduces it (and
closes its candidate when it is flat). Called by the order desk inside the unit of work that
records the fill, so a position never disagrees with the intents that made it.

What the trader hears (order-placed and order-filled events stay journal facts):

- an entry, ONCE, when it is settled (:meth:`FillBooking.settle_entry`): its protective
  stop confirmed resting for the shares filled so far (or, with resting stops off or the
  stop refused, the software stop guarding them), with size, price, stop, risk and fees;
  more shares filled later and protected again make one more (the dedup key is the entry
  and its filled quantity);
- an entry that ended with nothing filled (:meth:`FillBooking.entry_lapsed`);
- every exit (each sell fill), with net P&L after fees (the entry's commissions pro rata
  for the shares sold plus the exit's), R against the initial stop, the move and holding
  time, and the day's path and stop as the watch saw them (its chart).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from skimd.domain.alerts import EntryLapsed, EntrySettled, PositionExited
from skimd.domain.entries import EntryPlan
from skimd.domain.orders import Side
from skimd.domain.protection import Cover
from skimd.domain.trading import (
    CandidateMove,
    CandidateRecord,
    ExitReason,
    IntentPurpose,
    IntentRecord,
    PositionRecord,
)
from skimd.errors import InvalidInputError
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext
from skimd.services.trading.fees import OrderFees

_EXIT_REASONS = {
    IntentPurpose.STOP: ExitReason.STOP,
    IntentPurpose.STOP_EXIT: ExitReason.STOP,
    IntentPurpose.PARTIAL: ExitReason.PARTIAL,
    IntentPurpose.TRAIL: ExitReason.TRAIL,
    IntentPurpose.FLATTEN: ExitReason.END_OF_DAY,
    IntentPurpose.MANUAL: ExitReason.MANUAL,
}


class FillBooking:
    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx

    def book(
        self,
        tx: TradingTx,
        intent: IntentRecord,
        qty: int,
        price: Decimal,
        now: datetime,
        fees: OrderFees | None = None,
    ) -> PositionRecord:
        """Book ``qty`` more shares of ``intent`` filled at ``price`` (the increment's own
        price, not the order's average) into its position, inside the caller's unit of work,
        and alert a sell as an exit (``fees``: the executions to state its fees from).
        ``intent`` carries the filled quantity BEFORE this increment: the exit's dedup key
        uses it, so booking the same increment twice after a crash alerts once."""
        if intent.side == Side.BUY.value:
            return self._buy(tx, intent, qty, price, now)
        return self._sell(tx, intent, qty, price, now, fees)

    def settle_entry(
        self,
        tx: TradingTx,
        position_id: int | None,
        cover: Cover,
        fees: OrderFees | None,
        now: datetime,
    ) -> None:
        """Queue the one message of an entry made today into ``position_id``, now that
        ``cover`` protects its filled shares (module doc); a later call for the same filled
        quantity queues nothing (outbox dedup), nor does one for an earlier day's entry."""
        position = None if position_id is None else tx.position(position_id)
        if position is None or not position.has_shares or position.id is None:
            return
        if self.ctx.calendar.market_date(position.opened_at) != self.ctx.calendar.market_date(now):
            return  # a stop moved or put back on a later day: the entry was told then
        entries = [
            i
            for i in tx.intents_for_position(position.id)
            if i.purpose is IntentPurpose.ENTRY and i.filled_qty > 0
        ]
        if not entries:
            return  # adopted from the broker: not our entry
        filled = sum(i.filled_qty for i in entries)
        entry = max(entries, key=lambda i: i.created_at)
        candidate = _candidate(tx, position)
        day = self.ctx.calendar.market_date(now)
        tx.alert(
            EntrySettled(
                occurred_at=now,
                symbol=position.ticker,
                quantity=filled,
                ordered=sum(i.qty for i in entries),
                price=position.avg_price,
                stop=position.stop,
                cover=cover,
                client_order_id=entry.client_order_id,
                filled_at=position.opened_at,
                fees=None if fees is None else fees.share(entries, filled),
                orh=None if candidate is None else candidate.orh,
                orl=None if candidate is None else candidate.orl,
                prev_close=None if candidate is None else candidate.prev_close,
                path=self.ctx.tape.path(day, position.ticker),
                volumes=self.ctx.tape.volumes(day, position.ticker),
            ),
            dedup_key=f"entry:{entry.client_order_id}:{filled}",
        )

    def entry_ended(
        self, tx: TradingTx, entry: IntentRecord, now: datetime, why: str | None = None
    ) -> None:
        """Queue the one message of an entry order that ended (cancelled, expired or
        dropped) with nothing filled, saying ``why`` (default: the intent's reason); one
        that filled some was told when it settled."""
        if entry.filled_qty:
            return
        tx.alert(
            EntryLapsed(
                occurred_at=now,
                symbol=entry.ticker,
                ordered=entry.qty,
                limit_price=entry.limit_price,
                client_order_id=entry.client_order_id,
                reason=why or entry.reason or "cancelled",
            ),
            dedup_key=f"lapsed:{entry.client_order_id}",
        )

    def _buy(
        self, tx: TradingTx, intent: IntentRecord, qty: int, price: Decimal, now: datetime
    ) -> PositionRecord:
        position = tx.open_position_for(intent.ticker)
        if position is not None:
            return tx.save_position(position.add_fill(qty, price))
        stop = None
        candidate = None if intent.candidate_id is None else tx.candidate_by_id(intent.candidate_id)
        plan = None if candidate is None else EntryPlan.of(candidate, self.ctx.params.entry_terms)
        if candidate is not None and plan is not None:
            stop = plan.stop
            # the plan was carried out (its trade is linked at EOD)
            tx.save_plan(plan.trade_plan(candidate, "executed", qty=intent.qty), now)
        return tx.save_position(
            PositionRecord(
                ticker=intent.ticker,
                conid=intent.conid,
                qty=qty,
                avg_price=price,
                entry_date=self.ctx.calendar.market_date(now),
                opened_at=now,
                stop=stop,
                candidate_id=intent.candidate_id,
            )
        )

    def _sell(
        self,
        tx: TradingTx,
        intent: IntentRecord,
        qty: int,
        price: Decimal,
        now: datetime,
        fees: OrderFees | None,
    ) -> PositionRecord:
        position = (
            tx.position(intent.position_id) if intent.position_id is not None else None
        ) or tx.open_position_for(intent.ticker)
        if position is None:
            raise InvalidInputError(
                f"order {intent.client_order_id}: sold {qty} {intent.ticker} with no position"
            )
        partial = intent.purpose is IntentPurpose.PARTIAL
        position = position.reduce(qty, now, partial_exit=partial)
        saved = tx.save_position(position)
        candidate = _candidate(tx, position)
        if candidate is not None and not position.is_open and candidate.can(CandidateMove.CLOSED):
            tx.save_candidate(candidate.closed(), now)
        plan = None if candidate is None else EntryPlan.of(candidate, self.ctx.params.entry_terms)
        day = self.ctx.calendar.market_date(now)
        tx.alert(
            PositionExited(
                occurred_at=now,
                symbol=intent.ticker,
                quantity=qty,
                entry_price=position.avg_price,
                exit_price=price,
                entry_at=position.opened_at,
                exit_at=now,
                reason=_EXIT_REASONS.get(intent.purpose, ExitReason.MANUAL),
                pnl=(price - position.avg_price) * qty,
                stop=position.stop,
                orh=None if candidate is None else candidate.orh,
                orl=None if candidate is None else candidate.orl,
                prev_close=None if candidate is None else candidate.prev_close,
                path=self.ctx.tape.path(day, intent.ticker),
                stop_path=self.ctx.tape.stop_path(day, intent.ticker),
                volumes=self.ctx.tape.volumes(day, intent.ticker),
                fees=self._exit_fees(tx, position, intent, qty, fees),
                initial_stop=None if plan is None else plan.stop,
            ),
            dedup_key=f"exited:{intent.client_order_id}:{intent.filled_qty}",
        )
        return saved

    def _exit_fees(
        self,
        tx: TradingTx,
        position: PositionRecord,
        sell: IntentRecord,
        qty: int,
        fees: OrderFees | None,
    ) -> Decimal | None:
        """The entry's commissions pro rata for the ``qty`` sold plus the sell's own for
        them; None when either is not known (no executions read, or not shown yet)."""
        if fees is None or position.id is None:
            return None
        buys = [
            i
            for i in tx.intents_for_position(position.id)
            if i.side == Side.BUY.value and i.filled_qty > 0
        ]
        entry = fees.share(buys, qty) if buys else None
        exit_ = fees.share([sell], qty)
        if entry is None or exit_ is None:
            return None
        return entry + exit_


def _candidate(tx: TradingTx, position: PositionRecord) -> CandidateRecord | None:
    return None if position.candidate_id is None else tx.candidate_by_id(position.candidate_id)
