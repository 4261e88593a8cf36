"""Executions, round trips, balance snapshots, plans and the simpler journal aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from skimd.errors import IntegrityError

from ..tables import (
    Account,
    BalanceSnapshot,
    BankImportConfig,
    BankTransaction,
    BrokerConfig,
    ExcursionMetric,
    LedgerEntry,
    MistakeEntry,
    OptionsStrategy,
    RoundTrip,
    Trade,
    TradePlan,
    TradeReport,
    Watchlist,
    WatchlistItem,
)
from ._base import Repository

if TYPE_CHECKING:  # the statement parsers are imported by the import command, not the daemon
    from skimd.infrastructure.bank_import import BankTxnRecord


class TradeRepository(Repository[Trade]):
    """Executions keyed by the broker's ``exec_id``, with the journal specification's
    calls: ``save(trade)``, ``get(exec_id)``, ``exists(exec_id)``.

    ``add_new`` returns False for an ``exec_id`` already journaled and leaves the stored
    row untouched: syncing the same executions twice is normal, not an error. (The plain
    ``add`` inherited from Repository would raise IntegrityError on the duplicate.)
    ``save`` is the explicit write: it inserts, or updates the stored execution with the
    same ``exec_id`` (a correction), and returns the stored row.
    """

    model = Trade

    def save(self, trade: Trade) -> Trade:
        stored = self.get(trade.exec_id)
        if stored is None:
            return self.add(trade)
        for name, value in trade.model_dump(exclude={"id"}).items():
            setattr(stored, name, value)
        return self.add(stored)

    def get(self, ident: Any) -> Trade | None:
        """The execution with exec id ``ident`` (a string). Any other type is a caller's
        bug and raises TypeError rather than quietly finding nothing."""
        if not isinstance(ident, str):
            raise TypeError(
                f"TradeRepository.get takes the exec id (str), got {type(ident).__name__}"
            )
        return self.get_by_exec_id(ident)

    def add_new(self, trade: Trade) -> bool:
        if self.exists(trade.exec_id):
            return False
        self.add(trade)
        return True

    def add_many(self, trades: Iterable[Trade]) -> int:
        """Journal a batch in one statement; returns how many were new. Known ``exec_id``s
        (stored, or repeated within the batch) are skipped, never overwritten."""
        fresh: dict[str, dict[str, object]] = {}
        for t in trades:
            fresh.setdefault(t.exec_id, t.model_dump(exclude={"id"}))
        if not fresh:
            return 0
        stmt = select(col(Trade.exec_id)).where(col(Trade.exec_id).in_(list(fresh)))
        for known in self._session.scalars(stmt):
            fresh.pop(known, None)
        if fresh:
            self._session.execute(insert(Trade), list(fresh.values()))
        return len(fresh)

    def exists(self, exec_id: str) -> bool:
        stmt = select(col(Trade.id)).where(col(Trade.exec_id) == exec_id)
        return self._session.scalars(stmt).first() is not None

    def get_by_exec_id(self, exec_id: str) -> Trade | None:
        return self._session.scalars(select(Trade).where(col(Trade.exec_id) == exec_id)).first()

    def list_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[Trade]:
        """Executions with ``start <= executed_at < end``, in time order."""
        stmt = (
            select(Trade)
            .where(col(Trade.executed_at) >= start, col(Trade.executed_at) < end)
            .order_by(col(Trade.executed_at), col(Trade.id))
        )
        return list(self._session.scalars(stmt).all())

    def unassigned(self, ticker: str | None = None) -> Sequence[Trade]:
        """Executions not yet grouped into a round trip, in time order."""
        stmt = select(Trade).where(col(Trade.round_trip_id).is_(None))
        if ticker is not None:
            stmt = stmt.where(col(Trade.ticker) == ticker)
        stmt = stmt.order_by(col(Trade.executed_at), col(Trade.id))
        return list(self._session.scalars(stmt).all())


class RoundTripRepository(Repository[RoundTrip]):
    model = RoundTrip

    def open_for(self, ticker: str) -> RoundTrip | None:
        stmt = select(RoundTrip).where(
            col(RoundTrip.ticker) == ticker, col(RoundTrip.status) == "open"
        )
        return self._session.scalars(stmt).first()

    def closed_between(self, start: dt.datetime, end: dt.datetime) -> Sequence[RoundTrip]:
        stmt = (
            select(RoundTrip)
            .where(
                col(RoundTrip.status) == "closed",
                col(RoundTrip.closed_at) >= start,
                col(RoundTrip.closed_at) < end,
            )
            .order_by(col(RoundTrip.closed_at))
        )
        return list(self._session.scalars(stmt).all())

    def trades_of(self, round_trip_id: int) -> Sequence[Trade]:
        stmt = (
            select(Trade)
            .where(col(Trade.round_trip_id) == round_trip_id)
            .order_by(col(Trade.executed_at), col(Trade.id))
        )
        return list(self._session.scalars(stmt).all())


class BalanceSnapshotRepository(Repository[BalanceSnapshot]):
    model = BalanceSnapshot

    def upsert(self, snapshot: BalanceSnapshot) -> BalanceSnapshot:
        """One snapshot per (account, date): a later one that day replaces the values."""
        existing = self.get_for(snapshot.account, snapshot.date)
        if existing is None:
            return self.add(snapshot)
        existing.cash, existing.equity = snapshot.cash, snapshot.equity
        existing.currency, existing.taken_at = snapshot.currency, snapshot.taken_at
        return self.add(existing)

    def get_for(self, account: str, date: dt.date) -> BalanceSnapshot | None:
        stmt = select(BalanceSnapshot).where(
            col(BalanceSnapshot.account) == account, col(BalanceSnapshot.date) == date
        )
        return self._session.scalars(stmt).first()

    def between(self, account: str, start: dt.date, end: dt.date) -> Sequence[BalanceSnapshot]:
        stmt = (
            select(BalanceSnapshot)
            .where(
                col(BalanceSnapshot.account) == account,
                col(BalanceSnapshot.date) >= start,
                col(BalanceSnapshot.date) <= end,
            )
            .order_by(col(BalanceSnapshot.date))
        )
        return list(self._session.scalars(stmt).all())


class TradePlanRepository(Repository[TradePlan]):
    model = TradePlan

    def by_status(self, statuses: Sequence[str]) -> Sequence[TradePlan]:
        stmt = select(TradePlan).where(col(TradePlan.status).in_(list(statuses)))
        return list(self._session.scalars(stmt.order_by(col(TradePlan.id))).all())

    def set_status(
        self, plan_id: int, status: str, now: dt.datetime, trade_id: int | None = None
    ) -> TradePlan:
        plan = self._session.get(TradePlan, plan_id)
        if plan is None:
            raise IntegrityError(f"trade plan {plan_id} does not exist")
        plan.status = status
        plan.updated_at = now
        if trade_id is not None:
            plan.trade_id = trade_id
        return self.add(plan)


class BankTransactionRepository(Repository[BankTransaction]):
    """Bank statement lines, deduplicated by ``hash`` across overlapping imports.

    The hash is the statement parser's own (:func:`skimd.infrastructure.bank_import.txn_hash`,
    carried on every :class:`BankTxnRecord` as ``.hash``): storing and checking exactly that
    value is what makes a re-import of the same or an overlapping statement recognisable.
    """

    model = BankTransaction

    @staticmethod
    def line_hash(
        account: str,
        posted_on: dt.date,
        amount: Decimal,
        description: str,
        reference: str | None = None,
    ) -> str:
        """The parser's hash of a line (the same value ``BankTxnRecord.hash`` carries)."""
        from skimd.infrastructure.bank_import import txn_hash

        return txn_hash(account, posted_on, amount, description, reference)

    def add_new(self, tx: BankTransaction) -> bool:
        """Insert unless a line with the same hash exists; returns whether it was new."""
        stmt = select(col(BankTransaction.id)).where(col(BankTransaction.hash) == tx.hash)
        if self._session.scalars(stmt).first() is not None:
            return False
        self.add(tx)
        return True

    BATCH_ROWS = 1000
    """Lines per INSERT in :meth:`add_records`: memory holds one batch, not the file."""
    IMPORT_CACHE_KIB = 32 * 1024
    """Page cache of the connection while :meth:`add_records` runs (then restored). The
    unique ``hash`` index is random-keyed, so each line lands on a random index page; with
    the connection's usual 2 MiB a 1M-line import spends most of its time decrypting and
    re-encrypting evicted index pages (measured: 70 s at 2 MiB, about 45 s at 32 MiB)."""

    def add_records(
        self,
        records: Iterable[BankTxnRecord],
        now: dt.datetime,
        *,
        import_config_id: int | None = None,
        currency: str = "AUD",
        source: str | None = None,
        batch_id: str | None = None,
    ) -> tuple[int, int]:
        """Store parsed statement lines under their own ``.hash``, :attr:`BATCH_ROWS` at a
        time as ``records`` yields them; returns (added, skipped).

        A line is skipped when its hash is stored already: by an earlier import, or by a
        line earlier in ``records`` that this transaction inserted (statements cannot tell
        two identical lines apart either). The unique index on ``hash`` decides it
        (``ON CONFLICT (hash) DO NOTHING``), so no set of hashes grows with the file; any
        other constraint still raises. ``currency`` is used for lines whose statement states
        none. Every line stored gets ``source`` (csv | ofx) and ``batch_id`` (what
        :meth:`delete_batch` undoes); ``post_date`` is the statement's date and
        ``category`` its line type (OFX TRNTYPE, lower-cased), when it has one. Only
        flushes: the caller's unit of work decides whether the whole file commits, so an
        error raised by ``records`` half-way leaves nothing stored.
        """
        table = BankTransaction.metadata.tables["bank_transactions"]
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["hash"])
        lines = iter(records)
        driver: Any = self._session.connection().connection.driver_connection
        before = int(driver.execute("PRAGMA cache_size").fetchone()[0])
        driver.execute(f"PRAGMA cache_size = -{int(self.IMPORT_CACHE_KIB)}")
        try:
            added, seen = self._insert_batches(
                stmt, lines, now, import_config_id, currency, source, batch_id
            )
        finally:
            driver.execute(f"PRAGMA cache_size = {before}")
        return added, seen - added

    def _insert_batches(
        self,
        stmt: Any,
        lines: Iterator[BankTxnRecord],
        now: dt.datetime,
        import_config_id: int | None,
        currency: str,
        source: str | None,
        batch_id: str | None,
    ) -> tuple[int, int]:
        """(inserted, seen) over every batch of ``lines``."""
        added = seen = 0
        while batch := list(islice(lines, self.BATCH_ROWS)):
            rows = [
                {
                    "hash": rec.hash,
                    "account": rec.account,
                    "posted_on": rec.posted_on,
                    "amount": rec.amount,
                    "currency": rec.currency or currency,
                    "description": rec.description,
                    "reference": rec.reference,
                    "balance": rec.balance,
                    "imported_at": now,
                    "import_config_id": import_config_id,
                    "post_date": rec.posted_on,
                    "category": rec.kind.lower() if rec.kind else None,
                    "source": source,
                    "import_batch_id": batch_id,
                }
                for rec in batch
            ]
            result = cast("CursorResult[Any]", self._session.execute(stmt, rows))
            added += result.rowcount
            seen += len(rows)
        return added, seen


    def delete_batch(self, batch_id: str) -> int:
        """Delete the lines one import stored; returns how many."""
        stmt = delete(BankTransaction).where(col(BankTransaction.import_batch_id) == batch_id)
        result = cast("CursorResult[Any]", self._session.execute(stmt))
        return int(result.rowcount)


class LedgerRepository(Repository[LedgerEntry]):
    model = LedgerEntry

    def totals_by_kind(self, start: dt.datetime, end: dt.datetime) -> dict[str, Decimal]:
        """Sum of amounts per kind (summed in Python: amounts are exact TEXT decimals)."""
        stmt = select(LedgerEntry).where(
            col(LedgerEntry.occurred_at) >= start, col(LedgerEntry.occurred_at) < end
        )
        totals: dict[str, Decimal] = {}
        for entry in self._session.scalars(stmt):
            totals[entry.kind] = totals.get(entry.kind, Decimal(0)) + entry.amount
        return totals


class ExcursionRepository(Repository[ExcursionMetric]):
    model = ExcursionMetric

    def upsert(self, metric: ExcursionMetric) -> ExcursionMetric:
        stmt = select(ExcursionMetric).where(col(ExcursionMetric.trade_id) == metric.trade_id)
        existing = self._session.scalars(stmt).first()
        if existing is None:
            return self.add(metric)
        existing.mfe, existing.mae, existing.bso = metric.mfe, metric.mae, metric.bso
        existing.mfe_pct, existing.mae_pct = metric.mfe_pct, metric.mae_pct
        existing.bso_pct, existing.data_source = metric.bso_pct, metric.data_source
        existing.computed_at = metric.computed_at
        return self.add(existing)


class WatchlistRepository(Repository[Watchlist]):
    model = Watchlist

    def by_name(self, name: str) -> Watchlist | None:
        return self._session.scalars(select(Watchlist).where(col(Watchlist.name) == name)).first()

    def add_item(self, item: WatchlistItem) -> WatchlistItem:
        self._session.add(item)
        self._session.flush()
        return item

    def items(self, watchlist_id: int) -> Sequence[WatchlistItem]:
        stmt = (
            select(WatchlistItem)
            .where(col(WatchlistItem.watchlist_id) == watchlist_id)
            .order_by(col(WatchlistItem.ticker))
        )
        return list(self._session.scalars(stmt).all())


class AccountRepository(Repository[Account]):
    model = Account

    def by_account_id(self, account_id: str) -> Account | None:
        stmt = select(Account).where(col(Account.account_id) == account_id)
        return self._session.scalars(stmt).first()


class TradeReportRepository(Repository[TradeReport]):
    model = TradeReport

    def for_date(self, report_date: dt.date) -> Sequence[TradeReport]:
        stmt = select(TradeReport).where(col(TradeReport.report_date) == report_date)
        return list(self._session.scalars(stmt).all())


class MistakeRepository(Repository[MistakeEntry]):
    model = MistakeEntry

    def counts_by_category(self) -> dict[str, int]:
        stmt = select(col(MistakeEntry.category), func.count()).group_by(col(MistakeEntry.category))
        return {str(category): int(n) for category, n in self._session.execute(stmt)}


class OptionsStrategyRepository(Repository[OptionsStrategy]):
    model = OptionsStrategy


class BrokerConfigRepository(Repository[BrokerConfig]):
    model = BrokerConfig

    def for_broker(self, broker: str) -> BrokerConfig | None:
        stmt = select(BrokerConfig).where(col(BrokerConfig.broker) == broker)
        return self._session.scalars(stmt).first()


class BankImportConfigRepository(Repository[BankImportConfig]):
    model = BankImportConfig

    def by_name(self, name: str) -> BankImportConfig | None:
        stmt = select(BankImportConfig).where(col(BankImportConfig.name) == name)
        return self._session.scalars(stmt).first()
