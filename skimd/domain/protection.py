"""How an open position is protected against a fall through its stop, derived from the
position and its order intents (never stored, so it cannot drift from the orders it is read
from), and how long a refused order waits before it is tried again.

The rule: at every moment each open position is

- ``exiting``: working sells (market exits) cover every share it holds; or
- ``broker_stop``: resting stops working at the broker cover every share no exit is
  selling; or
- ``software_stop``: no working broker stop covers it, so the intraday watch sells at market
  when the last price is at or below the position's stop. That is the case when resting
  stops are off, when the broker refused the resting stop, or when the stop is not
  confirmed at the broker yet (written, or its placing timed out). It works only while the
  daemon runs and polls.

Anything else is ``unprotected``: a position the watch leaves alone (paused after a
quantity mismatch) or one without a stop price, with no working broker stop covering it.

An exit whose placing has not been answered yet (written, or timed out) counts as selling
its shares: the order desk settles it by client order id within seconds, and a stop for the
same shares meanwhile could sell them twice.

Refusals. An order the broker refused opens a *refusal run* of its purpose (the resting
stop, or one kind of exit) for that position: the consecutive refusals since the last order
of the purpose the broker took. After the n-th refusal the next try waits
:func:`retry_delay` (n): :data:`RETRY_BASE_S` doubling up to :data:`RETRY_CAP_S`, so a
broker that keeps refusing is asked a few times a minute at first and then every few
minutes, never on every poll. The run ends with the next order of the purpose the broker
accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from skimd.domain.trading import IntentPurpose, IntentRecord, IntentStatus, PositionRecord

RETRY_BASE_S = 30
RETRY_CAP_S = 300

_WORKING = frozenset({IntentStatus.SUBMITTED, IntentStatus.PARTIALLY_FILLED})
_ACCEPTED = _WORKING | {IntentStatus.FILLED}


class Cover(StrEnum):
    """What protects a position now (see the module doc); values are stored in alerts."""

    EXITING = "exiting"
    BROKER_STOP = "broker_stop"
    SOFTWARE_STOP = "software_stop"
    UNPROTECTED = "unprotected"

    @property
    def protects(self) -> bool:
        return self is not Cover.UNPROTECTED


SELL_WORDS = {
    IntentPurpose.STOP: "resting stop",
    IntentPurpose.STOP_EXIT: "software-stop exit",
    IntentPurpose.PARTIAL: "partial exit",
    IntentPurpose.TRAIL: "trail exit",
    IntentPurpose.FLATTEN: "end-of-day flatten",
    IntentPurpose.MANUAL: "operator's flatten",
    IntentPurpose.ENTRY: "entry",
}
"""What each order is, in the words the trader reads (alerts, ``skimd status``)."""

COVER_WORDS = {
    Cover.EXITING: "exit orders are selling it",
    Cover.BROKER_STOP: "resting stop at the broker",
    Cover.SOFTWARE_STOP: "software stop (while skimd runs)",
    Cover.UNPROTECTED: "NOTHING protects it",
}
"""What protects a position, in the words the trader reads."""

PAUSED_COVER_WORDS = {
    Cover.BROKER_STOP: "resting stop at the broker{at} still works",
    Cover.EXITING: "exit orders at the broker are selling it",
    Cover.SOFTWARE_STOP: "NOT PROTECTED: its software stop{at} cannot act while paused",
    Cover.UNPROTECTED: "NOT PROTECTED: nothing covers it",
}
"""What protects a position while the daemon's market-data and order jobs are paused (the
broker session is down): only what works at the broker; ``{at}`` takes " at <stop>"."""


def retry_delay(refusals: int) -> timedelta:
    """How long after its ``refusals``-th consecutive refusal an order is tried again."""
    if refusals < 1:
        return timedelta(0)
    seconds = RETRY_BASE_S * 2 ** min(refusals - 1, 16)
    return timedelta(seconds=min(seconds, RETRY_CAP_S))


@dataclass(frozen=True, slots=True)
class RefusalRun:
    """The consecutive refusals of one purpose for one position (oldest first), since the
    last order of that purpose the broker took."""

    purpose: IntentPurpose
    refused: tuple[IntentRecord, ...]

    @property
    def count(self) -> int:
        return len(self.refused)

    @property
    def first(self) -> IntentRecord:
        """The refusal that opened the run (its client order id names the run)."""
        return self.refused[0]

    @property
    def last(self) -> IntentRecord:
        return self.refused[-1]

    @property
    def since(self) -> datetime:
        return _when(self.first)

    @property
    def reason(self) -> str:
        return self.last.reason or "no reason given"

    @property
    def retry_at(self) -> datetime:
        """When the purpose may be tried again."""
        return _when(self.last) + retry_delay(self.count)

    def waiting(self, now: datetime) -> bool:
        """True while the next try must wait."""
        return now < self.retry_at


def _when(intent: IntentRecord) -> datetime:
    """When the broker's answer was recorded (its last change), else when it was written."""
    return intent.updated_at or intent.created_at


def _seq(intent: IntentRecord) -> int:
    """The sequence number a position's order carries at the end of its client order id."""
    tail = intent.client_order_id.rsplit(".", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else 0


def _of(intents: Sequence[IntentRecord], purpose: IntentPurpose) -> list[IntentRecord]:
    """The orders of ``purpose``, in the order they were written."""
    return sorted(
        (i for i in intents if i.purpose is purpose), key=lambda i: (i.created_at, _seq(i))
    )


def refusal_run(intents: Sequence[IntentRecord], purpose: IntentPurpose) -> RefusalRun | None:
    """The open refusal run of ``purpose`` among one position's ``intents``: None unless the
    latest order of that purpose was refused."""
    if not any(i.purpose is purpose and i.status is IntentStatus.REJECTED for i in intents):
        return None  # the common case, answered without sorting anything
    refused: list[IntentRecord] = []
    for intent in reversed(_of(intents, purpose)):
        if intent.status is not IntentStatus.REJECTED:
            break
        refused.append(intent)
    return RefusalRun(purpose, tuple(reversed(refused))) if refused else None


def ended_refusal_run(
    intents: Sequence[IntentRecord], purpose: IntentPurpose
) -> tuple[RefusalRun, IntentRecord] | None:
    """The refusal run the latest order of ``purpose`` ended, with that order: when the
    broker took (is working or filled) an order right after refusing the ones before it."""
    if not any(i.purpose is purpose and i.status is IntentStatus.REJECTED for i in intents):
        return None
    ordered = _of(intents, purpose)
    if not ordered or ordered[-1].status not in _ACCEPTED:
        return None
    run = refusal_run(ordered[:-1], purpose)
    return None if run is None else (run, ordered[-1])


@dataclass(frozen=True, slots=True)
class Protection:
    """What protects one position now (:func:`protection_of`).

    ``held``: shares it holds; ``selling``: shares working exits are selling; ``stop``: the
    level that protects it (the lowest working broker stop's, else the position's stop);
    ``refusals``: the open refusal runs of its stop and exits; ``why``: one phrase saying
    why the cover is what it is."""

    cover: Cover
    held: int
    selling: int
    stop: Decimal | None
    why: str
    refusals: tuple[RefusalRun, ...] = ()

    @property
    def exposed(self) -> int:
        """Shares no working exit is selling: what a stop must cover."""
        return max(self.held - self.selling, 0)

    def run_of(self, purpose: IntentPurpose) -> RefusalRun | None:
        return next((r for r in self.refusals if r.purpose is purpose), None)


def open_exits(intents: Sequence[IntentRecord]) -> list[IntentRecord]:
    """Exit orders (every sell but the resting stop) the broker may still fill."""
    return [
        i
        for i in intents
        if i.status.is_open and i.purpose.is_exit and i.purpose is not IntentPurpose.STOP
    ]


def selling(intents: Sequence[IntentRecord]) -> int:
    """Shares the open exits are selling (what no stop may cover as well)."""
    return sum(i.qty - i.filled_qty for i in open_exits(intents))


def open_stops(intents: Sequence[IntentRecord]) -> list[IntentRecord]:
    """Resting stop orders the broker may still fill (working, or not confirmed yet)."""
    return [i for i in intents if i.status.is_open and i.purpose is IntentPurpose.STOP]


def protection_of(position: PositionRecord, intents: Sequence[IntentRecord]) -> Protection:
    """What protects ``position`` now, from its ``intents`` (all of them: the refusal runs
    are read from the refused ones)."""
    held = position.qty if position.has_shares else 0
    sold = selling(intents)
    exposed = max(held - sold, 0)
    working = [i for i in open_stops(intents) if i.status in _WORKING]
    covered = sum(i.qty - i.filled_qty for i in working)
    refused = {i.purpose for i in intents if i.status is IntentStatus.REJECTED}
    runs = tuple(
        run
        for p in IntentPurpose
        if p in refused and p.is_exit
        if (run := refusal_run(intents, p)) is not None
    )

    def made(cover: Cover, why: str, stop: Decimal | None = position.stop) -> Protection:
        return Protection(cover, held, sold, stop, why, runs)

    if held == 0:
        return made(Cover.EXITING, "nothing left to protect")
    if exposed == 0:
        return made(Cover.EXITING, f"working exits sell all {held} shares")
    if working and covered >= exposed:
        prices = [i.stop_price for i in working if i.stop_price is not None]
        return made(
            Cover.BROKER_STOP,
            f"working for {covered} shares",
            min(prices) if prices else position.stop,
        )
    if position.paused:
        return made(Cover.UNPROTECTED, "paused after a quantity mismatch; the watch skips it")
    if position.stop is None:
        return made(Cover.UNPROTECTED, "no stop price to guard")
    stop_run = next((r for r in runs if r.purpose is IntentPurpose.STOP), None)
    if stop_run is not None:
        times = "once" if stop_run.count == 1 else f"{stop_run.count} times"
        why = f"the broker refused the resting stop {times}: {stop_run.reason}"
    elif any(i.status not in _WORKING for i in open_stops(intents)):
        why = "resting stop not confirmed by the broker yet"
    elif working:
        why = f"the resting stop covers {covered} of {exposed} shares"
    else:
        why = "no resting stop at the broker"
    return made(Cover.SOFTWARE_STOP, why)


__all__ = [
    "COVER_WORDS",
    "RETRY_BASE_S",
    "RETRY_CAP_S",
    "SELL_WORDS",
    "Cover",
    "Protection",
    "RefusalRun",
    "ended_refusal_run",
    "open_exits",
    "open_stops",
    "protection_of",
    "refusal_run",
    "retry_delay",
    "selling",
]
