"""What the journal services need from storage: the trading store's transaction plus the
journal tables, in domain terms (the database adapter implements both in one unit of work,
so a position change and the alert about it commit together)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skimd.domain.excursions import Excursion
from skimd.domain.journal import RoundTripView
from skimd.domain.mistakes import MistakeFinding
from skimd.domain.options import OptionsStrategyView
from skimd.domain.orders import Fill
from skimd.domain.trading import PlanRecord
from skimd.services.ports.trading import TradingTx

__all__ = ["JournalStore", "JournalTx", "PlanRecord", "StoredRoundTrip"]


@dataclass(frozen=True, slots=True)
class StoredRoundTrip:
    """A round trip as stored, with the exec ids of its trades."""

    id: int
    ticker: str
    status: str
    qty: Decimal
    entry_avg: Decimal
    exit_avg: Decimal | None
    net_pnl: Decimal | None
    opened_at: datetime
    closed_at: datetime | None
    exec_ids: tuple[str, ...]


class JournalTx(TradingTx, Protocol):
    def known_exec_ids(self, exec_ids: Sequence[str]) -> set[str]: ...

    def add_fills(self, fills: Sequence[Fill], at: datetime) -> list[Fill]:
        """Store executions as trades (and their commissions in the ledger); returns the
        ones that were new (an exec id already stored is skipped)."""
        ...

    def fills_for(self, ticker: str) -> list[Fill]:
        """Every stored execution of ``ticker``, oldest first."""
        ...

    def option_fills_for(self, underlying: str) -> list[Fill]:
        """Every stored option execution whose contract is known and on ``underlying``,
        oldest first (never the underlying's shares)."""
        ...

    def save_options_strategies(self, views: Sequence[OptionsStrategyView], at: datetime) -> None:
        """Insert or update options strategies, matched by underlying, ``opened_at`` and the
        legs' contracts."""
        ...

    def fills_between(self, start: datetime, end: datetime) -> list[Fill]:
        """Stored executions in ``[start, end)``, oldest first."""
        ...

    def net_executed(self) -> dict[str, int]:
        """Bought minus sold per ticker over every stored execution."""
        ...

    def save_round_trips(self, views: Sequence[RoundTripView]) -> None:
        """Insert or update round trips (matched by their first execution) and link their
        trades to them."""
        ...

    def round_trips_closed_between(
        self, start: datetime, end: datetime
    ) -> list[StoredRoundTrip]: ...

    def round_trips_opened_between(
        self, start: datetime, end: datetime
    ) -> list[StoredRoundTrip]: ...

    def save_balance(
        self, account: str, day: date, cash: Decimal, equity: Decimal, currency: str, at: datetime
    ) -> None: ...

    def ensure_account(self, account_id: str, broker: str, currency: str, at: datetime) -> None: ...

    def ensure_broker_config(
        self, broker: str, settlement_days: int, commission: str, hours: str, at: datetime
    ) -> None: ...

    def save_excursion(
        self, exec_id: str, excursion: Excursion, at: datetime, *, entry_price: Decimal,
        source: str,
    ) -> None:
        """Store the excursion of the entry ``exec_id`` in $ and in percent of
        ``entry_price`` (the entry average), with the price path's ``source``."""
        ...

    def save_plan(self, plan: PlanRecord, at: datetime) -> None:
        """Insert or update the plan of ``plan.candidate_id``."""
        ...

    def save_watchlist(self, name: str, tickers: Sequence[tuple[str, str]], at: datetime) -> None:
        """Replace the items of watchlist ``name`` with (ticker, note) pairs."""
        ...

    def save_mistakes(
        self, round_trip_id: int, findings: Sequence[MistakeFinding], at: datetime
    ) -> int:
        """Record the findings of one round trip (replacing earlier automatic findings;
        the trader's own mistakes, whose categories are no
        :class:`~skimd.domain.mistakes.MistakeCode`, stay); returns count."""
        ...


class JournalStore(Protocol):
    @property
    def generation(self) -> int: ...

    def transaction(self) -> AbstractContextManager[JournalTx]: ...

    def read(self) -> AbstractContextManager[JournalTx]: ...
