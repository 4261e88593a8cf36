"""App defaults with a value type, seeded.

- app_defaults: ``value_type`` as ``settings`` has it since 0005 (earlier rows: json, which
  is how they were written);
- the shipped defaults (:data:`skimd.domain.preferences.APP_DEFAULTS` at this revision)
  are inserted where the key is not there yet; a fresh database gets the same rows from
  :func:`skimd.infrastructure.database.migrate.create_fresh` (a test keeps them equal).
  The values are written out here, not imported: a migration stays what it was.

Revision ID: 0006_app_defaults
Revises: 0005_journal_spec
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_app_defaults"
down_revision = "0005_journal_spec"
branch_labels = None
depends_on = None

# key, JSON text, value type
SEEDED = (
    ("web.page_size", "100", "int"),
    ("web.recent_alerts", "20", "int"),
    ("stats.group_by", '"none"', "str"),
    ("bank.currency", '"AUD"', "str"),
)


def upgrade() -> None:
    with op.batch_alter_table("app_defaults", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("value_type", sa.String(), nullable=False, server_default="json")
        )
    insert = sa.text(
        "INSERT OR IGNORE INTO app_defaults (key, value, value_type) VALUES (:k, :v, :t)"
    )
    for key, value, kind in SEEDED:
        op.execute(insert.bindparams(k=key, v=value, t=kind))


def downgrade() -> None:
    delete = sa.text("DELETE FROM app_defaults WHERE key = :k AND value = :v")
    for key, value, _ in SEEDED:
        op.execute(delete.bindparams(k=key, v=value))
    with op.batch_alter_table("app_defaults", schema=None) as batch_op:
        batch_op.drop_column("value_type")
