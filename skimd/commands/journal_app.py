"""The App every ``skimd journal`` action opens: shared access (never the daemon's lock;
writes are single short transactions) with quiet logging, so stdout is the answer.

``--db FILE`` points it at another journal database than ``[database] filename`` (a
``skimd backtest`` run's): same passphrase, its own salt file beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from skimd import bootstrap
from skimd.config import Settings


def quiet_logging(settings: Settings) -> None:
    """Log to stderr (stdout is the answer, JSON with ``--json``), warnings and worse
    only: the one result line is the command's story, as in ``skimd demo``."""
    if settings.logging.level in ("DEBUG", "INFO"):
        settings = settings.model_copy(
            update={"logging": settings.logging.model_copy(update={"level": "WARNING"})}
        )
    bootstrap.setup_logging(settings)


def db_option() -> argparse.ArgumentParser:
    """``--db FILE`` for every journal action (SUPPRESS: no default overwrites it)."""
    option = argparse.ArgumentParser(add_help=False)
    option.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="another journal database (e.g. a backtest's journal.db), same passphrase",
    )
    return option


def journal_app(args: argparse.Namespace) -> bootstrap.App:
    settings = bootstrap.settings_from(getattr(args, "config", None))
    db: Path | None = getattr(args, "db", None)
    if db is not None:
        database = settings.database.model_copy(update={"filename": str(db.resolve())})
        settings = settings.model_copy(update={"database": database})
    quiet_logging(settings)
    return bootstrap.build(settings, access=bootstrap.Access.SHARED)
