"""What opening the database does about a maintenance step that did not finish.

Every open looks for the journal first (:mod:`.maintenance_journal`). A process holding the
instance lock finishes or rolls back the step (a restore, a rekey) and logs what it did;
any other process changes nothing and refuses with a message naming the command that did
not finish and what will settle it — a journal beside the file may belong to a maintenance
command running right now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog
from pydantic import SecretStr

from skimd.errors import DatabaseError

from .maintenance_journal import read_journal

log = structlog.get_logger(__name__)

HINT = "`skimd db recover` (or any command that takes the instance lock, such as `skimd run`)"


def settle_interrupted(
    db_path: Path,
    passphrase: Callable[[], SecretStr],
    *,
    exclusive: bool,
    busy_timeout_ms: int = 5000,
) -> str | None:
    """None when no maintenance step is pending; else what was done about it (``exclusive``).
    Without ``exclusive`` a pending step raises DatabaseError (or DatabaseKeyError when
    only a new passphrase would open the file)."""
    journal = read_journal(db_path)
    if journal is None:
        return None
    # The settling code (restore, rekey and their verify/copy helpers) is imported only when a
    # step is pending: a daemon that opens a tidy file never needs it.
    if journal.operation == "restore":
        from .restore import settle_restore

        message = settle_restore(db_path, journal, apply=exclusive, hint=HINT)
    elif journal.operation == "rekey":
        from .rekey import settle_rekey

        message = settle_rekey(
            db_path,
            journal,
            passphrase(),
            apply=exclusive,
            hint=HINT,
            busy_timeout_ms=busy_timeout_ms,
        )
    else:
        raise DatabaseError(
            f"{journal.unfinished(db_path)}: unknown to this skimd; look at the files beside "
            "the database"
        )
    log.warning("interrupted database maintenance settled", detail=message)
    return message
