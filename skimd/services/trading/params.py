"""The strategy's knobs as plain values (bootstrap maps them from ``[strategy]``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal

from skimd.domain.entries import EntryTerms, SizingLimits


@dataclass(frozen=True)
class StrategyParams:
    """Times are market wall-clock (the calendar's zone); money in the account currency."""

    warmup_at: time = time(9, 45)
    purge_at: time = time(9, 55)
    end_of_day_at: time = time(16, 15)
    news_from: time = time(7, 30)
    scan_until: time = time(10, 15)
    poll_interval_s: int = 5
    scan_interval_s: int = 15
    news_interval_s: int = 300
    sync_interval_s: int = 300
    # gap scan
    min_gap_pct: Decimal = Decimal("4")
    min_price: Decimal = Decimal("0.20")
    min_volume: int = 20_000
    universe: tuple[str, ...] = ()
    require_news: bool = True
    # opening range and entries
    range_minutes: int = 15
    breakout_buffer_ticks: int = 1
    entry_slippage_ticks: int = 2
    entry_timeout_s: int = 60
    risk_per_trade: Decimal = Decimal("500")
    max_position_value: Decimal = Decimal("20000")
    max_open_positions: int = 3
    # guards
    max_orders_per_day: int = 20
    daily_loss_cap: Decimal = Decimal("1500")
    price_band_pct: Decimal = Decimal("3")
    closing_auction_minutes: int = 10
    # managing positions
    resting_stop: bool = True
    partial_exit_day: int = 3
    trail_ma_days: int = 10
    flatten_at_close: bool = False
    flatten_minutes_before_close: int = 15
    # housekeeping
    candidate_max_age_days: int = 30

    @property
    def sizing(self) -> SizingLimits:
        return SizingLimits(self.risk_per_trade, self.max_position_value)

    @property
    def entry_terms(self) -> EntryTerms:
        """What an :class:`~skimd.domain.entries.EntryPlan` needs from these settings."""
        return EntryTerms(self.breakout_buffer_ticks, self.entry_slippage_ticks, self.sizing)

    @property
    def range_length(self) -> timedelta:
        return timedelta(minutes=self.range_minutes)
