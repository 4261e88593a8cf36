"""Run and check the Alembic migrations against a :class:`BaseDatabase`'s own engine.

No ``alembic.ini``: the script directory is this package's ``migrations/`` folder and the
connection comes from the keyed engine, so migrations work on an encrypted file.
"""

from __future__ import annotations

import ast
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


def bring_to_head(db: BaseDatabase) -> str:
    """Make ``db`` current; returns what was done (``"current"``, ``"created"``,
    ``"migrated"``).

    A database already at head is left alone and a brand-new (empty) one is created from
    the models and stamped at head, both without importing alembic (~12 MB resident, which
    the daemon would keep for its whole life); only an older schema runs the migrations.
    The models and the migrations are kept identical by a test.
    """
    head = _packaged_head()
    stored = _stored_revision(db)
    if stored == head:
        return "current"
    if stored is None and _is_empty(db):
        create_fresh(db, head)
        return "created"
    upgrade(db)
    return "migrated"


def create_fresh(db: BaseDatabase, head: str) -> None:
    """Tables and indexes from the models, the app defaults
    (:data:`~skimd.domain.preferences.APP_DEFAULTS`, as the migrations seed them) and the
    alembic stamp, in one transaction."""
    from sqlalchemy import text

    from skimd.domain.preferences import APP_DEFAULTS

    from .repositories.preferences import encode_setting
    from .tables import metadata

    with db.engine.begin() as conn:
        metadata.create_all(conn)
        for preference in APP_DEFAULTS:
            value, kind = encode_setting(preference.default)
            conn.execute(
                text("INSERT INTO app_defaults (key, value, value_type) VALUES (:k, :v, :t)"),
                {"k": preference.key, "v": value, "t": kind},
            )
        conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})


def _is_empty(db: BaseDatabase) -> bool:
    from sqlalchemy import text

    with db.read_only_engine().connect() as conn:
        return conn.execute(text("SELECT 1 FROM sqlite_schema LIMIT 1")).first() is None


def _packaged_head() -> str:
    revisions = packaged_revisions()
    parents = {down for down in revisions.values() if down is not None}
    heads = [r for r in revisions if r not in parents]
    if len(heads) != 1:
        raise SchemaVersionError(f"packaged migrations have {len(heads)} heads: {heads}")
    return heads[0]


def packaged_revisions() -> dict[str, str | None]:
    """``revision -> down_revision`` of every packaged migration, read from the files'
    module-level assignments with :mod:`ast` (alembic is not imported: ~10 MB resident)."""
    found: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(value)
        revision, down = values.get("revision"), values.get("down_revision")
        if isinstance(revision, str):
            found[revision] = down if isinstance(down, str) else None
    return found


def _stored_revision(db: BaseDatabase) -> str | None:
    """``alembic_version.version_num`` read with plain SQL (None: never migrated)."""
    from sqlalchemy import text

    with db.read_only_engine().connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'alembic_version'")
        ).first()
        if exists is None:
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return None if row is None else str(row[0])


def check_schema(db: BaseDatabase) -> None:
    """Refuse to run on a database that is not exactly at this code's head revision.

    Runs at every daemon start, so it does without alembic: the packaged revisions are read
    from the migration files and the stored one with plain SQL."""
    revisions = packaged_revisions()
    heads = set(revisions) - {down for down in revisions.values() if down is not None}
    if len(heads) != 1:  # pragma: no cover - the package ships one linear history
        raise SchemaVersionError(f"packaged migrations have {len(heads)} heads, expected 1")
    (head,) = heads
    current = _stored_revision(db)
    if current == head:
        return
    if current is None:
        raise SchemaVersionError(f"database {db.path} is not migrated; run `skimd db init`")
    if current not in revisions:
        raise SchemaVersionError(
            f"database {db.path} is at revision {current}, newer than this code ({head})"
        )
    raise SchemaVersionError(
        f"database {db.path} is at revision {current}, older than this code ({head}); "
        "run `skimd db init`"
    )
