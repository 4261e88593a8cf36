"""Revision 0005 on a database made by the previous schema: created at 0004 with the real
migrations, rows put into every table 0005 changes, upgraded; the rows survive, the new
columns are there with the values 0005 gives earlier rows, and the new fields round-trip
through the models and repositories."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage
from sqlalchemy import inspect, select, text

from skimd.infrastructure.database import TradingDatabase, check_schema, head_revision, upgrade
from skimd.infrastructure.database.migrate import bring_to_head, current_revision
from skimd.infrastructure.database.tables import (
    Account,
    BankTransaction,
    ExcursionMetric,
    Image,
    OrderGuard,
    TradePlan,
    TradeReport,
    UserSetting,
    Watchlist,
    WatchlistItem,
)

AT = "2026-11-24T00:30:00.000000+00:00"


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (40, 30), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _old_rows(db: TradingDatabase, image: bytes) -> None:
    rows = [
        "INSERT INTO accounts (id, account_id, name, broker, currency, created_at)"
        " VALUES (1, 'U1', 'main', 'ibkr', 'AUD', :at)",
        "INSERT INTO round_trips (id, account, ticker, status, qty, entry_avg, fees, opened_at)"
        " VALUES (1, 'U1', 'BHP', 'open', '100', '45.10', '6', :at)",
        "INSERT INTO trades (id, exec_id, ticker, side, qty, price, commission, currency,"
        " executed_at, round_trip_id) VALUES (1, 'E1', 'BHP', 'BUY', '100', '45.10', '6',"
        " 'AUD', :at, 1)",
        "INSERT INTO trade_reports (id, report_date, title, body, created_at, round_trip_id)"
        " VALUES (1, '2026-11-24', 'BHP', '# BHP', :at, 1)",
        "INSERT INTO images (id, trade_id, report_id, kind, mime, bytes, width, height,"
        " thumbnail, thumb_width, thumb_height, created_at) VALUES"
        " (1, NULL, 1, 'chart', 'image/png', :img, 40, 30, :img, 40, 30, :at),"
        " (2, 1, NULL, 'chart', 'image/png', :img, 40, 30, :img, 40, 30, :at)",
        "INSERT INTO trade_plans (id, ticker, entry, stop, status, created_at, updated_at)"
        " VALUES (1, 'BHP', '45.05', '44.50', 'executed', :at, :at)",
        "INSERT INTO watchlists (id, name, created_at) VALUES (1, 'gappers', :at)",
        "INSERT INTO watchlist_items (id, watchlist_id, ticker, added_at)"
        " VALUES (1, 1, 'BHP', :at)",
        "INSERT INTO bank_import_configs (id, name, date_column, amount_column,"
        " description_column, date_format, delimiter, created_at)"
        " VALUES (1, 'cba', 'Date', 'Amount', 'Description', '%d/%m/%Y', ',', :at)",
        "INSERT INTO bank_transactions (id, hash, account, posted_on, amount, currency,"
        " description, imported_at, import_config_id) VALUES"
        " (1, 'h1', 'cba', '2026-11-20', '-12.50', 'AUD', 'fee', :at, 1),"
        " (2, 'h2', 'ofx', '2026-11-21', '100', 'AUD', 'interest', :at, NULL)",
        "INSERT INTO excursion_metrics (id, trade_id, mfe, mae, bso, computed_at)"
        " VALUES (1, 1, '90.00', '-20.00', NULL, :at)",
        "INSERT INTO settings (key, value, updated_at) VALUES ('gap', '4.5', :at)",
        "INSERT INTO mcp_guard (id, locked, reason, max_orders_per_day, daily_loss_cap)"
        " VALUES (1, 1, 'loss cap', 20, '1500')",
        "INSERT INTO market_provider_settings (id, provider, enabled, updated_at)"
        " VALUES (1, 'marketdata', 1, :at)",
        "INSERT INTO options_strategies (id, name, underlying, legs, status, opened_at)"
        " VALUES (1, 'long call', 'BHP', '[]', 'open', :at)",
    ]
    with db.engine.begin() as conn:
        for sql in rows:
            conn.execute(text(sql), {"at": AT, "img": image})


def test_0005_migrates_a_0004_database_with_rows_in_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    image = png()
    db = TradingDatabase(tmp_path_factory.mktemp("at0004") / "old.db", None, create=True)
    try:
        upgrade(db, "0004_operator_control")
        _old_rows(db, image)
        assert bring_to_head(db) == "migrated"
        assert current_revision(db) == head_revision()  # 0005 and every later one
        check_schema(db)
        with db.engine.connect() as conn:
            guard_columns = {c["name"] for c in inspect(conn).get_columns("mcp_guard")}
        assert guard_columns == {"id", "locked", "reason", "changed_at"}

        with db.unit_of_work(read_only=True) as uow:
            s = uow.session
            report = s.get(TradeReport, 1)
            assert report is not None and report.body == "# BHP"
            assert (report.setup_quality, report.followed_plan, report.tags) == (None, None, "[]")
            images = s.scalars(select(Image).order_by(Image.id)).all()  # type: ignore[arg-type]
            assert [(i.owner_type, i.owner_id, i.file_size, i.caption) for i in images] == [
                ("report", 1, len(image), None), ("trade", 1, len(image), None)]
            assert images[0].data == image
            assert uow.images.get_for_owner("report", 1)[0].id == 1
            account = s.get(Account, 1)
            assert account is not None and account.tax_advantaged is False
            assert account.account_type is None and account.name == "main"
            plan = s.get(TradePlan, 1)
            assert plan is not None and (plan.direction, plan.stop) == ("long", Decimal("44.50"))
            watchlist = s.get(Watchlist, 1)
            assert watchlist is not None and watchlist.description is None
            assert watchlist.updated_at == watchlist.created_at == datetime(2026, 11, 24, 0, 30,
                                                                            tzinfo=UTC)
            assert s.get(WatchlistItem, 1) is not None  # not cascaded away
            bank = s.scalars(select(BankTransaction).order_by(BankTransaction.id)).all()  # type: ignore[arg-type]
            assert [(b.post_date, b.source, b.import_batch_id, b.amount) for b in bank] == [
                (date(2026, 11, 20), "csv", None, Decimal("-12.50")),
                (date(2026, 11, 21), "ofx", None, Decimal("100")),
            ]
            exc = s.get(ExcursionMetric, 1)
            assert exc is not None and exc.mfe == Decimal("90.00")
            assert (exc.mfe_pct, exc.data_source) == (None, None)
            setting = s.get(UserSetting, "gap")
            assert setting is not None and setting.value_type == "json"
            assert uow.settings.resolve("gap") == 4.5
            provider = uow.providers.by_provider("marketdata")
            assert provider is not None and provider.enabled is True
            assert (provider.rate_limit_per_minute, provider.last_tested_at) == (None, None)
            (strategy,) = uow.options.list_all()
            assert (strategy.name, strategy.strategy_type, strategy.max_loss,
                    strategy.breakevens) == ("long call", None, None, "[]")
            guard = s.get(OrderGuard, 1)
            assert guard is not None and (guard.locked, guard.reason) == (True, "loss cap")
    finally:
        db.close()


def test_0005_downgrades_back_to_0004_keeping_report_and_trade_images(tmp_path: Path) -> None:
    image = png()
    db = TradingDatabase(tmp_path / "down.db", None, create=True)
    try:
        upgrade(db, "0004_operator_control")
        _old_rows(db, image)
        upgrade(db)
        from alembic import command
        from alembic.config import Config

        from skimd.infrastructure.database.migrate import MIGRATIONS_DIR

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004_operator_control")
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, trade_id, report_id FROM images ORDER BY id")
            ).all()
            items = conn.execute(text("SELECT count(*) FROM watchlist_items")).scalar()
        assert [tuple(r) for r in rows] == [(1, None, 1), (2, 1, None)] and items == 1
    finally:
        db.close()
