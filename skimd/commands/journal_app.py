"""The App every ``skimd journal`` action opens: shared access (never the daemon's lock;
writes are single short transactions) with quiet logging, so stdout is the answer."""

from __future__ import annotations

import argparse

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


def journal_app(args: argparse.Namespace) -> bootstrap.App:
    settings = bootstrap.settings_from(getattr(args, "config", None))
    quiet_logging(settings)
    return bootstrap.build(settings, access=bootstrap.Access.SHARED)
