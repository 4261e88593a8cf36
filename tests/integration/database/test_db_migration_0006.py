"""Revision 0006: app defaults with a value type, seeded. A fresh database and one migrated
from 0005 (with an app default of its own) hold the shipped defaults, typed; the trader's
setting wins over them; downgrading takes the seeded rows and the column back out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from skimd.domain.preferences import (
    APP_DEFAULTS,
    BANK_CURRENCY,
    STATS_GROUP_BY,
    WEB_PAGE_SIZE,
    WEB_RECENT_ALERTS,
)
from skimd.infrastructure.database import TradingDatabase, check_schema, upgrade
from skimd.infrastructure.database.migrate import MIGRATIONS_DIR, bring_to_head
from skimd.infrastructure.database.repositories.preferences import encode_setting
from skimd.infrastructure.database.tables import AppDefault

AT = "2026-11-24T00:30:00.000000+00:00"
SHIPPED = {p.key: encode_setting(p.default) for p in APP_DEFAULTS}


def defaults_of(db: TradingDatabase) -> dict[str, tuple[str, str]]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT key, value, value_type FROM app_defaults")).all()
    return {key: (value, kind) for key, value, kind in rows}


def test_a_fresh_database_and_a_migrated_one_hold_the_same_typed_defaults(
    tmp_path: Path,
) -> None:
    fresh = TradingDatabase(tmp_path / "fresh.db", None, create=True)
    migrated = TradingDatabase(tmp_path / "migrated.db", None, create=True)
    try:
        assert bring_to_head(fresh) == "created"
        upgrade(migrated)
        assert defaults_of(fresh) == defaults_of(migrated) == SHIPPED
        assert SHIPPED["web.page_size"] == ("100", "int")
        with fresh.unit_of_work(read_only=True) as uow:
            assert uow.settings.preference(WEB_PAGE_SIZE) == 100
            assert uow.settings.preference(WEB_RECENT_ALERTS) == 20
            assert uow.settings.preference(STATS_GROUP_BY) == "none"
            assert uow.settings.preference(BANK_CURRENCY) == "AUD"
    finally:
        fresh.close()
        migrated.close()


def test_0006_migrates_a_0005_database_keeping_its_own_default(tmp_path: Path) -> None:
    db = TradingDatabase(tmp_path / "old.db", None, create=True)
    try:
        upgrade(db, "0005_journal_spec")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO app_defaults (key, value) VALUES"
                              " ('web.page_size', '50'), ('gap', '4.5')"))
            conn.execute(text("INSERT INTO settings (key, value, value_type, updated_at)"
                              " VALUES ('stats.group_by', '\"week\"', 'str', :at)"), {"at": AT})
        assert bring_to_head(db) == "migrated"
        check_schema(db)
        stored = defaults_of(db)
        assert stored["web.page_size"] == ("50", "json")  # not overwritten by the seed
        assert stored["gap"] == ("4.5", "json")
        assert stored["bank.currency"] == ('"AUD"', "str")
        with db.unit_of_work(read_only=True) as uow:
            assert uow.settings.preference(WEB_PAGE_SIZE) == 50
            assert uow.settings.resolve("gap") == 4.5
            assert uow.settings.preference(STATS_GROUP_BY) == "week"  # the trader's
            assert uow.settings.preference(WEB_RECENT_ALERTS) == 20
    finally:
        db.close()


def test_defaults_round_trip_typed_and_a_wrong_type_falls_through(
    tmp_path: Path,
) -> None:
    db = TradingDatabase(tmp_path / "typed.db", None, create=True)
    now = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
    try:
        bring_to_head(db)
        with db.unit_of_work() as uow:
            uow.settings.set_default("fee", Decimal("6.60"))
            uow.settings.set_default("web.recent_alerts", 5)
            uow.settings.set_user("web.page_size", "lots", now)  # wrong type: skipped
            uow.settings.set_user("stats.group_by", "fortnight", now)  # not a choice
            uow.settings.set_default("stats.group_by", "month")
        with db.unit_of_work(read_only=True) as uow:
            fee = uow.settings.resolve("fee")
            assert isinstance(fee, Decimal) and fee == Decimal("6.60")
            row = uow.session.get(AppDefault, "fee")
            assert row is not None and row.value_type == "decimal"
            assert uow.settings.preference(WEB_RECENT_ALERTS) == 5
            assert uow.settings.preference(WEB_PAGE_SIZE) == 100  # the app default
            assert uow.settings.preference(STATS_GROUP_BY) == "month"
        with db.unit_of_work() as uow:
            uow.settings.set_user("web.page_size", 0, now)  # below the minimum
            uow.session.execute(text("DELETE FROM app_defaults WHERE key = 'web.page_size'"))
        with db.unit_of_work(read_only=True) as uow:
            assert uow.settings.preference(WEB_PAGE_SIZE) == WEB_PAGE_SIZE.default
    finally:
        db.close()


def test_0006_downgrades_to_0005_without_the_seeded_rows(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from alembic import command
    from alembic.config import Config

    db = TradingDatabase(tmp_path_factory.mktemp("down") / "down.db", None, create=True)
    try:
        upgrade(db, "0005_journal_spec")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO app_defaults (key, value) VALUES ('gap', '4.5')"))
        upgrade(db, "0006_app_defaults")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005_journal_spec")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("app_defaults")}
            rows = conn.execute(text("SELECT key, value FROM app_defaults")).all()
        assert columns == {"key", "value"} and [tuple(r) for r in rows] == [("gap", "4.5")]
    finally:
        db.close()
