"""The checks every new entry must pass, in this order: the kill switch, the closing
auction, max orders per day, max open positions, the daily loss cap, the price band.

Exits are never blocked here: a guard exists to stop new risk, and refusing a stop-loss
exit would add risk. A tripped guard is alerted once (per day, or per kill-switch lock),
not on every poll, through the outbox's dedup key. How loud follows from the guard's kind
(:class:`~skimd.domain.alerts.GuardTripped`): the daily loss cap is critical, the normal
limits (max orders, max positions, the closing auction) are info, the rest warnings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import structlog

from skimd.domain.alerts import GuardTripped
from skimd.domain.calendar import MarketSession
from skimd.domain.entries import within_price_band
from skimd.domain.market import asx_tick_size
from skimd.domain.trading import GuardKind, IntentPurpose, IntentStatus, unrealised_pnl
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext

log = structlog.get_logger(__name__)

MIN_BAND_TICKS = 2  # the default entry slippage; see check_price_band


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    kind: GuardKind | None = None
    detail: str = ""
    value: Decimal | None = None
    limit: Decimal | None = None
    dedup_key: str | None = None

    @classmethod
    def ok(cls) -> GuardVerdict:
        return cls(True)


def realised_pnl_today(tx: TradingTx, ctx: TradingContext, day: date) -> Decimal:
    """P&L of exits that filled today against their positions' average price; an exit
    order placed on an earlier day (a resting GTC stop) counts on the day it fills."""
    start, end = ctx.calendar.day_bounds(day)
    total = Decimal(0)
    for intent in tx.intents_updated_between(start, end):
        if not intent.purpose.is_exit or intent.filled_qty == 0:
            continue
        if intent.avg_fill_price is None or intent.position_id is None:
            continue
        position = tx.position(intent.position_id)
        if position is not None:
            total += (intent.avg_fill_price - position.avg_price) * intent.filled_qty
    return total


def day_pnl(
    tx: TradingTx, ctx: TradingContext, day: date, last_prices: Mapping[str, Decimal]
) -> Decimal:
    """Realised today plus unrealised on every open position at ``last_prices``."""
    unrealised = sum(
        (unrealised_pnl(p, last_prices.get(p.ticker)) for p in tx.open_positions()), Decimal(0)
    )
    return realised_pnl_today(tx, ctx, day) + unrealised


def check_entry(
    tx: TradingTx,
    ctx: TradingContext,
    *,
    ticker: str,
    limit_price: Decimal,
    last: Decimal,
    now: datetime,
    entries_close_at: datetime,
    last_prices: Mapping[str, Decimal],
) -> GuardVerdict:
    """Every guard for one entry: the account-wide gates, then the price band."""
    verdict = check_gates(
        tx, ctx, now=now, entries_close_at=entries_close_at, last_prices=last_prices
    )
    if not verdict.allowed:
        return verdict
    return check_price_band(ctx, ticker=ticker, limit_price=limit_price, last=last, now=now)


def check_gates(
    tx: TradingTx,
    ctx: TradingContext,
    *,
    now: datetime,
    entries_close_at: datetime,
    last_prices: Mapping[str, Decimal],
) -> GuardVerdict:
    """The guards that do not depend on the ticker (kill switch, closing auction, max
    orders per day, max open positions, daily loss cap), in that order."""
    p = ctx.params
    day = ctx.calendar.market_date(now)
    guard = tx.guard()
    if guard.locked:
        stamp = guard.changed_at.isoformat() if guard.changed_at else "unknown"
        return GuardVerdict(
            False,
            GuardKind.KILL_SWITCH,
            f"kill switch locked ({guard.reason or 'no reason given'}); no new entries",
            dedup_key=f"guard:kill_switch:{stamp}",
        )
    if now >= entries_close_at:
        return GuardVerdict(
            False,
            GuardKind.CLOSING_AUCTION,
            f"closing auction from {entries_close_at.astimezone(ctx.calendar.zone):%H:%M}; "
            "no new entries",
            dedup_key=f"guard:closing_auction:{day}",
        )
    start, end = ctx.calendar.day_bounds(day)
    placed_today = [i for i in tx.intents_between(start, end) if i.status != IntentStatus.REJECTED]
    if len(placed_today) >= p.max_orders_per_day:
        return GuardVerdict(
            False,
            GuardKind.MAX_ORDERS_PER_DAY,
            f"{len(placed_today)} orders today; no new entries",
            value=Decimal(len(placed_today)),
            limit=Decimal(p.max_orders_per_day),
            dedup_key=f"guard:max_orders:{day}",
        )
    open_count = len(tx.open_positions()) + sum(
        1 for i in tx.open_intents() if i.purpose is IntentPurpose.ENTRY and i.filled_qty == 0
    )
    if open_count >= p.max_open_positions:
        return GuardVerdict(
            False,
            GuardKind.MAX_POSITIONS,
            f"{open_count} positions open or entering; no new entries",
            value=Decimal(open_count),
            limit=Decimal(p.max_open_positions),
            dedup_key=f"guard:max_positions:{day}:{open_count}",
        )
    pnl = day_pnl(tx, ctx, day, last_prices)
    if pnl <= -p.daily_loss_cap:
        return GuardVerdict(
            False,
            GuardKind.DAILY_LOSS_CAP,
            f"today's P&L {pnl:.2f} reached the loss cap; no new entries today",
            value=pnl,
            limit=-p.daily_loss_cap,
            dedup_key=f"guard:daily_loss:{day}",
        )
    return GuardVerdict.ok()


def check_price_band(
    ctx: TradingContext, *, ticker: str, limit_price: Decimal, last: Decimal, now: datetime
) -> GuardVerdict:
    """The fat-finger check: the order's limit against the last trade."""
    day = ctx.calendar.market_date(now)
    band = ctx.params.price_band_pct
    if within_price_band(limit_price, last, band):
        return GuardVerdict.ok()
    # Under about $0.35 one tick (half a cent) is already over 1 %: a limit within
    # MIN_BAND_TICKS ticks of the last price is never refused, whatever the percentage.
    if abs(limit_price - last) <= asx_tick_size(last) * MIN_BAND_TICKS:
        return GuardVerdict.ok()
    return GuardVerdict(
        False,
        GuardKind.PRICE_BAND,
        f"{ticker} limit {limit_price} is more than {band}% from last {last}",
        value=limit_price,
        limit=last,
        dedup_key=f"guard:price_band:{day}:{ticker}",
    )


def alert_trip(tx: TradingTx, verdict: GuardVerdict, now: datetime) -> bool:
    """Queue the GuardTripped alert unless this trip was alerted already; True if queued."""
    assert verdict.kind is not None
    return tx.alert(
        GuardTripped(
            occurred_at=now,
            guard=verdict.kind,
            detail=verdict.detail,
            value=verdict.value,
            limit=verdict.limit,
        ),
        dedup_key=verdict.dedup_key,
    )


class EntryGuards:
    """The guards as one process's polls meet them: the account-wide verdict, reused while
    nothing it depends on can have changed, and each trip alerted once."""

    def __init__(self, ctx: TradingContext) -> None:
        self.ctx = ctx
        self._alerted: set[str] = set()  # trips already queued (the outbox dedups too)
        self._gate_cache: tuple[tuple[int, date], GuardVerdict] | None = None

    def gates(
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

    def trip(self, verdict: GuardVerdict, now: datetime) -> None:
        """Alert a tripped guard once (the in-memory set saves a write per poll)."""
        key = verdict.dedup_key or verdict.detail
        if key in self._alerted:
            return
        with self.ctx.store.transaction() as tx:
            if alert_trip(tx, verdict, now):
                log.warning("guard tripped", guard=verdict.kind, detail=verdict.detail)
        self._alerted.add(key)
