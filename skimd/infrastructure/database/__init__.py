"""Encrypted persistence: SQLCipher file, Argon2id key, unit of work, repositories.

The composition root calls :func:`open_trading_database` once and hands
``db.session_manager`` (or ``db.unit_of_work``) to the services; ``skimd run`` calls
:func:`check_schema` first. Nothing outside this package opens a connection.
"""

from __future__ import annotations

from .base import BaseDatabase
from .crypto import DatabaseKey, KdfParams, derive_key, fernet_for
from .factory import TradingDatabase, open_trading_database
from .migrate import check_schema, current_revision, head_revision, upgrade
from .passphrase import ensure_passphrase
from .session import SessionManager, UnitOfWork

__all__ = [
    "BaseDatabase",
    "DatabaseKey",
    "KdfParams",
    "SessionManager",
    "TradingDatabase",
    "UnitOfWork",
    "check_schema",
    "current_revision",
    "derive_key",
    "ensure_passphrase",
    "fernet_for",
    "head_revision",
    "open_trading_database",
    "upgrade",
]
