"""What an operator asked of the running daemon, as records: who did what and when (the
control journal), which tickers are paused, which positions are to be flattened.

Who: the uid the control socket read from its peer's credentials and the user name it
maps to (the uid as text when the name is unknown). These records are facts for the
journal and for the jobs that honour them; the rules of what a pause or a flatten does
are the trading services'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from skimd.domain.protection import Cover
from skimd.domain.trading import IntentRecord
from skimd.errors import OperatorRequestError

_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.]{0,11}$")


def operator_ticker(raw: str) -> str:
    """``raw`` as a ticker (upper case, trimmed); a malformed one is an operator error
    naming it."""
    ticker = raw.strip().upper()
    if not _TICKER.match(ticker):
        raise OperatorRequestError(f"{raw!r} is not a ticker")
    return ticker


@dataclass(frozen=True, slots=True)
class ControlRecord:
    """One control action as journaled: ``action`` (``flatten``, ``pause``, ``resume``,
    or what the control channel records, e.g. ``guard lock``) and a one-line ``detail``."""

    at: datetime
    uid: int
    name: str
    action: str
    detail: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class TickerPause:
    """A ticker the operator paused: no new entries and no stop moves while paused (its
    resting stop and the software stop still protect a held position)."""

    ticker: str
    at: datetime
    uid: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class FlattenRequest:
    """A position the operator asked to flatten: the watch keeps selling it at market
    (through the same exits as the end-of-day flatten) until it is closed."""

    position_id: int
    ticker: str
    at: datetime
    uid: int
    name: str
    reason: str


ExitOutcome = Literal["sent", "unknown", "exiting", "refused", "waiting"]


@dataclass(frozen=True, slots=True)
class ExitNow:
    """What an operator's flatten of one position did at once: ``sent`` (``order``);
    ``unknown`` (``order`` sent, its answer lost: settled by its client order id);
    ``exiting`` (exits were working already, ``order`` the first; nothing sent);
    ``refused`` (the broker refused ``order``); ``waiting`` (a refusal's back-off runs
    until ``retry_at``, or the resting stop's cancel is not confirmed: ``note`` says
    which). ``cover``: what protects the position afterwards."""

    outcome: ExitOutcome
    order: IntentRecord | None = None
    note: str = ""
    retry_at: datetime | None = None
    cover: Cover | None = None


__all__ = [
    "ControlRecord",
    "ExitNow",
    "ExitOutcome",
    "FlattenRequest",
    "TickerPause",
    "operator_ticker",
]
