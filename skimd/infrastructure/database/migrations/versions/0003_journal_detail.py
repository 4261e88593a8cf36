"""Journal detail: what a mistake cost, bank statements with debit/credit columns,
references and balances, and a trade report per round trip.

Revision ID: 0003_journal_detail
Revises: 0002_trading_day
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_journal_detail"
down_revision = "0002_trading_day"
branch_labels = None
depends_on = None


def _bank_config_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("debit_column", sa.String(), nullable=True),
        sa.Column("credit_column", sa.String(), nullable=True),
        sa.Column("reference_column", sa.String(), nullable=True),
        sa.Column("balance_column", sa.String(), nullable=True),
        sa.Column("skip_rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("has_header", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("amount_sign", sa.String(), nullable=False, server_default="credit_positive"),
        sa.Column("decimal_separator", sa.String(), nullable=False, server_default="."),
        sa.Column("thousands_separator", sa.String(), nullable=False, server_default=","),
        sa.Column("encoding", sa.String(), nullable=False, server_default="utf-8-sig"),
        sa.Column("currency", sa.String(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("mistake_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost", sa.Text(), nullable=True))
    with op.batch_alter_table("bank_import_configs", schema=None) as batch_op:
        for column in _bank_config_columns():
            batch_op.add_column(column)
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("balance", sa.Text(), nullable=True))
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_trip_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_trade_reports_round_trip_id"), ["round_trip_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_trade_reports_round_trip_id_round_trips"),
            "round_trips",
            ["round_trip_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_trade_reports_round_trip_id_round_trips"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_trade_reports_round_trip_id"))
        batch_op.drop_column("round_trip_id")
    with op.batch_alter_table("bank_transactions", schema=None) as batch_op:
        batch_op.drop_column("balance")
        batch_op.drop_column("reference")
    with op.batch_alter_table("bank_import_configs", schema=None) as batch_op:
        for column in reversed(_bank_config_columns()):
            batch_op.drop_column(column.name)
    with op.batch_alter_table("mistake_entries", schema=None) as batch_op:
        batch_op.drop_column("cost")
