"""The IdentifierCache contract, for the in-memory cache and the database-backed one."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.config import Settings
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.database import TradingDatabase, open_trading_database
from skimd.infrastructure.database.identifier_cache import SqlIdentifierCache
from skimd.services.ports.broker import IdentifierCache

NOW = datetime(2025, 3, 14, 23, 5, tzinfo=UTC)
SettingsFactory = Callable[..., Settings]  # the make_settings fixture (conftest)


@pytest.fixture(params=["memory", "sql-plain", "sql-sqlcipher"])
def cache(
    request: pytest.FixtureRequest,
    make_settings: SettingsFactory,
    migrated_template: dict[str, Path],
) -> Iterator[IdentifierCache]:
    if request.param == "memory":
        yield InMemoryIdentifierCache()
        return
    mode = request.param.removeprefix("sql-")
    settings = make_settings(encryption="off" if mode == "plain" else "sqlcipher")
    assert settings.paths.data_dir is not None
    shutil.copytree(migrated_template[mode], settings.paths.data_dir)
    db = open_trading_database(settings, create=False)
    yield SqlIdentifierCache(db.unit_of_work, SimulatedClock(NOW))
    db.close()


def test_a_fresh_entry_hits_until_it_expires(cache: IdentifierCache) -> None:
    cache.put("BHP", 4036812, NOW + timedelta(hours=1))
    assert cache.get("BHP", NOW) == 4036812
    assert cache.get("BHP", NOW + timedelta(minutes=59, seconds=59)) == 4036812
    assert cache.get("BHP", NOW + timedelta(hours=1)) is None  # at expires_at: a miss
    assert cache.get("CBA", NOW) is None


def test_symbols_are_normalised(cache: IdentifierCache) -> None:
    cache.put(" bhp ", 4036812, NOW + timedelta(hours=1))
    assert cache.get("BHP", NOW) == 4036812
    assert cache.get("bhp", NOW) == 4036812


def test_a_later_put_replaces_the_entry(cache: IdentifierCache) -> None:
    cache.put("BHP", 1, NOW + timedelta(hours=1))
    cache.put("BHP", 2, NOW + timedelta(days=1))
    assert cache.get("BHP", NOW + timedelta(hours=2)) == 2


def test_expiry_in_another_zone_means_the_same_instant(cache: IdentifierCache) -> None:
    sydney = (NOW + timedelta(hours=1)).astimezone(ZoneInfo("Australia/Sydney"))
    cache.put("CBA", 7, sydney)
    assert cache.get("CBA", NOW + timedelta(minutes=59)) == 7
    assert cache.get("CBA", NOW + timedelta(hours=1)) is None


def test_a_naive_expiry_is_refused(cache: IdentifierCache) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cache.put("BHP", 1, datetime(2025, 3, 15, 10, 0))


# -- database specifics ---------------------------------------------------------------------


def test_entries_survive_a_reopen(db: TradingDatabase) -> None:
    SqlIdentifierCache(db.unit_of_work, SimulatedClock(NOW)).put("WBC", 9, NOW + timedelta(days=7))
    reopened = TradingDatabase(db.path, db.key)
    try:
        assert SqlIdentifierCache(reopened.unit_of_work, SimulatedClock(NOW)).get("WBC", NOW) == 9
        with reopened.unit_of_work(read_only=True) as uow:
            row = uow.session.get(type(uow.identifiers).model, "WBC")
            assert row is not None and row.updated_at == NOW  # stamped from the clock
    finally:
        reopened.close()


def test_a_busy_database_degrades_to_a_miss_and_a_skipped_write(db: TradingDatabase) -> None:
    cache = SqlIdentifierCache(db.unit_of_work, SimulatedClock(NOW))
    cache.put("BHP", 1, NOW + timedelta(hours=1))
    impatient = TradingDatabase(db.path, db.key, busy_timeout_ms=0)
    blocked = SqlIdentifierCache(impatient.unit_of_work, SimulatedClock(NOW))
    try:
        with db.raw_connection() as holder:
            holder.execute("BEGIN IMMEDIATE")
            try:
                blocked.put("CBA", 2, NOW + timedelta(hours=1))  # no raise: skipped
                assert blocked.get("BHP", NOW) == 1  # WAL readers are not blocked
            finally:
                holder.execute("ROLLBACK")
        assert blocked.get("CBA", NOW) is None  # the skipped write left nothing
    finally:
        impatient.close()
