"""Fills turned into positions: a buy opens or adds to the position (and marks its plan
executed), a sell reduces it (and closes its candidate when it is flat); each fill and each
exit is alerted, an exit with the day's path and stop as the watch saw them (its chart).
Called by the order desk inside the unit of work that records the fill, so a position never
disagrees with the intents that made it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from skimd.domain.alerts import OrderFilled, PositionExited
from skimd.domain.entries import EntryPlan
from skimd.domain.orders import Side
from skimd.domain.trading import (
    CandidateMove,
    ExitReason,
    IntentPurpose,
    IntentRecord,
    PositionRecord,
)
from skimd.errors import InvalidInputError
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext

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
        self, tx: TradingTx, intent: IntentRecord, qty: int, price: Decimal, now: datetime
    ) -> PositionRecord:
        """Book ``qty`` more shares of ``intent`` filled at ``price`` (the increment's own
        price, not the order's average) into its position, inside the caller's unit of work,
        and alert the fill (and, for a sell, the exit). ``intent`` carries the filled
        quantity BEFORE this increment: the alerts' dedup keys use it, so booking the same
        increment twice after a crash alerts once."""
        tx.alert(
            OrderFilled(
                occurred_at=now,
                symbol=intent.ticker,
                side=intent.side,
                quantity=qty,
                client_order_id=intent.client_order_id,
                price=price,
            ),
            dedup_key=f"filled:{intent.client_order_id}:{intent.filled_qty}",
        )
        if intent.side == Side.BUY.value:
            return self._buy(tx, intent, qty, price, now)
        return self._sell(tx, intent, qty, price, now)

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
        self, tx: TradingTx, intent: IntentRecord, qty: int, price: Decimal, now: datetime
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
        candidate = None
        if position.candidate_id is not None:
            candidate = tx.candidate_by_id(position.candidate_id)
            closed = not position.is_open
            if closed and candidate is not None and candidate.can(CandidateMove.CLOSED):
                tx.save_candidate(candidate.closed(), now)
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
            ),
            dedup_key=f"exited:{intent.client_order_id}:{intent.filled_qty}",
        )
        return saved
