"""Alembic environment: always runs on a connection handed over by skimd (never a URL), so
the keyed SQLCipher engine of :class:`BaseDatabase` is the only way in."""

from __future__ import annotations

from alembic import context

from skimd.infrastructure.database.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("skimd migrations run only through skimd.infrastructure.database.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite alters tables by copy-and-move
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
