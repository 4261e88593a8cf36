"""The packaged Alembic revision matches the models, and check_schema guards `skimd run`."""

from __future__ import annotations

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
