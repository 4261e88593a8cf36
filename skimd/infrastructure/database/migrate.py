"""Run and check the Alembic migrations against a :class:`BaseDatabase`'s own engine.

No ``alembic.ini``: the script directory is this package's ``migrations/`` folder and the
connection comes from the keyed engine, so migrations work on an encrypted file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from skimd.errors import SchemaVersionError

from .base import BaseDatabase

if TYPE_CHECKING:
    from alembic.config import Config

# alembic (and mako) are imported inside the functions: the running daemon only needs
# them for the schema check, and keeping them out of import time keeps its RSS down.

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a revision
        raise SchemaVersionError("no migrations are packaged with this skimd")
    return head


def current_revision(db: BaseDatabase) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.read_only_engine().connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: BaseDatabase, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (SQLite DDL is transactional)."""
    from alembic import command

    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def check_schema(db: BaseDatabase) -> None:
    """Refuse to run on a database that is not exactly at this code's head revision."""
    from alembic.script import ScriptDirectory

    current = current_revision(db)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaVersionError(f"database {db.path} is not migrated; run `skimd db init`")
    script = ScriptDirectory.from_config(_config())
    try:
        script.get_revision(current)
    except Exception:  # alembic raises CommandError/ResolutionError for unknown ids
        raise SchemaVersionError(
            f"database {db.path} is at revision {current}, newer than this code ({head})"
        ) from None
    raise SchemaVersionError(
        f"database {db.path} is at revision {current}, older than this code ({head}); "
        "run `skimd db init`"
    )
