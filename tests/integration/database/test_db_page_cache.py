"""Every connection's page cache is bounded (SQLCipher's own default is 8 MiB each)."""

from __future__ import annotations

import pytest

from skimd.infrastructure.database import BaseDatabase, TradingDatabase


def test_pooled_and_raw_connections_use_a_2_mib_page_cache(db: TradingDatabase) -> None:
    with db.engine.connect() as a, db.read_only_engine().connect() as b:
        assert a.exec_driver_sql("PRAGMA cache_size").scalar() == -2048
        assert b.exec_driver_sql("PRAGMA cache_size").scalar() == -2048
    with db.raw_connection() as raw:  # backup / rekey use these
        assert raw.execute("PRAGMA cache_size").fetchone()[0] == -2048


def test_the_cache_bound_is_configurable(db: TradingDatabase) -> None:
    small = BaseDatabase(db.path, db.key, cache_kib=512)
    try:
        with small.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -512
    finally:
        small.close()
    with pytest.raises(ValueError, match="cache_kib"):
        BaseDatabase(db.path, db.key, cache_kib=0)
