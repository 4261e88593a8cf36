"""Position sync: the daemon's memory made to agree with the broker's.

One run, in one order that matters:

1. follow our own open orders first (:meth:`OrderDesk.refresh`), so a fill of ours is
   booked as ours before positions are compared;
2. executions since ``since`` become trades (``exec_id`` unique: a re-sync adds nothing),
   their commissions ledger lines, and the touched tickers' round trips are rebuilt from
   share executions only; when a new execution is an option, the options strategies of its
   underlying are regrouped from every stored option execution of that underlying;
3. positions: one the broker has and we do not (a manual trade) is adopted; one we have
   and the broker does not is closed; a quantity that differs pauses that ticker (no
   entries, no management) and alerts with both numbers; a paused ticker whose numbers
   agree again is resumed;
4. the account's balance snapshot for the day, the account and broker config rows.

Everything a run finds is written with its alerts in one unit of work per step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from skimd.domain.alerts import PositionMismatch, ReconciliationRow
from skimd.domain.journal import UnmatchedSellError, build_round_trips
from skimd.domain.options import group_strategies
from skimd.domain.orders import STOCK
from skimd.domain.trading import IntentPurpose, PositionRecord
from skimd.errors import SkimdError
from skimd.services.ports.journal import JournalStore
from skimd.services.trading.context import TradingContext
from skimd.services.trading.orders import OrderDesk

log = structlog.get_logger(__name__)

_HISTORY = timedelta(days=7)  # how far back a start-up sync asks for executions


@dataclass(frozen=True)
class BrokerTerms:
    """What the journal records about the configured broker (``broker_configs``)."""

    settlement_days: int = 2
    commission: dict[str, str] = field(default_factory=dict)
    trading_hours: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncOutcome:
    new_fills: int = 0
    adopted: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    rows: list[ReconciliationRow] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return all(r.ok for r in self.rows)

    def summary(self) -> str:
        return (
            f"{self.new_fills} new executions; adopted {len(self.adopted)}, closed "
            f"{len(self.closed)}, paused {len(self.paused)}, resumed {len(self.resumed)}; "
            f"reconciliation {'clean' if self.clean else 'MISMATCH'}"
        )


class PositionSync:
    def __init__(
        self,
        ctx: TradingContext,
        store: JournalStore,
        desk: OrderDesk,
        terms: BrokerTerms | None = None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.desk = desk
        self.terms = terms or BrokerTerms()
        self._synced_once = False

    async def run(self, since: datetime | None = None) -> SyncOutcome:
        ctx = self.ctx
        broker = ctx.broker
        now = ctx.now()
        if since is None:
            start, _ = ctx.calendar.day_bounds(ctx.today())
            since = start - (_HISTORY if not self._synced_once else timedelta(0))
        await self.desk.refresh()
        fills = await broker.executions(since)
        held = {p.symbol: p for p in await broker.positions()}
        summary = await broker.account_summary()
        outcome = SyncOutcome()
        with self.store.read() as tx:
            ours = {p.ticker: p for p in tx.open_positions()}
            # An order of ours still working may have filled after the refresh above; its
            # ticker is compared at the next sync, not adopted or closed on a stale view.
            in_flight = {i.ticker for i in tx.open_intents() if i.purpose is not IntentPurpose.STOP}
        gone = [t for t in ours if t not in held and t not in in_flight]
        for ticker in gone:  # closed outside skimd: its resting stop must not stay live
            await self._cancel_orders_of(ours[ticker])

        with self.store.transaction() as tx:
            fresh = tx.add_fills(fills, now)
            outcome.new_fills = len(fresh)
            underlyings = sorted({f.option.underlying for f in fresh if f.option is not None})
            if underlyings:
                option_fills = [f for u in underlyings for f in tx.option_fills_for(u)]
                tx.save_options_strategies(group_strategies(option_fills), now)
            for ticker in sorted({f.symbol for f in fresh if f.sec_type == STOCK}):
                shares = [f for f in tx.fills_for(ticker) if f.sec_type == STOCK]
                try:
                    tx.save_round_trips(build_round_trips(shares))
                except UnmatchedSellError as exc:  # history starts mid-position
                    log.warning("round trips incomplete", ticker=ticker, error=str(exc))

        with self.store.transaction() as tx:
            ours = {p.ticker: p for p in tx.open_positions()}
            for ticker in sorted(set(held) | set(ours)):
                if ticker in in_flight:
                    continue
                broker_pos, our_pos = held.get(ticker), ours.get(ticker)
                broker_qty = 0 if broker_pos is None else broker_pos.qty
                our_qty = 0 if our_pos is None else our_pos.qty
                day = ctx.today()
                if our_pos is None and broker_pos is not None:
                    tx.save_position(
                        PositionRecord(
                            ticker=ticker,
                            conid=broker_pos.conid,
                            qty=broker_pos.qty,
                            avg_price=broker_pos.avg_cost,
                            entry_date=day,
                            opened_at=now,
                        )
                    )
                    outcome.adopted.append(ticker)
                    tx.alert(
                        PositionMismatch(
                            occurred_at=now,
                            symbol=ticker,
                            ours=0,
                            broker=broker_qty,
                            detail="opened outside skimd; adopted (no stop set: set one)",
                        ),
                        dedup_key=f"adopted:{ticker}:{now.isoformat()}",
                    )
                elif our_pos is not None and broker_pos is None:
                    tx.save_position(our_pos.close(now))
                    outcome.closed.append(ticker)
                    tx.alert(
                        PositionMismatch(
                            occurred_at=now,
                            symbol=ticker,
                            ours=our_qty,
                            broker=0,
                            detail="closed outside skimd; marked closed",
                        ),
                        dedup_key=f"closed-outside:{ticker}:{now.isoformat()}",
                    )
                elif our_pos is not None and our_qty != broker_qty:
                    if not our_pos.paused:
                        tx.save_position(replace(our_pos, paused=True))
                        outcome.paused.append(ticker)
                    tx.alert(
                        PositionMismatch(
                            occurred_at=now,
                            symbol=ticker,
                            ours=our_qty,
                            broker=broker_qty,
                            detail="quantities differ; entries and management paused",
                        ),
                        dedup_key=f"mismatch:{ticker}:{day}:{our_qty}:{broker_qty}",
                    )
                elif our_pos is not None and our_pos.paused:
                    tx.save_position(replace(our_pos, paused=False))
                    outcome.resumed.append(ticker)
                    log.info("position quantities agree again; resumed", ticker=ticker)
            net = tx.net_executed()
            positions = {p.ticker: p.qty for p in tx.open_positions()}
            for ticker in sorted(set(net) | set(positions) | set(held)):
                outcome.rows.append(
                    ReconciliationRow.compare(
                        ticker,
                        db_qty=positions.get(ticker, 0),
                        broker_qty=0 if ticker not in held else held[ticker].qty,
                        executions_qty=net.get(ticker, 0),
                    )
                )
            tx.ensure_account(summary.account_id, broker.kind, summary.currency, now)
            tx.ensure_broker_config(
                broker.kind,
                self.terms.settlement_days,
                json.dumps(self.terms.commission, sort_keys=True),
                json.dumps(self.terms.trading_hours, sort_keys=True),
                now,
            )
            tx.save_balance(
                summary.account_id,
                ctx.today(),
                summary.cash,
                summary.net_liquidation,
                summary.currency,
                now,
            )
        self._synced_once = True
        log.info("position sync", summary=outcome.summary())
        return outcome

    async def _cancel_orders_of(self, position: PositionRecord) -> None:
        """Cancel every working order of a position the broker no longer holds."""
        if position.id is None:
            return
        with self.store.read() as tx:
            working = [i for i in tx.intents_for_position(position.id) if i.status.is_open]
        for intent in working:
            try:
                await self.desk.cancel(intent, "position closed outside skimd")
            except SkimdError as exc:  # alerting the close matters more; retried next sync
                log.warning("could not cancel order", coid=intent.client_order_id, error=str(exc))
