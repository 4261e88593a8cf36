"""The packaged Alembic revision matches the models, and check_schema guards `skimd run`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from skimd.config import Settings
from skimd.errors import SchemaVersionError
from skimd.infrastructure.database import (
    BaseDatabase,
    TradingDatabase,
    check_schema,
    head_revision,
    upgrade,
)
from skimd.infrastructure.database.tables import metadata

SettingsFactory = Callable[..., Settings]


def test_migrated_database_matches_the_models(db: TradingDatabase) -> None:
    check_schema(db)
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_unmigrated_database_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("raw") / "empty.db"
    db = BaseDatabase(path, None, create=True)
    with pytest.raises(SchemaVersionError, match="is not migrated; run `skimd db init`"):
        check_schema(db)
    upgrade(db)
    check_schema(db)
    db.close()


def test_newer_database_is_refused(db: TradingDatabase) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    with pytest.raises(SchemaVersionError) as caught:
        check_schema(db)
    assert str(caught.value) == (
        f"database {db.path} is at revision ffff_future, newer than this code ({head_revision()})"
    )


def test_packaged_revisions_read_without_alembic_match_alembic() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from skimd.infrastructure.database.migrate import MIGRATIONS_DIR, packaged_revisions

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert packaged_revisions() == {r.revision: r.down_revision for r in script.walk_revisions()}


def test_older_database_is_refused(db: TradingDatabase) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_initial'"))
    with pytest.raises(SchemaVersionError, match=r"older than this code .*run `skimd db init`"):
        check_schema(db)


def test_check_schema_does_not_import_alembic(db: TradingDatabase) -> None:
    """The daemon checks the schema at every start; alembic + mako cost ~10 MB resident."""
    key = f"DatabaseKey(bytes.fromhex({db.key.raw.hex()!r}))" if db.key is not None else "None"
    script = (
        "import sys\n"
        "from skimd.infrastructure.database.base import BaseDatabase\n"
        "from skimd.infrastructure.database.crypto import DatabaseKey\n"
        "from skimd.infrastructure.database.migrate import check_schema\n"
        f"check_schema(BaseDatabase({str(db.path)!r}, {key}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def _schema(db: BaseDatabase) -> dict[str, object]:
    """Tables with their columns (name, type, nullability), indexes and foreign keys."""
    from sqlalchemy import inspect

    with db.engine.connect() as conn:
        insp = inspect(conn)
        return {
            table: (
                sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)),
                sorted(
                    (i["name"], tuple(i["column_names"]), i["unique"])
                    for i in insp.get_indexes(table)
                ),
                sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in insp.get_foreign_keys(table)
                ),
                sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            )
            for table in insp.get_table_names()
        }


def test_a_fresh_database_is_the_migrated_schema(tmp_path_factory: pytest.TempPathFactory) -> None:
    from skimd.infrastructure.database.migrate import bring_to_head

    folder = tmp_path_factory.mktemp("fresh")
    fresh = BaseDatabase(folder / "fresh.db", None, create=True)
    migrated = BaseDatabase(folder / "migrated.db", None, create=True)
    try:
        assert bring_to_head(fresh) == "created"
        upgrade(migrated)
        assert bring_to_head(migrated) == "current"
        check_schema(fresh)
        assert _schema(fresh) == _schema(migrated)
    finally:
        fresh.close()
        migrated.close()


def test_an_older_database_is_migrated(tmp_path_factory: pytest.TempPathFactory) -> None:
    from skimd.infrastructure.database.migrate import bring_to_head

    db = BaseDatabase(tmp_path_factory.mktemp("old") / "old.db", None, create=True)
    try:
        upgrade(db, "0001_initial")
        assert bring_to_head(db) == "migrated"
        check_schema(db)
    finally:
        db.close()


def test_the_operator_tables_come_with_0004_on_a_database_with_trading_in_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """0004 adds the control journal, ticker pauses and flatten requests to a database
    at 0003 that holds a position; the position survives and the new tables work."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from skimd.domain.control import ControlRecord, FlattenRequest, TickerPause
    from skimd.domain.trading import PositionRecord
    from skimd.infrastructure.database.migrate import bring_to_head, current_revision
    from skimd.infrastructure.database.trading_store import SqlTradingStore

    db = TradingDatabase(tmp_path_factory.mktemp("at0003") / "old.db", None, create=True)
    try:
        upgrade(db, "0003_journal_detail")
        at = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
        with db.unit_of_work() as uow:
            uow.session.execute(
                text(
                    "INSERT INTO positions (ticker, qty, avg_price, opened_at, status,"
                    " entry_date, partial_exit_done, paused) VALUES"
                    " ('BHP', 100, '45.10', :at, 'open', '2026-11-24', 0, 0)"
                ),
                {"at": at.isoformat()},
            )
        assert bring_to_head(db) == "migrated"
        assert current_revision(db) == head_revision()
        check_schema(db)
        store = SqlTradingStore(db.unit_of_work)
        with store.transaction() as tx:
            (held,) = tx.open_positions()
            assert (held.ticker, held.qty, held.avg_price) == ("BHP", 100, Decimal("45.10"))
            assert isinstance(held, PositionRecord) and held.id is not None
            tx.request_flatten(FlattenRequest(held.id, "BHP", at, 1001, "trader", "news"))
            tx.pause_ticker(TickerPause("CBA", at, 1001, "trader", "results"))
            tx.record_control(ControlRecord(at, 1001, "trader", "pause", "CBA (results)"))
        with store.read() as tx:
            assert [r.position_id for r in tx.flatten_requests()] == [held.id]
            assert [p.ticker for p in tx.paused_tickers()] == ["CBA"]
            assert [(c.action, c.at) for c in tx.control_actions()] == [("pause", at)]
            assert held.entry_date == date(2026, 11, 24)
    finally:
        db.close()
