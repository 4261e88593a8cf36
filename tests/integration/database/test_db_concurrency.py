"""WAL: a reader keeps reading the last committed state while a writer holds the lock."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from skimd.errors import TransientError
from skimd.infrastructure.database import TradingDatabase
from skimd.infrastructure.database.tables import Trade


def make_trade(exec_id: str, now: datetime) -> Trade:
    return Trade(
        exec_id=exec_id,
        ticker="BHP",
        side="BUY",
        qty=Decimal(1),
        price=Decimal("2.5"),
        executed_at=now,
    )


def test_reader_sees_committed_data_while_writer_works(db: TradingDatabase, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.trades.add_new(make_trade("COMMITTED", now))
    with db.unit_of_work() as writer:  # BEGIN IMMEDIATE: holds the write lock
        writer.trades.add_new(make_trade("IN-FLIGHT", now + timedelta(seconds=1)))
        with db.unit_of_work(read_only=True) as reader:  # another pooled connection
            assert reader.trades.exists("COMMITTED")
            assert not reader.trades.exists("IN-FLIGHT")
            assert reader.session.connection().connection.dbapi_connection is not (
                writer.session.connection().connection.dbapi_connection
            )
    with db.unit_of_work(read_only=True) as reader:
        assert reader.trades.exists("IN-FLIGHT")


def test_a_blocked_writer_gets_a_transient_error(db: TradingDatabase, now: datetime) -> None:
    impatient = TradingDatabase(db.path, db.key, busy_timeout_ms=0)
    with db.raw_connection() as holder:
        holder.execute("BEGIN IMMEDIATE")
        try:
            with (
                pytest.raises(TransientError, match="database busy"),
                impatient.unit_of_work() as uow,
            ):
                uow.trades.add_new(make_trade("BLOCKED", now))
            with impatient.unit_of_work(read_only=True) as reader:  # readers are not blocked
                assert reader.trades.list_all() == []
        finally:
            holder.execute("ROLLBACK")
    with impatient.unit_of_work() as uow:
        assert uow.trades.add_new(make_trade("LATER", now))
    impatient.close()
