"""The journal specification's fields that carry the trader's information.

- trade_reports: the trader's review (setup/execution quality 1-5, followed plan,
  emotional state, lessons learned, tags as a JSON list);
- images: any owner, ``(owner_type, owner_id)`` with owner_type trade | report | plan,
  instead of the trade_id/report_id columns; caption; file size (filled from the stored
  bytes);
- accounts: account type, institution, tax-advantaged, notes;
- trade_plans: direction, conviction, strategy name/description, entry/exit conditions,
  timeframe, account;
- watchlists: description, updated_at (earlier rows: their created_at);
- bank_transactions: post date (earlier rows: posted_on), category, source (earlier rows:
  csv when they came through an import config, else ofx), import batch id;
- excursion_metrics: MFE/MAE/BSO in percent of the entry and the price path's source
  (None on earlier rows: the entry average they used was not kept);
- settings: the value's type (earlier rows: json, which is how they were written);
- options_strategies: type, net debit/credit, max profit, max loss, breakevens (filled
  when the end of day next sees the strategy);
- market_provider_settings: rate limit, timeout and the last connection test (when, ok,
  message);
- mcp_guard: the cap columns go (nothing wrote or read them; the caps are config).

Only tables no foreign key points at are copied and moved (mcp_guard, images): the
connection has foreign_keys=ON, and dropping a referenced table would cascade.

Revision ID: 0005_journal_spec
Revises: 0004_operator_control
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0005_journal_spec"
down_revision = "0004_operator_control"
branch_labels = None
depends_on = None


def _review_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("setup_quality", sa.Integer(), nullable=True),
        sa.Column("execution_quality", sa.Integer(), nullable=True),
        sa.Column("followed_plan", sa.Boolean(), nullable=True),
        sa.Column("emotional_state", sa.String(), nullable=True),
        sa.Column("lessons_learned", sa.String(), nullable=True),
        sa.Column("tags", sa.String(), nullable=False, server_default="[]"),
    ]


def _account_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("account_type", sa.String(), nullable=True),
        sa.Column("institution", sa.String(), nullable=True),
        sa.Column("tax_advantaged", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("notes", sa.String(), nullable=True),
    ]


def _plan_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("direction", sa.String(), nullable=False, server_default="long"),
        sa.Column("conviction", sa.String(), nullable=True),
        sa.Column("strategy_name", sa.String(), nullable=True),
        sa.Column("strategy_description", sa.String(), nullable=True),
        sa.Column("entry_conditions", sa.String(), nullable=True),
        sa.Column("exit_conditions", sa.String(), nullable=True),
        sa.Column("timeframe", sa.String(), nullable=True),
        sa.Column("account", sa.String(), nullable=True),
    ]


def _bank_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("post_date", sa.Date(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("import_batch_id", sa.String(), nullable=True),
    ]


def _excursion_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("mfe_pct", sa.Text(), nullable=True),
        sa.Column("mae_pct", sa.Text(), nullable=True),
        sa.Column("bso_pct", sa.Text(), nullable=True),
        sa.Column("data_source", sa.String(), nullable=True),
    ]


def _provider_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column("timeout_s", sa.Text(), nullable=True),
        sa.Column("last_tested_at", sa.Text(), nullable=True),
        sa.Column("last_test_ok", sa.Boolean(), nullable=True),
        sa.Column("last_test_message", sa.String(), nullable=True),
    ]


def _options_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("strategy_type", sa.String(), nullable=True),
        sa.Column("net_debit_credit", sa.Text(), nullable=True),
        sa.Column("max_profit", sa.Text(), nullable=True),
        sa.Column("max_loss", sa.Text(), nullable=True),
        sa.Column("breakevens", sa.String(), nullable=False, server_default="[]"),
    ]


def _guard_caps() -> list[sa.Column[object]]:
    return [
        sa.Column("max_orders_per_day", sa.Integer(), nullable=True),
        sa.Column("max_calls_per_minute", sa.Integer(), nullable=True),
        sa.Column("daily_loss_cap", sa.Text(), nullable=True),
    ]


_EPOCH = "1970-01-01T00:00:00.000000+00:00"


def _images_table(name: str, *, owner: bool) -> None:
    """The images table as revision 0005 has it (``owner``) or as 0001 made it."""
    if owner:
        head: list[SchemaItem] = [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("owner_type", sa.String(), nullable=False),
            sa.Column("owner_id", sa.Integer(), nullable=False),
            sa.Column("caption", sa.String(), nullable=True),
            sa.Column("file_size", sa.Integer(), nullable=False),
        ]
        keys: list[SchemaItem] = []
    else:
        head = [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("trade_id", sa.Integer(), nullable=True),
            sa.Column("report_id", sa.Integer(), nullable=True),
        ]
        keys = [
            sa.ForeignKeyConstraint(["report_id"], ["trade_reports.id"], ondelete="CASCADE"),
            sa.ForeignKeyConstraint(["trade_id"], ["trades.id"], ondelete="CASCADE"),
        ]
    op.create_table(
        name,
        *head,
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("mime", sa.String(), nullable=False),
        sa.Column("bytes", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=False),
        sa.Column("thumb_width", sa.Integer(), nullable=False),
        sa.Column("thumb_height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        *keys,
        sa.PrimaryKeyConstraint("id"),
    )


def upgrade() -> None:
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        for column in _review_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for column in _account_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("trade_plans", schema=None) as batch_op:
        for column in _plan_columns():
            batch_op.add_column(column)

    # Never copy-and-move watchlists: with foreign_keys=ON (it cannot be switched off
    # inside the migration's transaction) dropping the old table would cascade-delete
    # watchlist_items. ADD COLUMN NOT NULL needs a default; every row then gets its own.
    with op.batch_alter_table("watchlists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column("updated_at", sa.Text(), nullable=False, server_default=_EPOCH)
        )
    op.execute("UPDATE watchlists SET updated_at = created_at")

    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        for column in _bank_columns():
            batch_op.add_column(column)
        batch_op.create_index(
            batch_op.f("ix_bank_transactions_import_batch_id"), ["import_batch_id"], unique=False
        )
    op.execute(
        "UPDATE bank_transactions SET post_date = posted_on, source = CASE WHEN"
        " import_config_id IS NULL THEN 'ofx' ELSE 'csv' END"
    )

    with op.batch_alter_table("excursion_metrics", schema=None) as batch_op:
        for column in _excursion_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("value_type", sa.String(), nullable=False, server_default="json")
        )
    with op.batch_alter_table("market_provider_settings", schema=None) as batch_op:
        for column in _provider_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("options_strategies", schema=None) as batch_op:
        for column in _options_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("mcp_guard", schema=None) as batch_op:
        for column in reversed(_guard_caps()):
            batch_op.drop_column(column.name)

    # images: a new table (SQLite cannot drop the unnamed foreign keys in place)
    _images_table("images_0005", owner=True)
    op.execute(
        "INSERT INTO images_0005 (id, owner_type, owner_id, caption, file_size, kind, mime,"
        " bytes, width, height, thumbnail, thumb_width, thumb_height, created_at)"
        " SELECT id, CASE WHEN report_id IS NOT NULL THEN 'report'"
        " WHEN trade_id IS NOT NULL THEN 'trade' ELSE 'none' END,"
        " COALESCE(report_id, trade_id, 0), NULL, length(bytes), kind, mime, bytes, width,"
        " height, thumbnail, thumb_width, thumb_height, created_at FROM images"
    )
    op.drop_table("images")
    op.rename_table("images_0005", "images")
    op.create_index("ix_images_owner", "images", ["owner_type", "owner_id"], unique=False)


def _drop_columns(table: str, names: list[str]) -> None:
    """SQLite's own DROP COLUMN (3.35+): no copy-and-move, so nothing cascades."""
    for name in names:
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{name}"')


def downgrade() -> None:
    op.drop_index("ix_images_owner", table_name="images")
    _images_table("images_0004", owner=False)
    op.execute(  # plan screenshots have no place before 0005 and are dropped
        "INSERT INTO images_0004 (id, trade_id, report_id, kind, mime, bytes, width, height,"
        " thumbnail, thumb_width, thumb_height, created_at)"
        " SELECT id, CASE WHEN owner_type = 'trade' THEN owner_id END,"
        " CASE WHEN owner_type = 'report' THEN owner_id END, kind, mime, bytes, width,"
        " height, thumbnail, thumb_width, thumb_height, created_at FROM images"
        " WHERE owner_type IN ('trade', 'report')"
    )
    op.drop_table("images")
    op.rename_table("images_0004", "images")

    with op.batch_alter_table("mcp_guard", schema=None) as batch_op:
        for column in _guard_caps():
            batch_op.add_column(column)
    _drop_columns("options_strategies", [c.name for c in _options_columns()])
    _drop_columns("market_provider_settings", [c.name for c in _provider_columns()])
    _drop_columns("settings", ["value_type"])
    _drop_columns("excursion_metrics", [c.name for c in _excursion_columns()])
    op.drop_index("ix_bank_transactions_import_batch_id", table_name="bank_transactions")
    _drop_columns("bank_transactions", [c.name for c in _bank_columns()])
    _drop_columns("watchlists", ["updated_at", "description"])
    _drop_columns("trade_plans", [c.name for c in _plan_columns()])
    _drop_columns("accounts", [c.name for c in _account_columns()])
    _drop_columns("trade_reports", [c.name for c in _review_columns()])
