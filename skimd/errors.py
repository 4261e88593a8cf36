"""The one exception tree of skimd.

Every class says what the daemon should do when it sees it, so callers branch on the
class and never on message text:

- ``ConfigurationError``  stop now, exit 78 (EX_CONFIG); systemd must not restart.
- ``TransientError``      retry later (with backoff); nothing was changed.
- ``TradingHaltError``    pause new entries and alert the trader; keep managing positions.
- ``FatalError``          stop the daemon with a non-zero code and alert; a human must look.

Adapters translate library exceptions into these with ``raise ... from exc`` at the
boundary. Messages are one line, name the thing at fault, and never contain a secret.
"""

from __future__ import annotations

EX_CONFIG = 78
EX_SOFTWARE = 70
EX_UNAVAILABLE = 69
EX_TEMPFAIL = 75


class SkimdError(Exception):
    """Base of every error skimd raises on purpose."""

    exit_code: int = EX_SOFTWARE


# -- stop with a configuration error -------------------------------------------------------


class ConfigurationError(SkimdError):
    """The configuration (file, environment, credentials) is unusable. Exit 78, no restart."""

    exit_code = EX_CONFIG


class SecretFileError(ConfigurationError):
    """A secret file is missing, unreadable or readable by group/other."""


# -- retry later -------------------------------------------------------------------------------


class TransientError(SkimdError):
    """A dependency failed in a way that may pass; retry later. Nothing was changed."""

    exit_code = EX_TEMPFAIL


class BrokerUnavailableError(TransientError):
    """The broker did not answer (timeout, 5xx, connection refused)."""


class RateLimitedError(TransientError):
    """A pacing limit was hit (ours or the remote's). ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotificationDeliveryError(TransientError):
    """An alert could not be delivered now; it stays in the outbox and is retried."""


class DataSourceError(TransientError):
    """An external data source (announcements page, market data) gave unusable data."""


# -- pause trading and alert ---------------------------------------------------------------


class TradingHaltError(SkimdError):
    """New entries must stop and the trader must be told; open positions are still managed."""


class BrokerSessionError(TradingHaltError):
    """The brokerage session is not authenticated or was taken by another login."""


class BrokerAuthError(BrokerSessionError):
    """OAuth failed: bad key, wrong DH prime, LST signature mismatch, or a 401."""


class OrderRejectedError(TradingHaltError):
    """The broker (or our guard) refused an order; the intent is marked rejected."""


class GuardTrippedError(TradingHaltError):
    """A pre-trade guard (kill switch, daily caps, price band) blocked an order."""


class ReconciliationError(TradingHaltError):
    """Our records and the broker's disagree; entries for the affected ticker are paused."""


# -- stop and get a human -------------------------------------------------------------------


class FatalError(SkimdError):
    """The daemon cannot continue safely; stop non-zero and alert."""


class DatabaseError(FatalError):
    """The database failed in a way that retrying will not fix."""


class DatabaseKeyError(DatabaseError):
    """The passphrase does not open the database (SQLCipher says 'file is not a database')."""

    exit_code = EX_CONFIG


class SchemaVersionError(DatabaseError):
    """The database is not migrated, or is newer than this code."""

    exit_code = EX_CONFIG


class IntegrityError(DatabaseError):
    """A unique or foreign-key constraint was violated, or an integrity check failed."""


class IllegalTransitionError(IntegrityError):
    """A record was asked to move to a state its lifecycle does not allow (a candidate
    closed before it entered, say): a bug in the caller, so its unit of work rolls back."""


class InstanceLockedError(FatalError):
    """Another skimd holds the data-directory lock."""

    exit_code = EX_UNAVAILABLE


class InvalidInputError(SkimdError):
    """User-supplied input (a file, a ticker, an argument) is malformed; nothing was written."""

    exit_code = 65  # EX_DATAERR
