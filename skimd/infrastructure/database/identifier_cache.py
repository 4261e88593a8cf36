"""The broker's :class:`~skimd.services.ports.broker.IdentifierCache` in the
database, so resolved conids survive restarts (the ``identifier_cache`` table).

Each ``get``/``put`` is its own short unit of work (a read-only one for ``get``), so the
cache never holds a transaction open across broker I/O. Symbols are normalised like the
in-memory cache (``.strip().upper()``); an entry is a miss from ``expires_at`` on.

A busy database (:class:`~skimd.errors.TransientError`) degrades to a miss on ``get`` and a
skipped write on ``put``, logged: the broker then asks the exchange, which is what a cache
miss means anyway. Any other database error propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

import structlog

from skimd.clock import Clock
from skimd.errors import TransientError

from .session import UnitOfWork

log = structlog.get_logger(__name__)

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlIdentifierCache:
    """``SqlIdentifierCache(db.unit_of_work, clock)``; ``clock`` stamps ``updated_at``."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock

    def get(self, symbol: str, now: datetime) -> int | None:
        key = _normalise(symbol)
        try:
            with self._unit_of_work(read_only=True) as uow:
                return uow.identifiers.get_conid(key, now)
        except TransientError as exc:
            log.warning("identifier cache read skipped", symbol=key, error=str(exc))
            return None

    def put(self, symbol: str, conid: int, expires_at: datetime) -> None:
        if expires_at.utcoffset() is None:
            raise ValueError("expires_at must be a timezone-aware datetime")
        key = _normalise(symbol)
        try:
            with self._unit_of_work() as uow:
                uow.identifiers.put(key, conid, expires_at, self._clock.now())
        except TransientError as exc:
            log.warning("identifier cache write skipped", symbol=key, error=str(exc))


def _normalise(symbol: str) -> str:
    return symbol.strip().upper()
