"""Operator control: the journal of control actions (who, what, when), tickers paused by
an operator, positions an operator asked to flatten.

Revision ID: 0004_operator_control
Revises: 0003_journal_detail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_operator_control"
down_revision = "0003_journal_detail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("control_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_control_actions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_control_actions_action"), ["action"], unique=False)
    op.create_table(
        "ticker_pauses",
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("ticker"),
    )
    op.create_table(
        "flatten_requests",
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("ticker", sa.String(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["position_id"], ["positions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("position_id"),
    )


def downgrade() -> None:
    op.drop_table("flatten_requests")
    op.drop_table("ticker_pauses")
    with op.batch_alter_table("control_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_control_actions_action"))
        batch_op.drop_index(batch_op.f("ix_control_actions_at"))
    op.drop_table("control_actions")
