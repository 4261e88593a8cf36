"""Trading day: when a candidate was first seen open (its opening range starts there) and
why each order intent exists (entry, resting stop, partial exit, trail, flatten).

Revision ID: 0002_trading_day
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_trading_day"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("range_start_at", sa.Text(), nullable=True))
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(), nullable=False, server_default="entry")
        )


def downgrade() -> None:
    with op.batch_alter_table("order_intents", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_column("range_start_at")
