"""The one exception tree of skimd.

Every class says what the daemon does when it sees it, so callers branch on the class and
never on message text. The supervisor carries out the first four for any error that
escapes a job (:meth:`skimd.services.supervisor.Supervisor`'s error policy); commands map
every class to its ``exit_code``:

- ``ConfigurationError``  stop now, exit 78 (EX_CONFIG); systemd must not restart.
- ``TransientError``      the job fails this run (alerted on the first failure and then
                          every tenth) and runs again on its schedule; nothing was changed.
- ``TradingHaltError``    the kill switch is locked (no new entries until a human runs
                          ``skimd guard unlock``) and a critical alert says why; open
                          positions are still managed.
- ``FatalError``          the daemon stops with the class's exit code and a critical alert;
                          a human must look.
- ``InvalidInputError``   a command's input is bad; nothing was written (exit 65).

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


class NotifierRetryAfter(NotificationDeliveryError):
    """The channel asked us to wait ``retry_after`` seconds (e.g. a Discord 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RendererUnavailableError(NotificationDeliveryError):
    """The short-lived helper process that draws charts and builds Discord messages failed
    (could not start, died, timed out, answered garbage): nothing was sent; retry later."""


class NotifierDisabledError(NotificationDeliveryError):
    """The channel is disabled until restart (bad/revoked webhook); alerts stay queued."""


class AlertRejectedError(SkimdError):
    """A channel refused this alert's content; resending it unchanged is pointless, so the
    outbox skips it for that channel (logged) instead of retrying."""


class DataSourceError(TransientError):
    """An external data source (announcements page, market data) gave unusable data."""


class BrokerSessionError(TransientError):
    """The brokerage session is not authenticated or was taken by another login. It comes
    back (re-authentication, the other login ends, the nightly reset passes), so the job
    that met it fails this run and tries again on its schedule."""


# -- lock the kill switch and alert ------------------------------------------------------------


class TradingHaltError(SkimdError):
    """New entries must stop until a human looks: the kill switch is locked and the trader
    alerted; open positions are still managed."""


class BrokerAuthError(TradingHaltError):
    """OAuth failed: bad key, wrong DH prime, LST signature mismatch, or a 401 after a fresh
    live session token. Retrying with the same credentials cannot fix it."""


class OrderRejectedError(TradingHaltError):
    """The broker refused an order; nothing was placed. The order desk handles it (the
    intent is marked rejected); one that escapes to the supervisor halts trading."""


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


class DaemonUnavailableError(SkimdError):
    """No daemon answers on the control socket, and the command needs one."""

    exit_code = EX_UNAVAILABLE


class DaemonReplyError(SkimdError):
    """The running daemon refused or failed a control request; ``exit_code`` is the one it
    gave (the error's own, or 77 when the socket refused the caller)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class InvalidInputError(SkimdError):
    """User-supplied input (a file, a ticker, an argument) is malformed; nothing was written."""

    exit_code = 65  # EX_DATAERR


class OperatorRequestError(SkimdError):
    """An operator's control request cannot be carried out as asked (a ticker with no open
    position to flatten, a resume of a ticker that is not paused); nothing was changed."""

    exit_code = 65  # EX_DATAERR
