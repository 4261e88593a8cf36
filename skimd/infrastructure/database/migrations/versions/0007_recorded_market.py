"""Recorded market days: the tape of quotes the daemon polled (and the gaps its scanner
reported), one-minute bars (fetched for excursions or imported from CSV), announcements.
Daily bars stay in ``historical_prices``. See skimd.infrastructure.database.tables.recorded.

Revision ID: 0007_recorded_market
Revises: 0005_journal_spec
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_recorded_market"
down_revision = "0006_app_defaults"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recorded_quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        *(_money(n, True) for n in ("last", "bid", "ask", "open", "high", "low", "prev_close")),
        sa.Column("volume", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("symbol", "at", "kind"),
    )
    with op.batch_alter_table("recorded_quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recorded_quotes_day"), ["day"], unique=False)
    op.create_table(
        "recorded_bars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("conid", sa.Integer(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        *(_money(n, False) for n in ("open", "high", "low", "close")),
        sa.Column("volume", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("symbol", "minutes", "at"),
    )
    with op.batch_alter_table("recorded_bars", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recorded_bars_day"), ["day"], unique=False)
    op.create_table(
        "recorded_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("headline", sa.String(), nullable=False),
        sa.Column("released_at", sa.Text(), nullable=False),
        sa.Column("price_sensitive", sa.Boolean(), nullable=False),
        sa.Column("document_id", sa.String(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("symbol", "document_id", "released_at"),
    )
    with op.batch_alter_table("recorded_announcements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recorded_announcements_day"), ["day"], unique=False
        )


def downgrade() -> None:
    for table in ("recorded_announcements", "recorded_bars", "recorded_quotes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_day"))
        op.drop_table(table)
