"""Initial schema: trading tables (candidates, positions, order intents, outbox, job runs,
price history) and the trade journal. Money and time columns are TEXT (see types.py).

Revision ID: 0001_initial
Revises: (none)
Create Date: 2025 (first release)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("broker", sa.String(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("payload", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Text(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("dedup_key", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_outbox_status"), ["status"], unique=False)

    op.create_table(
        "app_defaults",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "balance_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("cash", sa.Text(), nullable=False),
        sa.Column("equity", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("taken_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "date"),
    )
    op.create_table(
        "bank_import_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("date_column", sa.String(), nullable=False),
        sa.Column("amount_column", sa.String(), nullable=False),
        sa.Column("description_column", sa.String(), nullable=False),
        sa.Column("date_format", sa.String(), nullable=False),
        sa.Column("delimiter", sa.String(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "broker_configs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broker", sa.String(), nullable=False),
        sa.Column("settlement_days", sa.Integer(), nullable=False),
        sa.Column("commission_schedule", sa.String(), nullable=False),
        sa.Column("trading_hours", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broker"),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_date", sa.Date(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("gap_pct", sa.Text(), nullable=True),
        sa.Column("prev_close", sa.Text(), nullable=True),
        sa.Column("open_price", sa.Text(), nullable=True),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("news_headline", sa.String(), nullable=True),
        sa.Column("news_time", sa.Text(), nullable=True),
        sa.Column("price_sensitive", sa.Boolean(), nullable=False),
        sa.Column("orh", sa.Text(), nullable=True),
        sa.Column("orl", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scan_date", "ticker", "strategy"),
    )
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_candidates_scan_date"), ["scan_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_candidates_status"), ["status"], unique=False)

    op.create_table(
        "historical_prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("open", sa.Text(), nullable=False),
        sa.Column("high", sa.Text(), nullable=False),
        sa.Column("low", sa.Text(), nullable=False),
        sa.Column("close", sa.Text(), nullable=False),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticker", "date"),
    )
    op.create_table(
        "identifier_cache",
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=False),
        sa.Column("finished_at", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("message", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_job_runs_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "market_provider_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("api_key_encrypted", sa.String(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider"),
    )
    op.create_table(
        "mcp_guard",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("changed_at", sa.Text(), nullable=True),
        sa.Column("max_orders_per_day", sa.Integer(), nullable=True),
        sa.Column("max_calls_per_minute", sa.Integer(), nullable=True),
        sa.Column("daily_loss_cap", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "options_strategies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("underlying", sa.String(), nullable=False),
        sa.Column("legs", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("opened_at", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.Column("notes", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "round_trips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("qty", sa.Text(), nullable=False),
        sa.Column("entry_avg", sa.Text(), nullable=False),
        sa.Column("exit_avg", sa.Text(), nullable=True),
        sa.Column("gross_pnl", sa.Text(), nullable=True),
        sa.Column("fees", sa.Text(), nullable=False),
        sa.Column("net_pnl", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("round_trips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_round_trips_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_round_trips_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_round_trips_ticker"), ["ticker"], unique=False)

    op.create_table(
        "settings",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "trade_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trade_reports_report_date"), ["report_date"], unique=False
        )

    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "bank_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("imported_at", sa.Text(), nullable=False),
        sa.Column("import_config_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_config_id"], ["bank_import_configs.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_transactions_posted_on"), ["posted_on"], unique=False
        )

    op.create_table(
        "positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("avg_price", sa.Text(), nullable=False),
        sa.Column("stop", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("partial_exit_done", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_positions_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_positions_ticker"), ["ticker"], unique=False)

    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exec_id", sa.String(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("qty", sa.Text(), nullable=False),
        sa.Column("price", sa.Text(), nullable=False),
        sa.Column("commission", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("executed_at", sa.Text(), nullable=False),
        sa.Column("order_ref", sa.String(), nullable=True),
        sa.Column("client_order_id", sa.String(), nullable=True),
        sa.Column("round_trip_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["round_trip_id"], ["round_trips.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exec_id"),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trades_client_order_id"), ["client_order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_trades_executed_at"), ["executed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_trades_ticker"), ["ticker"], unique=False)

    op.create_table(
        "watchlist_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("added_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["watchlist_id"], ["watchlists.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("watchlist_id", "ticker"),
    )
    op.create_table(
        "excursion_metrics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=False),
        sa.Column("mfe", sa.Text(), nullable=False),
        sa.Column("mae", sa.Text(), nullable=False),
        sa.Column("bso", sa.Text(), nullable=True),
        sa.Column("computed_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trade_id"),
    )
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("mime", sa.String(), nullable=False),
        sa.Column("bytes", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("thumb_width", sa.Integer(), nullable=False),
        sa.Column("thumb_height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["trade_reports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mistake_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("round_trip_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["round_trip_id"], ["round_trips.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "order_intents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_order_id", sa.String(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("order_type", sa.String(), nullable=False),
        sa.Column("limit_price", sa.Text(), nullable=True),
        sa.Column("stop_price", sa.Text(), nullable=True),
        sa.Column("tif", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("broker_order_id", sa.String(), nullable=True),
        sa.Column("filled_qty", sa.Integer(), nullable=False),
        sa.Column("avg_fill_price", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.Text(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_order_id"),
    )
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_intents_broker_order_id"), ["broker_order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_intents_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_intents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_intents_ticker"), ["ticker"], unique=False)

    op.create_table(
        "trade_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("stop", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("notes", sa.String(), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["candidate_id"], ["candidates.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trade_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trade_plans_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_trade_plans_ticker"), ["ticker"], unique=False)

    op.create_table(
        "transaction_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(), nullable=True),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("amount", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.Text(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("transaction_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transaction_ledger_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transaction_ledger_occurred_at"), ["occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transaction_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transaction_ledger_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_transaction_ledger_kind"))

    op.drop_table("transaction_ledger")
    with op.batch_alter_table("trade_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trade_plans_ticker"))
        batch_op.drop_index(batch_op.f("ix_trade_plans_status"))

    op.drop_table("trade_plans")
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_intents_ticker"))
        batch_op.drop_index(batch_op.f("ix_order_intents_status"))
        batch_op.drop_index(batch_op.f("ix_order_intents_created_at"))
        batch_op.drop_index(batch_op.f("ix_order_intents_broker_order_id"))

    op.drop_table("order_intents")
    op.drop_table("mistake_entries")
    op.drop_table("images")
    op.drop_table("excursion_metrics")
    op.drop_table("watchlist_items")
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trades_ticker"))
        batch_op.drop_index(batch_op.f("ix_trades_executed_at"))
        batch_op.drop_index(batch_op.f("ix_trades_client_order_id"))

    op.drop_table("trades")
    with op.batch_alter_table("positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_positions_ticker"))
        batch_op.drop_index(batch_op.f("ix_positions_status"))

    op.drop_table("positions")
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_transactions_posted_on"))

    op.drop_table("bank_transactions")
    op.drop_table("watchlists")
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trade_reports_report_date"))

    op.drop_table("trade_reports")
    op.drop_table("settings")
    with op.batch_alter_table("round_trips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_trips_ticker"))
        batch_op.drop_index(batch_op.f("ix_round_trips_status"))
        batch_op.drop_index(batch_op.f("ix_round_trips_opened_at"))

    op.drop_table("round_trips")
    op.drop_table("options_strategies")
    op.drop_table("mcp_guard")
    op.drop_table("market_provider_settings")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_started_at"))
        batch_op.drop_index(batch_op.f("ix_job_runs_job_id"))

    op.drop_table("job_runs")
    op.drop_table("identifier_cache")
    op.drop_table("historical_prices")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_candidates_status"))
        batch_op.drop_index(batch_op.f("ix_candidates_scan_date"))

    op.drop_table("candidates")
    op.drop_table("broker_configs")
    op.drop_table("bank_import_configs")
    op.drop_table("balance_snapshots")
    op.drop_table("app_defaults")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_alert_outbox_next_attempt_at"))

    op.drop_table("alert_outbox")
    op.drop_table("accounts")
