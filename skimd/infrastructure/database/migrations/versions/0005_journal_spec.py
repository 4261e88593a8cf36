"""The journal specification's fields: the trader's review on trade reports.

Revision ID: 0005_journal_spec
Revises: 0004_operator_control
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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


def upgrade() -> None:
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        for column in _review_columns():
            batch_op.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("trade_reports", schema=None) as batch_op:
        for column in reversed(_review_columns()):
            batch_op.drop_column(column.name)
