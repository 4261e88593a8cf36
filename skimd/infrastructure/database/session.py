"""SessionManager and the unit of work.

``with sessions.unit_of_work() as uow:`` opens one session (one ``BEGIN IMMEDIATE``
transaction), exposes every repository on ``uow``, commits when the block ends normally,
rolls back on any exception, and always closes. Repositories only flush.

``unit_of_work(read_only=True)`` begins DEFERRED and never commits: for status pages and
reports that must not take the write lock. Its changes are never kept; in a ``shared``
database (whose readers' connections cannot write) they are not even flushed: they stay in
the session and are dropped with it.

Driver errors leaving the block are translated: a constraint violation becomes
:class:`skimd.errors.IntegrityError`, a lock that outlived ``busy_timeout`` becomes
:class:`skimd.errors.TransientError` (retry later; nothing was written).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlmodel import Session

from skimd.errors import DatabaseError, IntegrityError, TransientError

from .crypto import LazyFernet
from .repositories import (
    AccountRepository,
    AlertOutboxRepository,
    BalanceSnapshotRepository,
    BankImportConfigRepository,
    BankTransactionRepository,
    BrokerConfigRepository,
    CandidateRepository,
    ExcursionRepository,
    GuardRepository,
    HistoricalPriceRepository,
    IdentifierCacheRepository,
    ImageRepository,
    JobRunRepository,
    LedgerRepository,
    MistakeRepository,
    OptionsStrategyRepository,
    OrderIntentRepository,
    PositionRepository,
    ProviderSettingsRepository,
    RoundTripRepository,
    SettingsRepository,
    TradePlanRepository,
    TradeReportRepository,
    TradeRepository,
    WatchlistRepository,
)


class UnitOfWork:
    """One transaction's session and every repository bound to it."""

    def __init__(self, session: Session, fernet: LazyFernet | None) -> None:
        self.session = session
        # trading
        self.candidates = CandidateRepository(session)
        self.positions = PositionRepository(session)
        self.orders = OrderIntentRepository(session)
        self.outbox = AlertOutboxRepository(session)
        self.job_runs = JobRunRepository(session)
        self.guard = GuardRepository(session)
        self.prices = HistoricalPriceRepository(session)
        # journal
        self.trades = TradeRepository(session)
        self.round_trips = RoundTripRepository(session)
        self.images = ImageRepository(session)
        self.reports = TradeReportRepository(session)
        self.plans = TradePlanRepository(session)
        self.balances = BalanceSnapshotRepository(session)
        self.ledger = LedgerRepository(session)
        self.excursions = ExcursionRepository(session)
        self.mistakes = MistakeRepository(session)
        self.accounts = AccountRepository(session)
        self.watchlists = WatchlistRepository(session)
        self.options = OptionsStrategyRepository(session)
        self.broker_configs = BrokerConfigRepository(session)
        self.bank = BankTransactionRepository(session)
        self.bank_import_configs = BankImportConfigRepository(session)
        self.settings = SettingsRepository(session)
        self.providers = ProviderSettingsRepository(session, fernet)
        self.identifiers = IdentifierCacheRepository(session)


class _UnflushedSession(Session):
    """A session over connections that cannot write: changes are kept in memory only."""

    def flush(self, objects: Any = None) -> None:
        return None


class SessionManager:
    def __init__(
        self,
        engine: Engine,
        read_only_engine: Engine,
        fernet: LazyFernet | None = None,
        *,
        readers_cannot_write: bool = False,
    ) -> None:
        self._engine = engine
        self._read_only_engine = read_only_engine
        self._fernet = fernet
        self._reader_session = _UnflushedSession if readers_cannot_write else Session

    @contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[UnitOfWork]:
        engine = self._read_only_engine if read_only else self._engine
        kind = self._reader_session if read_only else Session
        session = kind(engine, expire_on_commit=False, autoflush=True)
        try:
            yield UnitOfWork(session, self._fernet)
            if read_only:
                session.rollback()
            else:
                session.commit()
        except BaseException as exc:
            session.rollback()
            translated = _translate(exc)
            if translated is not None:
                raise translated from exc
            raise
        finally:
            session.close()

    __call__ = unit_of_work


def _translate(exc: BaseException) -> Exception | None:
    if isinstance(exc, sa_exc.IntegrityError):
        return IntegrityError(f"database constraint violated: {_driver_message(exc)}")
    if isinstance(exc, sa_exc.OperationalError):
        message = _driver_message(exc)
        if "locked" in message or "busy" in message:
            return TransientError(f"database busy: {message}; retry later")
        return DatabaseError(f"database error: {message}")
    return None


def _driver_message(exc: sa_exc.DBAPIError) -> str:
    """The driver's own one-line message (never bound parameter values)."""
    return str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
