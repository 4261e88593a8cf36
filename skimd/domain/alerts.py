"""Typed alert messages: what the daemon tells the trader.

Every alert is a frozen dataclass (keyword-only) with an aware ``occurred_at``; prices and
money are :class:`~decimal.Decimal`, quantities ``int``. Each class has a stable ``kind``
(the outbox row stores it) and round-trips through a JSON-safe payload::

    payload = alert.to_payload()          # {"kind": ..., "v": 1, "data": {...}}
    assert alert_from_payload(payload) == alert

Decimals travel as strings (never floats), datetimes as ISO-8601 with offset, enums as
their values, nested dataclasses as objects. Unknown kinds raise :class:`UnknownAlertKind`
so a row written by a newer version is not silently dropped.

Presentation that every channel shares is here too, as pure methods: ``title`` (a short
headline), ``summary()`` (one line) and ``details()`` (ordered name/value pairs). Channels
decide layout and colour; they do not re-derive the facts.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin, get_type_hints

from skimd.domain.formatting import fmt_money, fmt_pct, fmt_price
from skimd.domain.market import PricePoint
from skimd.domain.trading import CandidateSource, ExitReason, GuardKind

PAYLOAD_VERSION = 1


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class UnknownAlertKind(ValueError):
    """A payload names a kind this version does not know (or is malformed)."""


# -- base ----------------------------------------------------------------------------------


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

    @property
    def title(self) -> str:
        return self.kind.replace("_", " ").capitalize()

    def summary(self) -> str:
        return self.title

    def details(self) -> tuple[tuple[str, str], ...]:
        return ()

    def to_payload(self) -> dict[str, Any]:
        return {"kind": self.kind, "v": PAYLOAD_VERSION, "data": _encode_dataclass(self)}


ALERT_TYPES: dict[str, type[Alert]] = {}

A = TypeVar("A", bound=type[Alert])


def register(cls: A) -> A:
    """Class decorator: make ``cls.kind`` decodable by :func:`alert_from_payload`."""
    if not cls.kind or cls.kind in ALERT_TYPES:
        raise ValueError(f"alert kind {cls.kind!r} is empty or registered twice")
    ALERT_TYPES[cls.kind] = cls
    return cls


def alert_from_payload(payload: Mapping[str, Any]) -> Alert:
    """Rebuild an alert from :meth:`Alert.to_payload` output."""
    try:
        kind = payload["kind"]
        data = payload["data"]
    except (KeyError, TypeError) as exc:
        raise UnknownAlertKind("alert payload has no kind/data") from exc
    cls = ALERT_TYPES.get(kind)
    if cls is None:
        raise UnknownAlertKind(f"unknown alert kind {kind!r}")
    try:
        return _decode_dataclass(cls, data)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UnknownAlertKind(f"alert payload of kind {kind!r} is malformed: {exc}") from exc


# -- the alerts ----------------------------------------------------------------------------


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

    @property
    def title(self) -> str:
        return f"{self.source.value.capitalize()} candidate {self.symbol}"

    def summary(self) -> str:
        parts = [f"{self.symbol} ({self.source.value})"]
        if self.gap_pct is not None:
            parts.append(f"gap {fmt_pct(self.gap_pct)}")
        if self.open_price is not None:
            parts.append(f"open {fmt_price(self.open_price)} vs {fmt_price(self.prev_close)}")
        if self.headline:
            parts.append(f"“{self.headline}”")
        return " ".join(parts)

    def details(self) -> tuple[tuple[str, str], ...]:
        rows = [
            ("Symbol", self.symbol),
            ("Source", self.source.value),
            ("Gap", fmt_pct(self.gap_pct)),
            ("Open", fmt_price(self.open_price)),
            ("Prior close", fmt_price(self.prev_close)),
        ]
        if self.headline:
            rows.append(("Headline", self.headline))
        return tuple(rows)


@register
@dataclass(frozen=True, kw_only=True)
class CandidateDigest(Alert):
    """Many candidates in one message (built by the outbox sender from a flood)."""

    kind: ClassVar[str] = "candidate_digest"

    candidates: tuple[CandidateFound, ...]

    @property
    def title(self) -> str:
        return f"{len(self.candidates)} candidates found"

    def summary(self) -> str:
        return f"{len(self.candidates)} candidates: " + ", ".join(
            f"{c.symbol} {fmt_pct(c.gap_pct)}" if c.gap_pct is not None else c.symbol
            for c in self.candidates
        )

    def table_rows(self) -> tuple[str, ...]:
        """Fixed-width rows (header first) for monospaced display."""
        rows = [f"{'Symbol':<8}{'Src':<5}{'Gap':>9}{'Open':>11}{'Prior':>11}  Headline"]
        for c in self.candidates:
            row = (
                f"{c.symbol:<8}{c.source.value:<5}{fmt_pct(c.gap_pct):>9}"
                f"{fmt_price(c.open_price):>11}{fmt_price(c.prev_close):>11}  {c.headline or ''}"
            )
            rows.append(row.rstrip())
        return tuple(rows)


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

    @property
    def title(self) -> str:
        return f"Tradeable {self.symbol}: ORH {fmt_price(self.orh)} / ORL {fmt_price(self.orl)}"

    def summary(self) -> str:
        return (
            f"{self.symbol} ORH {fmt_price(self.orh)} ORL {fmt_price(self.orl)} "
            f"entry {fmt_price(self.entry)} stop {fmt_price(self.stop)}"
        )

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Symbol", self.symbol),
            ("ORH", fmt_price(self.orh)),
            ("ORL", fmt_price(self.orl)),
            ("Entry", fmt_price(self.entry)),
            ("Stop", fmt_price(self.stop)),
            ("Prior close", fmt_price(self.prev_close)),
        )


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

    @property
    def title(self) -> str:
        return f"Order placed: {self.side} {self.quantity} {self.symbol}"

    def summary(self) -> str:
        price = f" @ {fmt_price(self.limit_price)}" if self.limit_price is not None else ""
        stop = f" stop {fmt_price(self.stop_price)}" if self.stop_price is not None else ""
        return f"{self.side} {self.quantity} {self.symbol} {self.order_type}{price}{stop}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Symbol", self.symbol),
            ("Side", self.side),
            ("Quantity", str(self.quantity)),
            ("Type", self.order_type),
            ("Limit", fmt_price(self.limit_price)),
            ("Stop", fmt_price(self.stop_price)),
            ("Order", self.client_order_id),
            ("Broker id", self.broker_order_id or "—"),
        )


@register
@dataclass(frozen=True, kw_only=True)
class OrderFilled(_OrderAlert):
    kind: ClassVar[str] = "order_filled"

    price: Decimal
    commission: Decimal | None = None

    @property
    def title(self) -> str:
        return f"Filled: {self.side} {self.quantity} {self.symbol} @ {fmt_price(self.price)}"

    def summary(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} filled @ {fmt_price(self.price)}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Symbol", self.symbol),
            ("Side", self.side),
            ("Quantity", str(self.quantity)),
            ("Price", fmt_price(self.price)),
            ("Value", fmt_money(self.price * self.quantity)),
            ("Commission", fmt_money(self.commission)),
            ("Order", self.client_order_id),
        )


@register
@dataclass(frozen=True, kw_only=True)
class OrderRejected(_OrderAlert):
    kind: ClassVar[str] = "order_rejected"
    default_severity: ClassVar[Severity] = Severity.WARNING

    reason: str

    @property
    def title(self) -> str:
        return f"Order rejected: {self.side} {self.quantity} {self.symbol}"

    def summary(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} rejected: {self.reason}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Symbol", self.symbol),
            ("Side", self.side),
            ("Quantity", str(self.quantity)),
            ("Order", self.client_order_id),
            ("Reason", self.reason),
        )


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

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.reason is ExitReason.STOP else Severity.INFO

    @property
    def title(self) -> str:
        what = "Stop hit" if self.reason is ExitReason.STOP else "Exit"
        return f"{what}: {self.symbol} {fmt_money(self.pnl)}"

    def summary(self) -> str:
        return (
            f"{self.symbol} {self.quantity} exited ({self.reason.value}) "
            f"{fmt_price(self.entry_price)} → {fmt_price(self.exit_price)} "
            f"P&L {fmt_money(self.pnl)}"
        )

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Symbol", self.symbol),
            ("Quantity", str(self.quantity)),
            ("Reason", self.reason.value),
            ("Entry", fmt_price(self.entry_price)),
            ("Exit", fmt_price(self.exit_price)),
            ("P&L", fmt_money(self.pnl)),
            ("Stop", fmt_price(self.stop)),
        )


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

    @property
    def title(self) -> str:
        return f"Position mismatch: {self.symbol}"

    def summary(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.symbol}: ours {self.ours}, broker {self.broker}{extra}"

    def details(self) -> tuple[tuple[str, str], ...]:
        rows = [("Symbol", self.symbol), ("Ours", str(self.ours)), ("Broker", str(self.broker))]
        if self.detail:
            rows.append(("Detail", self.detail))
        return tuple(rows)


@register
@dataclass(frozen=True, kw_only=True)
class JobFailed(Alert):
    kind: ClassVar[str] = "job_failed"
    default_severity: ClassVar[Severity] = Severity.WARNING

    job_id: str
    error_type: str
    message: str
    consecutive_failures: int = 1

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if self.consecutive_failures >= 3 else Severity.WARNING

    @property
    def title(self) -> str:
        return f"Job failed: {self.job_id}"

    def summary(self) -> str:
        return f"job {self.job_id} failed ({self.error_type}): {self.message}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Job", self.job_id),
            ("Error", self.error_type),
            ("Failures in a row", str(self.consecutive_failures)),
            ("Message", self.message),
        )


@register
@dataclass(frozen=True, kw_only=True)
class JobMissed(Alert):
    kind: ClassVar[str] = "job_missed"
    default_severity: ClassVar[Severity] = Severity.WARNING

    job_id: str
    scheduled_for: datetime
    late_by_s: float

    @property
    def title(self) -> str:
        return f"Job missed: {self.job_id}"

    def summary(self) -> str:
        return (
            f"job {self.job_id} missed its {self.scheduled_for.isoformat()} run "
            f"by {self.late_by_s:.0f}s"
        )

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Job", self.job_id),
            ("Scheduled", self.scheduled_for.isoformat()),
            ("Late by", f"{self.late_by_s:.1f} s"),
        )


@register
@dataclass(frozen=True, kw_only=True)
class BrokerSessionLost(Alert):
    """The brokerage session dropped or another login took it; entries are halted."""

    kind: ClassVar[str] = "broker_session_lost"
    default_severity: ClassVar[Severity] = Severity.CRITICAL

    broker: str
    reason: str
    taken_by_other_login: bool = False

    @property
    def title(self) -> str:
        if self.taken_by_other_login:
            return f"Broker session taken by another login ({self.broker})"
        return f"Broker session lost ({self.broker})"

    def summary(self) -> str:
        return f"{self.title}: {self.reason}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Broker", self.broker),
            ("Competing login", "yes" if self.taken_by_other_login else "no"),
            ("Reason", self.reason),
        )


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

    @property
    def title(self) -> str:
        return f"Broker rate limit: {self.endpoint_class} ({self.broker})"

    def summary(self) -> str:
        return f"{self.broker} {self.endpoint_class} calls blocked until {self.until.isoformat()}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Broker", self.broker),
            ("Endpoint class", self.endpoint_class),
            ("Blocked until", self.until.isoformat()),
        )


@register
@dataclass(frozen=True, kw_only=True)
class GuardTripped(Alert):
    kind: ClassVar[str] = "guard_tripped"
    default_severity: ClassVar[Severity] = Severity.CRITICAL

    guard: GuardKind
    detail: str
    value: Decimal | None = None
    limit: Decimal | None = None

    @property
    def title(self) -> str:
        return f"Guard tripped: {self.guard.value.replace('_', ' ')}"

    def summary(self) -> str:
        numbers = ""
        if self.value is not None or self.limit is not None:
            numbers = f" ({fmt_price(self.value)} vs limit {fmt_price(self.limit)})"
        return f"{self.guard.value}: {self.detail}{numbers}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Guard", self.guard.value),
            ("Value", fmt_price(self.value)),
            ("Limit", fmt_price(self.limit)),
            ("Detail", self.detail),
        )


@register
@dataclass(frozen=True, kw_only=True)
class GuardReleased(Alert):
    """A guard was lifted (``skimd guard unlock``): new entries are allowed again."""

    kind: ClassVar[str] = "guard_released"
    default_severity: ClassVar[Severity] = Severity.WARNING

    guard: GuardKind
    detail: str

    @property
    def title(self) -> str:
        return f"Guard released: {self.guard.value.replace('_', ' ')}"

    def summary(self) -> str:
        return f"{self.guard.value}: {self.detail}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (("Guard", self.guard.value), ("Detail", self.detail))


@register
@dataclass(frozen=True, kw_only=True)
class DaemonStarted(Alert):
    kind: ClassVar[str] = "daemon_started"

    version: str
    broker: str
    live_trading: bool = False

    @property
    def title(self) -> str:
        live = ", LIVE" if self.live_trading else ""
        return f"skimd {self.version} started ({self.broker}{live})"

    def summary(self) -> str:
        return self.title

    def details(self) -> tuple[tuple[str, str], ...]:
        return (
            ("Version", self.version),
            ("Broker", self.broker),
            ("Live trading", "yes" if self.live_trading else "no"),
        )


@register
@dataclass(frozen=True, kw_only=True)
class DaemonStopping(Alert):
    kind: ClassVar[str] = "daemon_stopping"

    reason: str
    exit_code: int = 0

    @property
    def severity(self) -> Severity:
        return Severity.INFO if self.exit_code == 0 else Severity.CRITICAL

    @property
    def title(self) -> str:
        return f"skimd stopping (exit {self.exit_code})"

    def summary(self) -> str:
        return f"skimd stopping (exit {self.exit_code}): {self.reason}"

    def details(self) -> tuple[tuple[str, str], ...]:
        return (("Reason", self.reason), ("Exit code", str(self.exit_code)))


@register
@dataclass(frozen=True, kw_only=True)
class DailySummary(Alert):
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

    @property
    def title(self) -> str:
        return f"Daily summary {self.trading_day.isoformat()}: {fmt_money(self.realised_pnl)}"

    def summary(self) -> str:
        return (
            f"{self.trading_day.isoformat()} trades {self.trades} ({self.wins}W/{self.losses}L) "
            f"P&L {fmt_money(self.realised_pnl)} fees {fmt_money(self.fees)}"
        )

    def details(self) -> tuple[tuple[str, str], ...]:
        rows = [
            ("Trades", str(self.trades)),
            ("Wins / losses", f"{self.wins} / {self.losses}"),
            ("Realised P&L", fmt_money(self.realised_pnl)),
            ("Fees", fmt_money(self.fees)),
            ("Open positions", str(self.open_positions)),
            ("Equity", fmt_money(self.equity)),
        ]
        rows.extend(("Note", note) for note in self.notes)
        return tuple(rows)


class ReconciliationStatus(StrEnum):
    OK = "ok"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    """One ticker in the three-way reconciliation: the quantity our database holds, the
    broker's position, and the net quantity the broker's executions add up to."""

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


RECONCILIATION_CSV_HEADER = ("ticker", "db_qty", "broker_qty", "executions_qty", "status")


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
        return tuple(r for r in self.rows if r.status is ReconciliationStatus.MISMATCH)

    @property
    def title(self) -> str:
        day = self.trading_day.isoformat()
        if self.clean:
            return f"Reconciliation {day}: clean"
        count = len(self.mismatches)
        if count == 0:
            return f"Reconciliation {day}: needs a look"
        return f"Reconciliation {day}: {count} mismatch{'es' if count != 1 else ''}"

    def summary(self) -> str:
        day = self.trading_day.isoformat()
        if not self.mismatches:
            agree = "all agree" if self.clean else "quantities agree; see notes"
            return f"{day}: {len(self.rows)} tickers, {agree}"
        names = ", ".join(r.ticker for r in self.mismatches)
        return f"{day}: {len(self.rows)} tickers, {len(self.mismatches)} mismatched ({names})"

    def details(self) -> tuple[tuple[str, str], ...]:
        mismatched = ", ".join(
            f"{r.ticker} (db {r.db_qty}, broker {r.broker_qty}, executions {r.executions_qty})"
            for r in self.mismatches
        )
        rows = [
            ("Trading day", self.trading_day.isoformat()),
            ("Tickers", str(len(self.rows))),
            ("Clean", "yes" if self.clean else "no"),
            ("Mismatches", mismatched or "none"),
        ]
        rows.extend(("Note", note) for note in self.notes)
        return tuple(rows)

    def table_rows(self, *, mismatches_only: bool = False) -> tuple[str, ...]:
        """Fixed-width rows (header first) for monospaced display, mismatches first."""
        chosen = self.mismatches if mismatches_only else self.rows
        ordered = sorted(chosen, key=lambda r: (r.status is ReconciliationStatus.OK, r.ticker))
        out = [f"{'Ticker':<8}{'DB':>9}{'Broker':>9}{'Execs':>9}  Status"]
        out.extend(
            f"{r.ticker:<8}{r.db_qty:>9}{r.broker_qty:>9}{r.executions_qty:>9}  "
            f"{r.status.value.upper() if r.status is ReconciliationStatus.MISMATCH else 'ok'}"
            for r in ordered
        )
        return tuple(out)

    @property
    def csv_filename(self) -> str:
        return f"reconciliation-{self.trading_day.isoformat()}.csv"

    def csv_text(self) -> str:
        """Every row in the alert's order under a header line; ``\n`` line ends. Tickers
        are ASX codes and the rest numbers or ``ok``/``mismatch``, so nothing needs quoting;
        a text cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``
        first) gets a leading apostrophe all the same."""
        lines = [",".join(RECONCILIATION_CSV_HEADER)]
        for r in self.rows:
            cells = (
                _csv_cell(r.ticker),
                str(r.db_qty),
                str(r.broker_qty),
                str(r.executions_qty),
                r.status.value,
            )
            lines.append(",".join(cells))
        return "\n".join(lines) + "\n"

    def csv_attachment(self) -> tuple[str, bytes]:
        """``(filename, UTF-8 bytes)`` of the CSV, for channels that attach files."""
        return self.csv_filename, self.csv_text().encode("utf-8")


def _csv_cell(text: str) -> str:
    if text[:1] in ("=", "+", "@", "-", "\t", "\r"):
        text = "'" + text
    if any(ch in text for ch in ',"\n\r'):
        text = '"' + text.replace('"', '""') + '"'
    return text


# -- codec -----------------------------------------------------------------------------------

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _encode_dataclass(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def _encode(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int | float | str) and not isinstance(value, Enum):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    raise TypeError(f"cannot encode {type(value).__name__} in an alert payload")


T = TypeVar("T")


def _decode_dataclass(cls: type[T], data: Mapping[str, Any]) -> T:
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} data must be an object")
    hints = _hints(cls)
    kwargs = {
        f.name: _decode(hints[f.name], data[f.name])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in data
    }
    return cls(**kwargs)


def _decode(tp: Any, value: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        inner = get_args(tp)[0]
        return tuple(_decode(inner, v) for v in value)
    decoder = _DECODERS.get(tp)
    if decoder is not None:
        return decoder(value)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _decode_dataclass(tp, value)
    raise TypeError(f"cannot decode {tp!r}")


def _strict(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str | int):
        raise TypeError("a Decimal must travel as a string")
    return Decimal(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


_DECODERS: dict[Any, Callable[[Any], Any]] = {
    str: _strict(str),
    int: _strict(int),
    bool: _strict(bool),
    float: _float,
    Decimal: _decimal,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
}
