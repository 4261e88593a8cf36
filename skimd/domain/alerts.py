"""Alert events: what the daemon tells the trader, as facts.

Every alert is a frozen dataclass (keyword-only) with an aware ``occurred_at``; prices and
money are :class:`~decimal.Decimal`, quantities ``int``. Each class has a stable ``kind``
(the outbox row stores it; :data:`ALERT_TYPES` maps it back to the class) and a
``severity`` that follows from its facts.

The facts only live here. Their words (title, one-line summary, details) are in
:mod:`skimd.domain.alert_text`, the digests' tables and CSV in
:mod:`skimd.domain.alert_tables`; their JSON form (what the outbox stores) is the alert
codec's, ``infrastructure/alert_codec.py``. Changing a field here changes stored payloads:
rows already in the outbox must still decode (the codec's docstring says what is safe).

Severity means "what the trader must do": CRITICAL only when the trader must act now,
WARNING when something is wrong or unusual but the daemon copes, INFO for the normal course
of the day. Each kind's rule, from its facts alone:

=========================  ==========================================================
kind                       severity
=========================  ==========================================================
position_mismatch          CRITICAL (entries for the symbol paused until it agrees)
protection_fallback        CRITICAL (a position is not protected as planned)
guard_tripped              CRITICAL for ``daily_loss_cap``, and for ``kill_switch`` when
                           the daemon locked it itself (``halted_by_daemon``: only
                           ``skimd guard unlock`` resumes entries); WARNING for a kill
                           switch the operator locked (or an entry refused while it is
                           locked), ``price_band`` and ``other``; INFO for the normal
                           limits ``max_positions``, ``max_orders_per_day`` and
                           ``closing_auction``
job_failed                 WARNING; CRITICAL once ``consecutive_failures`` reaches
                           ``critical_after`` (``supervisor.job_failures_critical_after``)
broker_session_lost        WARNING (the broker usually restores it by itself)
broker_session_still_down  CRITICAL: ONE per outage, when the session is still down
                           ``supervisor.broker_down_critical_after_min`` minutes after it
                           was lost
daemon_stopping            INFO; CRITICAL with a non-zero exit code
position_exited            WARNING for a stop hit, INFO otherwise
reconciliation_digest      INFO when clean, WARNING otherwise
order_rejected, job_overrun, job_missed, broker_rate_limited, guard_released,
control_action,
quote_stream_down          WARNING (polling takes over until the stream is back)
everything else            INFO (candidates, the late-candidate digest, orders placed
                           and filled, restored protection and session, daily summary)
=========================  ==========================================================

Longer than 500 lines because it is the one catalogue of alert facts, one small dataclass
per kind, registered in :data:`ALERT_TYPES` as it is defined.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, TypeVar

# Imported at run time, not only for type checking: the alert codec resolves field types by
# name through these classes' type hints.
from skimd.domain.market import PricePoint, VolumePoint
from skimd.domain.protection import Cover
from skimd.domain.trading import CandidateSource, ExitReason, GuardKind, IntentPurpose


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def _require_aware(value: object, name: str) -> None:
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


@dataclass(frozen=True, kw_only=True)
class Alert:
    """Base of every alert. Subclasses set ``kind`` and ``default_severity``."""

    kind: ClassVar[str] = ""
    default_severity: ClassVar[Severity] = Severity.INFO

    occurred_at: datetime

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _require_aware(getattr(self, f.name), f"{type(self).__name__}.{f.name}")

    @property
    def severity(self) -> Severity:
        return self.default_severity


ALERT_TYPES: dict[str, type[Alert]] = {}
"""Every alert class by its ``kind``: what a stored alert can be rebuilt as."""

A = TypeVar("A", bound=type[Alert])


def register(cls: A) -> A:
    """Class decorator: add ``cls`` to :data:`ALERT_TYPES` under its (unique) ``kind``."""
    if not cls.kind or cls.kind in ALERT_TYPES:
        raise ValueError(f"alert kind {cls.kind!r} is empty or registered twice")
    ALERT_TYPES[cls.kind] = cls
    return cls


# -- scans ---------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class CandidateFound(Alert):
    """A gap or news scan found a candidate (coalesced into a digest when many)."""

    kind: ClassVar[str] = "candidate_found"

    symbol: str
    source: CandidateSource
    prev_close: Decimal | None = None
    open_price: Decimal | None = None
    gap_pct: Decimal | None = None
    headline: str | None = None


@register
@dataclass(frozen=True, kw_only=True)
class CandidateDigest(Alert):
    """Many candidates in one message (built by the outbox sender from a flood)."""

    kind: ClassVar[str] = "candidate_digest"

    candidates: tuple[CandidateFound, ...]


@register
@dataclass(frozen=True, kw_only=True)
class TradeableCandidate(Alert):
    """A candidate whose opening range is set: entry above ORH, stop at ORL (or low)."""

    kind: ClassVar[str] = "tradeable_candidate"

    symbol: str
    prev_close: Decimal | None
    orh: Decimal
    orl: Decimal
    entry: Decimal
    stop: Decimal
    range_end: datetime | None = None
    path: tuple[PricePoint, ...] = ()
    volumes: tuple[VolumePoint, ...] = ()  # shares traded between the path's points


# -- orders and positions --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _OrderAlert(Alert):
    symbol: str
    side: str  # "BUY" / "SELL"
    quantity: int
    client_order_id: str


@register
@dataclass(frozen=True, kw_only=True)
class OrderPlaced(_OrderAlert):
    kind: ClassVar[str] = "order_placed"

    order_type: str
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    broker_order_id: str | None = None


@register
@dataclass(frozen=True, kw_only=True)
class OrderFilled(_OrderAlert):
    kind: ClassVar[str] = "order_filled"

    price: Decimal
    commission: Decimal | None = None


@register
@dataclass(frozen=True, kw_only=True)
class OrderRejected(_OrderAlert):
    kind: ClassVar[str] = "order_rejected"
    default_severity: ClassVar[Severity] = Severity.WARNING

    reason: str


@register
@dataclass(frozen=True, kw_only=True)
class EntrySettled(Alert):
    """An entry the trader needs to hear about once: ``quantity`` shares bought (of the
    ``ordered``) at ``price``, with what protects them now (``cover``: normally the resting
    stop, confirmed at the broker; the software stop when resting stops are off or the
    broker refused the stop). Queued in the unit of work that settles it, so its own
    order-placed and order-filled events are journal facts, not messages.

    ``fees`` are the entry executions' commissions (None: the broker did not show them
    yet); ``path``/``volumes`` the day so far, for its chart."""

    kind: ClassVar[str] = "entry_settled"

    symbol: str
    quantity: int
    ordered: int
    price: Decimal
    stop: Decimal | None
    cover: Cover
    client_order_id: str
    filled_at: datetime
    fees: Decimal | None = None
    orh: Decimal | None = None
    orl: Decimal | None = None
    prev_close: Decimal | None = None
    path: tuple[PricePoint, ...] = ()
    volumes: tuple[VolumePoint, ...] = ()

    @property
    def risk(self) -> Decimal | None:
        """Dollars lost if the stop is hit at its price (1R); None without a stop."""
        if self.stop is None:
            return None
        return (self.price - self.stop) * self.quantity

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.cover is Cover.BROKER_STOP else Severity.WARNING


@register
@dataclass(frozen=True, kw_only=True)
class EntryLapsed(Alert):
    """An entry order ended with nothing filled (expired, cancelled or dropped)."""

    kind: ClassVar[str] = "entry_lapsed"

    symbol: str
    ordered: int
    limit_price: Decimal | None
    client_order_id: str
    reason: str


@register
@dataclass(frozen=True, kw_only=True)
class PositionExited(Alert):
    """A position (or part of it) was closed; ``reason == STOP`` is a stop hit."""

    kind: ClassVar[str] = "position_exited"

    symbol: str
    quantity: int
    entry_price: Decimal
    exit_price: Decimal
    entry_at: datetime
    exit_at: datetime
    reason: ExitReason
    pnl: Decimal
    stop: Decimal | None = None
    orh: Decimal | None = None
    orl: Decimal | None = None
    prev_close: Decimal | None = None
    path: tuple[PricePoint, ...] = ()
    stop_path: tuple[PricePoint, ...] = ()  # the stop as it stood over the day (a step line)
    volumes: tuple[VolumePoint, ...] = ()  # shares traded between the path's points
    # entry commissions pro rata for ``quantity`` plus this exit's (None: not known)
    fees: Decimal | None = None
    initial_stop: Decimal | None = None  # the plan's stop at entry: what 1R is measured by

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.reason is ExitReason.STOP else Severity.INFO

    @property
    def net_pnl(self) -> Decimal | None:
        """``pnl`` (gross) less ``fees``; None while the fees are not known."""
        return None if self.fees is None else self.pnl - self.fees

    @property
    def risk(self) -> Decimal | None:
        """The initial risk of the exited shares: quantity x (entry - initial stop)."""
        if self.initial_stop is None or self.initial_stop >= self.entry_price:
            return None
        return (self.entry_price - self.initial_stop) * self.quantity

    @property
    def r_multiple(self) -> Decimal | None:
        """Net P&L in units of the initial risk (two decimals)."""
        net, risk = self.net_pnl, self.risk
        if net is None or risk is None:
            return None
        return (net / risk).quantize(Decimal("0.01"))

    @property
    def move_pct(self) -> Decimal:
        """The price move from entry to exit, in percent."""
        return (self.exit_price - self.entry_price) / self.entry_price * 100

    @property
    def held_s(self) -> float:
        return max(0.0, (self.exit_at - self.entry_at).total_seconds())


@register
@dataclass(frozen=True, kw_only=True)
class PositionMismatch(Alert):
    """Our position and the broker's disagree; entries for the symbol are paused."""

    kind: ClassVar[str] = "position_mismatch"
    default_severity: ClassVar[Severity] = Severity.CRITICAL

    symbol: str
    ours: int
    broker: int
    detail: str = ""


@register
@dataclass(frozen=True, kw_only=True)
class ProtectionFallback(Alert):
    """The broker refused a sell that protects or closes a position (its resting stop, or
    an exit): ``cover`` is what protects it now (the stop put back, or the software stop;
    ``quantity`` 0 when what was done instead sold it all), and ``retry_at`` when the
    refused order is tried again. One per run of refusals, not one per retry
    (:mod:`skimd.domain.protection`)."""

    kind: ClassVar[str] = "protection_fallback"
    default_severity: ClassVar[Severity] = Severity.CRITICAL

    symbol: str
    quantity: int
    refused: IntentPurpose
    client_order_id: str
    reason: str
    cover: Cover
    stop: Decimal | None = None
    retry_at: datetime | None = None


@register
@dataclass(frozen=True, kw_only=True)
class ProtectionRestored(Alert):
    """The broker took a resting stop again after refusing ``refusals`` of them since
    ``since``: the position is protected at the broker once more."""

    kind: ClassVar[str] = "protection_restored"

    symbol: str
    quantity: int
    stop: Decimal | None
    client_order_id: str
    refusals: int
    since: datetime


# -- the daemon, its jobs and the broker session ----------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class JobFailed(Alert):
    """A scheduled job raised; critical once it has failed ``critical_after`` times in a
    row (the daemon's setting when it was raised, so a stored alert keeps its severity)."""

    kind: ClassVar[str] = "job_failed"
    default_severity: ClassVar[Severity] = Severity.WARNING

    job_id: str
    error_type: str
    message: str
    consecutive_failures: int = 1
    critical_after: int = 3

    @property
    def severity(self) -> Severity:
        if self.consecutive_failures >= self.critical_after:
            return Severity.CRITICAL
        return Severity.WARNING


@register
@dataclass(frozen=True, kw_only=True)
class JobOverrun(Alert):
    """Runs of ``job_id`` were skipped because the one started at ``started_at`` was still
    going: one alert per slow stretch. ``finished`` False means it was still running when
    this was said (``ran_for_s`` so far)."""

    kind: ClassVar[str] = "job_overrun"
    default_severity: ClassVar[Severity] = Severity.WARNING

    job_id: str
    skipped_runs: int
    started_at: datetime
    ran_for_s: float
    finished: bool = True


@register
@dataclass(frozen=True, kw_only=True)
class JobMissed(Alert):
    kind: ClassVar[str] = "job_missed"
    default_severity: ClassVar[Severity] = Severity.WARNING

    job_id: str
    scheduled_for: datetime
    late_by_s: float


@dataclass(frozen=True, slots=True)
class HeldPosition:
    """An open position while the broker session is down: what still protects it
    (a resting stop at the broker keeps working; the software stop cannot act)."""

    symbol: str
    quantity: int
    cover: Cover
    stop: Decimal | None = None


@register
@dataclass(frozen=True, kw_only=True)
class BrokerSessionLost(Alert):
    """The brokerage session dropped or another login took it; entries are halted.

    ``paused``: the daemon's market-data and order jobs wait until the session is back;
    ``retry_at`` is when the broker next tries to restore it (None: not known);
    ``positions`` are the open positions left meanwhile, with what protects each."""

    kind: ClassVar[str] = "broker_session_lost"
    default_severity: ClassVar[Severity] = Severity.WARNING  # BrokerSessionStillDown escalates

    broker: str
    reason: str
    taken_by_other_login: bool = False
    paused: bool = False
    retry_at: datetime | None = None
    positions: tuple[HeldPosition, ...] = ()


@register
@dataclass(frozen=True, kw_only=True)
class BrokerSessionRestored(Alert):
    """The brokerage session is authenticated again after being lost (or taken by another
    login) since ``down_since``; paused jobs run again."""

    kind: ClassVar[str] = "broker_session_restored"

    broker: str
    down_since: datetime
    taken_by_other_login: bool = False
    reason: str = ""

    @property
    def down_for_s(self) -> float:
        return max(0.0, (self.occurred_at - self.down_since).total_seconds())


@register
@dataclass(frozen=True, kw_only=True)
class BrokerRateLimited(Alert):
    """The broker put an endpoint class in its penalty box (e.g. IBKR after a 429): calls of
    that class fail until ``until``; scans or orders may be late or skipped meanwhile."""

    kind: ClassVar[str] = "broker_rate_limited"
    default_severity: ClassVar[Severity] = Severity.WARNING

    broker: str
    endpoint_class: str
    until: datetime


_ROUTINE_GUARDS = frozenset(
    {GuardKind.MAX_POSITIONS, GuardKind.MAX_ORDERS_PER_DAY, GuardKind.CLOSING_AUCTION}
)


@register
@dataclass(frozen=True, kw_only=True)
class GuardTripped(Alert):
    """A guard refused new entries. ``halted_by_daemon``: the daemon locked the kill switch
    itself (an error that halts trading), so entries stay stopped until the trader unlocks
    it. Severity: see the module docstring's table."""

    kind: ClassVar[str] = "guard_tripped"
    default_severity: ClassVar[Severity] = Severity.WARNING

    guard: GuardKind
    detail: str
    value: Decimal | None = None
    limit: Decimal | None = None
    halted_by_daemon: bool = False

    @property
    def severity(self) -> Severity:
        if self.guard is GuardKind.DAILY_LOSS_CAP:
            return Severity.CRITICAL
        if self.guard is GuardKind.KILL_SWITCH and self.halted_by_daemon:
            return Severity.CRITICAL
        if self.guard in _ROUTINE_GUARDS:
            return Severity.INFO
        return Severity.WARNING


@register
@dataclass(frozen=True, kw_only=True)
class GuardReleased(Alert):
    """A guard was lifted (``skimd guard unlock``): new entries are allowed again."""

    kind: ClassVar[str] = "guard_released"
    default_severity: ClassVar[Severity] = Severity.WARNING

    guard: GuardKind
    detail: str


@register
@dataclass(frozen=True, kw_only=True)
class ControlAction(Alert):
    """An operator acted through the daemon's control channel (flatten, pause, guard...):
    who (``uid``, user ``name``), what (``action``), a one-line ``detail``."""

    kind: ClassVar[str] = "control_action"
    default_severity: ClassVar[Severity] = Severity.WARNING

    uid: int
    name: str
    action: str
    detail: str


@register
@dataclass(frozen=True, kw_only=True)
class DaemonStarted(Alert):
    kind: ClassVar[str] = "daemon_started"

    version: str
    broker: str
    live_trading: bool = False


@register
@dataclass(frozen=True, kw_only=True)
class DaemonStopping(Alert):
    """The daemon is shutting down; critical when it stops with a non-zero exit code."""

    kind: ClassVar[str] = "daemon_stopping"

    reason: str
    exit_code: int = 0

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.exit_code == 0 else Severity.CRITICAL


# -- end of day ------------------------------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class DailySummary(Alert):
    """The day in round trips: ``wins``/``losses`` are the round trips closed today (a
    break-even one counts as a loss), ``realised_pnl`` their net P&L (after fees),
    ``total_r`` their net P&L in units of initial risk (None when no closed trip's risk is
    known; ``unrated`` counts those left out), ``open_positions`` the positions still held.
    ``trades`` counts the day's executions and ``fees`` their commissions (stored, not
    shown as round trips). ``candidates`` and ``reconciliation_clean`` are None in rows
    stored before they existed (their words were notes then)."""

    kind: ClassVar[str] = "daily_summary"

    trading_day: date
    trades: int
    wins: int
    losses: int
    realised_pnl: Decimal
    fees: Decimal
    open_positions: int = 0
    equity: Decimal | None = None
    notes: tuple[str, ...] = ()
    total_r: Decimal | None = None
    unrated: int = 0
    candidates: int | None = None
    reconciliation_clean: bool | None = None

    @property
    def closed(self) -> int:
        return self.wins + self.losses

    @property
    def win_rate(self) -> Decimal | None:
        """Percent of closed round trips that won; None with none closed."""
        if not self.closed:
            return None
        return (Decimal(self.wins) * 100 / self.closed).quantize(Decimal("1"))


class ReconciliationStatus(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    """One ticker in the three-way reconciliation: the quantity our database holds, the
    broker's position, and the net quantity the broker's executions add up to.

    Built by the position sync with :meth:`compare`; carried whole by the digest alert."""

    ticker: str
    db_qty: int
    broker_qty: int
    executions_qty: int
    status: ReconciliationStatus

    @classmethod
    def compare(
        cls, ticker: str, db_qty: int, broker_qty: int, executions_qty: int
    ) -> ReconciliationRow:
        """A row whose status is ``ok`` exactly when all three quantities agree."""
        agree = db_qty == broker_qty == executions_qty
        status = ReconciliationStatus.OK if agree else ReconciliationStatus.MISMATCH
        return cls(ticker, db_qty, broker_qty, executions_qty, status)

    @property
    def ok(self) -> bool:
        return self.status is ReconciliationStatus.OK


@register
@dataclass(frozen=True, kw_only=True)
class ReconciliationDigest(Alert):
    """The end-of-day three-way reconciliation (database vs broker positions vs broker
    executions) as one alert; the full table travels as a CSV attachment.

    ``clean`` is False when anything disagreed; it cannot be True with a mismatched row
    (a clean digest hiding a mismatch would be worse than none). It may be False with
    every row ok when the reason is outside the table (``notes`` say what)."""

    kind: ClassVar[str] = "reconciliation_digest"

    trading_day: date
    rows: tuple[ReconciliationRow, ...] = ()
    clean: bool
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        Alert.__post_init__(self)
        if self.clean and self.mismatches:
            names = ", ".join(r.ticker for r in self.mismatches)
            raise ValueError(f"reconciliation {self.trading_day}: clean with mismatches {names}")

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.clean else Severity.WARNING

    @property
    def mismatches(self) -> tuple[ReconciliationRow, ...]:
        return tuple(r for r in self.rows if not r.ok)


# -- added for issue 16: the session escalation and the late-candidate digest -----------------


@register
@dataclass(frozen=True, kw_only=True)
class BrokerSessionStillDown(Alert):
    """The brokerage session lost at ``down_since`` is still down ``after_min`` minutes
    later: the trader must act (log in again, check the gateway). One per outage; the
    ``broker_session_lost`` alert before it is only a warning."""

    kind: ClassVar[str] = "broker_session_still_down"
    default_severity: ClassVar[Severity] = Severity.CRITICAL

    broker: str
    down_since: datetime
    reason: str
    after_min: int
    taken_by_other_login: bool = False
    positions: tuple[HeldPosition, ...] = ()

    @property
    def down_for_s(self) -> float:
        return max(0.0, (self.occurred_at - self.down_since).total_seconds())


@register
@dataclass(frozen=True, kw_only=True)
class LateCandidates(Alert):
    """Candidates found after the window in which a new candidate can still be traded
    closed (``window_closed_at``): too late to trade today, so said once, together, after
    the close, rather than one message each."""

    kind: ClassVar[str] = "late_candidates"

    trading_day: date
    window_closed_at: datetime
    candidates: tuple[CandidateFound, ...]


# -- quiet digests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """One alert a phone channel held back for its quiet digest: when it happened, its
    kind and severity, and its one-line summary (built by
    :func:`skimd.domain.alert_text.quiet_digest`; the alert itself stays in the record)."""

    at: datetime
    kind: str
    severity: Severity
    line: str


@register
@dataclass(frozen=True, kw_only=True)
class QuietDigest(Alert):
    """The alerts of ``quiet`` kinds a phone channel held since its last digest, as one
    message (built by the outbox sender; see :mod:`skimd.domain.alert_policy`). Never
    critical: what must be acted on is not quiet. Warning when any held alert was."""

    kind: ClassVar[str] = "quiet_digest"

    held: tuple[HeldAlert, ...]

    @property
    def severity(self) -> Severity:
        worst = max((h.severity.rank for h in self.held), default=0)
        return Severity.WARNING if worst >= Severity.WARNING.rank else Severity.INFO


# -- added for issue 19: pushed quotes -----------------------------------------------------------


@register
@dataclass(frozen=True, kw_only=True)
class QuoteStreamDown(Alert):
    """The broker's quote stream stopped (``reason``): breakouts and software stops are
    seen by the poll again, up to one poll interval late, until it is back. One per
    outage; the daemon copes by itself."""

    kind: ClassVar[str] = "quote_stream_down"
    default_severity: ClassVar[Severity] = Severity.WARNING

    broker: str
    reason: str
    poll_interval_s: int


@register
@dataclass(frozen=True, kw_only=True)
class QuoteStreamBack(Alert):
    """The quote stream that went down at ``down_since`` pushes quotes again: breakouts and
    software stops react on the tick again."""

    kind: ClassVar[str] = "quote_stream_back"

    broker: str
    down_since: datetime
    reason: str = ""

    @property
    def down_for_s(self) -> float:
        return max(0.0, (self.occurred_at - self.down_since).total_seconds())
