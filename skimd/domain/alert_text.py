"""The words of every alert, shared by all channels: a short title, a one-line summary and
ordered name/value details.

One presenter per kind, registered on :func:`describe`: the text of a kind is in one
function, next to nothing else. Channels decide layout, colour and icons (console line,
Discord embed, JSON-lines record); they never re-derive the facts or the words. The
digests' tables and CSV are in :mod:`skimd.domain.alert_tables`.

A change here changes what the trader reads (the demo's console lines included); stored
alerts are unaffected, since only the facts are stored.

Longer than 500 lines because it holds one short presenter per alert kind and nothing
else: the words of every alert in one place, which is the point of the module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import singledispatch

from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    BrokerSessionRestored,
    BrokerSessionStillDown,
    CandidateDigest,
    CandidateFound,
    ControlAction,
    DaemonStarted,
    DaemonStopping,
    DailySummary,
    EntryLapsed,
    EntrySettled,
    GuardReleased,
    GuardTripped,
    HeldAlert,
    HeldPosition,
    JobFailed,
    JobMissed,
    JobOverrun,
    LateCandidates,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    PositionExited,
    PositionMismatch,
    ProtectionFallback,
    ProtectionRestored,
    QuietDigest,
    QuoteStreamBack,
    QuoteStreamDown,
    ReconciliationDigest,
    TradeableCandidate,
)
from skimd.domain.formatting import MISSING, fmt_duration, fmt_money, fmt_pct, fmt_price
from skimd.domain.protection import COVER_WORDS, PAUSED_COVER_WORDS, SELL_WORDS, Cover
from skimd.domain.trading import ExitReason

Details = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class AlertText:
    """``title``: a headline; ``summary``: one line (channels may still squash whitespace a
    headline or message brings); ``details``: name/value pairs in display order."""

    title: str
    summary: str
    details: Details = ()


@singledispatch
def describe(alert: Alert) -> AlertText:
    """The words for ``alert``; a kind without a presenter of its own reads as its name."""
    title = alert.kind.replace("_", " ").capitalize()
    return AlertText(title, title)


# -- scans ---------------------------------------------------------------------------------


@describe.register
def _candidate_found(a: CandidateFound) -> AlertText:
    parts = [f"{a.symbol} ({a.source.value})"]
    if a.gap_pct is not None:
        parts.append(f"gap {fmt_pct(a.gap_pct)}")
    if a.open_price is not None:
        parts.append(f"open {fmt_price(a.open_price)} vs {fmt_price(a.prev_close)}")
    if a.headline:
        parts.append(f"“{a.headline}”")
    details = [
        ("Symbol", a.symbol),
        ("Source", a.source.value),
        ("Gap", fmt_pct(a.gap_pct)),
        ("Open", fmt_price(a.open_price)),
        ("Prior close", fmt_price(a.prev_close)),
    ]
    if a.headline:
        details.append(("Headline", a.headline))
    return AlertText(
        title=f"{a.source.value.capitalize()} candidate {a.symbol}",
        summary=" ".join(parts),
        details=tuple(details),
    )


@describe.register
def _candidate_digest(a: CandidateDigest) -> AlertText:
    listed = ", ".join(
        f"{c.symbol} {fmt_pct(c.gap_pct)}" if c.gap_pct is not None else c.symbol
        for c in a.candidates
    )
    return AlertText(
        title=f"{len(a.candidates)} candidates found",
        summary=f"{len(a.candidates)} candidates: {listed}",
    )


@describe.register
def _tradeable_candidate(a: TradeableCandidate) -> AlertText:
    return AlertText(
        title=f"Tradeable {a.symbol}: ORH {fmt_price(a.orh)} / ORL {fmt_price(a.orl)}",
        summary=(
            f"{a.symbol} ORH {fmt_price(a.orh)} ORL {fmt_price(a.orl)} "
            f"entry {fmt_price(a.entry)} stop {fmt_price(a.stop)}"
        ),
        details=(
            ("Symbol", a.symbol),
            ("ORH", fmt_price(a.orh)),
            ("ORL", fmt_price(a.orl)),
            ("Entry", fmt_price(a.entry)),
            ("Stop", fmt_price(a.stop)),
            ("Prior close", fmt_price(a.prev_close)),
        ),
    )


# -- orders and positions --------------------------------------------------------------------


@describe.register
def _order_placed(a: OrderPlaced) -> AlertText:
    price = f" @ {fmt_price(a.limit_price)}" if a.limit_price is not None else ""
    stop = f" stop {fmt_price(a.stop_price)}" if a.stop_price is not None else ""
    return AlertText(
        title=f"Order placed: {a.side} {a.quantity} {a.symbol}",
        summary=f"{a.side} {a.quantity} {a.symbol} {a.order_type}{price}{stop}",
        details=(
            ("Symbol", a.symbol),
            ("Side", a.side),
            ("Quantity", str(a.quantity)),
            ("Type", a.order_type),
            ("Limit", fmt_price(a.limit_price)),
            ("Stop", fmt_price(a.stop_price)),
            ("Order", a.client_order_id),
            ("Broker id", a.broker_order_id or MISSING),
        ),
    )


@describe.register
def _order_filled(a: OrderFilled) -> AlertText:
    return AlertText(
        title=f"Filled: {a.side} {a.quantity} {a.symbol} @ {fmt_price(a.price)}",
        summary=f"{a.side} {a.quantity} {a.symbol} filled @ {fmt_price(a.price)}",
        details=(
            ("Symbol", a.symbol),
            ("Side", a.side),
            ("Quantity", str(a.quantity)),
            ("Price", fmt_price(a.price)),
            ("Value", fmt_money(a.price * a.quantity)),
            ("Commission", fmt_money(a.commission)),
            ("Order", a.client_order_id),
        ),
    )


@describe.register
def _order_rejected(a: OrderRejected) -> AlertText:
    return AlertText(
        title=f"Order rejected: {a.side} {a.quantity} {a.symbol}",
        summary=f"{a.side} {a.quantity} {a.symbol} rejected: {a.reason}",
        details=(
            ("Symbol", a.symbol),
            ("Side", a.side),
            ("Quantity", str(a.quantity)),
            ("Order", a.client_order_id),
            ("Reason", a.reason),
        ),
    )


@describe.register
def _entry_settled(a: EntrySettled) -> AlertText:
    shares = f"{a.quantity:,}"
    title = f"Bought {shares} {a.symbol} @ {fmt_price(a.price)}"
    parts = [title, f"stop {fmt_price(a.stop)}"]
    risk = a.risk
    if risk is not None:
        parts.append(f"risk {_dollars(risk)} = 1R")
    parts.append("fees not known yet" if a.fees is None else f"fees {_dollars(a.fees)}")
    if a.quantity != a.ordered:
        parts.append(f"{shares} of {a.ordered:,} ordered filled")
    if a.cover is not Cover.BROKER_STOP:
        parts.append(f"protected by {COVER_WORDS[a.cover]}")
    return AlertText(
        title=f"{title}, stop {fmt_price(a.stop)}",
        summary=" · ".join(parts),
        details=(
            ("Shares", shares if a.quantity == a.ordered else f"{shares} of {a.ordered:,}"),
            ("Price", fmt_price(a.price)),
            ("Value", _dollars(a.price * a.quantity)),
            ("Stop", fmt_price(a.stop)),
            ("Risk (1R)", _dollars(risk)),
            ("Fees", "not known yet" if a.fees is None else _dollars(a.fees)),
            ("Protected by", COVER_WORDS[a.cover]),
        ),
    )


@describe.register
def _entry_lapsed(a: EntryLapsed) -> AlertText:
    limit = f" @ {fmt_price(a.limit_price)}" if a.limit_price is not None else ""
    title = f"Entry lapsed: {a.symbol}, nothing bought"
    return AlertText(
        title=title,
        summary=f"{a.symbol} entry of {a.ordered:,}{limit} ended unfilled: {a.reason}",
        details=(
            ("Ordered", f"{a.ordered:,}{limit}"),
            ("Why", a.reason),
        ),
    )


@describe.register
def _position_exited(a: PositionExited) -> AlertText:
    what = "Stop hit" if a.reason is ExitReason.STOP else "Exit"
    net, r = a.net_pnl, a.r_multiple
    headline = fmt_money(a.pnl) if net is None else fmt_money(net)
    if r is not None:
        headline += f" ({_r(r)})"
    held = fmt_duration(a.held_s)
    if net is None:
        result = f"gross {fmt_money(a.pnl)} (fees not known yet)"
    else:
        result = f"net {fmt_money(net)}" + (f" = {_r(r)}" if r is not None else "")
        result += f" · fees {_dollars(a.fees)}"
    summary = (
        f"{a.symbol} sold {a.quantity:,} ({a.reason.value}) "
        f"{fmt_price(a.entry_price)} → {fmt_price(a.exit_price)} ({fmt_pct(a.move_pct)}) · "
        f"{result} · held {held}"
    )
    if a.risk is not None:
        summary += f" · risk {_dollars(a.risk)}"
    return AlertText(
        title=f"{what}: {a.symbol} {headline}",
        summary=summary,
        details=(
            ("Shares", f"{a.quantity:,}"),
            ("Reason", a.reason.value),
            ("Entry", fmt_price(a.entry_price)),
            ("Exit", fmt_price(a.exit_price)),
            ("Move", fmt_pct(a.move_pct)),
            ("Gross P&L", fmt_money(a.pnl)),
            ("Fees", "not known yet" if a.fees is None else _dollars(a.fees)),
            ("Net P&L", fmt_money(net)),
            ("R", MISSING if r is None else _r(r)),
            ("Risk (1R)", _dollars(a.risk)),
            ("Held", held),
            ("Stop", fmt_price(a.stop)),
        ),
    )


def _dollars(value: Decimal | None) -> str:
    """Unsigned dollars and cents (a risk, a fee, a value)."""
    return MISSING if value is None else f"${abs(value):,.2f}"


def _r(value: Decimal) -> str:
    return f"{value:+.2f}R"


@describe.register
def _position_mismatch(a: PositionMismatch) -> AlertText:
    extra = f" ({a.detail})" if a.detail else ""
    details = [("Symbol", a.symbol), ("Ours", str(a.ours)), ("Broker", str(a.broker))]
    if a.detail:
        details.append(("Detail", a.detail))
    return AlertText(
        title=f"Position mismatch: {a.symbol}",
        summary=f"{a.symbol}: ours {a.ours}, broker {a.broker}{extra}",
        details=tuple(details),
    )


@describe.register
def _protection_fallback(a: ProtectionFallback) -> AlertText:
    sold = SELL_WORDS[a.refused]
    retry = MISSING if a.retry_at is None else _after(a.retry_at - a.occurred_at)
    cover = COVER_WORDS[a.cover] if a.quantity else "none needed: the position is closed"
    return AlertText(
        title=f"{sold.capitalize()} refused: {a.symbol} — {cover}",
        summary=(
            f"{a.symbol} {sold} refused ({a.reason}); {a.quantity} shares: "
            f"{cover}, stop {fmt_price(a.stop)}; retry {retry}"
        ),
        details=(
            ("Symbol", a.symbol),
            ("Refused", sold),
            ("Order", a.client_order_id),
            ("Reason", a.reason),
            ("Shares", str(a.quantity)),
            ("Protected by", cover),
            ("Stop", fmt_price(a.stop)),
            ("Next try", retry),
            ("What to do", _what_to_do(a)),
        ),
    )


def _after(wait: timedelta) -> str:
    seconds = max(int(wait.total_seconds()), 0)
    return f"in {seconds} s" if seconds < 120 else f"in {seconds // 60} min"


def _what_to_do(a: ProtectionFallback) -> str:
    by_hand = (
        f"sell {a.symbol} by hand at the broker (skimd's sync books it and cancels its orders)"
    )
    if a.cover is Cover.SOFTWARE_STOP:
        return (
            "Keep skimd running: the software stop sells only while it polls. Fix what the "
            f"broker objects to, or {by_hand}."
        )
    if a.cover is Cover.BROKER_STOP:
        return f"The stop protects it; skimd retries with back-off. To exit now, {by_hand}."
    if a.cover is Cover.EXITING:
        return "Nothing: working exit orders are selling it." if a.quantity else "Nothing."
    return f"Act now: {by_hand}."


@describe.register
def _protection_restored(a: ProtectionRestored) -> AlertText:
    times = "once" if a.refusals == 1 else f"{a.refusals} times"
    return AlertText(
        title=f"Resting stop back at the broker: {a.symbol}",
        summary=(
            f"{a.symbol} resting stop working again for {a.quantity} shares at "
            f"{fmt_price(a.stop)} (refused {times} before)"
        ),
        details=(
            ("Symbol", a.symbol),
            ("Shares", str(a.quantity)),
            ("Stop", fmt_price(a.stop)),
            ("Order", a.client_order_id),
            ("Refused before", times),
            ("Refused since", a.since.isoformat()),
        ),
    )


# -- the daemon, its jobs and the broker session ----------------------------------------------


@describe.register
def _job_failed(a: JobFailed) -> AlertText:
    return AlertText(
        title=f"Job failed: {a.job_id}",
        summary=f"job {a.job_id} failed ({a.error_type}): {a.message}",
        details=(
            ("Job", a.job_id),
            ("Error", a.error_type),
            ("Failures in a row", str(a.consecutive_failures)),
            ("Message", a.message),
        ),
    )


@describe.register
def _job_overrun(a: JobOverrun) -> AlertText:
    runs, took = f"{a.skipped_runs} run{'s' * (a.skipped_runs != 1)}", fmt_duration(a.ran_for_s)
    what = (
        f"one run took {took}; {runs} skipped meanwhile"
        if a.finished
        else f"one run still going after {took}; {runs} skipped so far"
    )
    return AlertText(
        title=f"Job overran: {a.job_id}",
        summary=f"job {a.job_id}: {what}",
        details=(
            ("Job", a.job_id),
            ("Run started", a.started_at.isoformat()),
            ("Ran for", took + ("" if a.finished else " (still running)")),
            ("Runs skipped", str(a.skipped_runs)),
        ),
    )


@describe.register
def _job_missed(a: JobMissed) -> AlertText:
    return AlertText(
        title=f"Job missed: {a.job_id}",
        summary=(
            f"job {a.job_id} missed its {a.scheduled_for.isoformat()} run "
            f"by {a.late_by_s:.0f}s"
        ),
        details=(
            ("Job", a.job_id),
            ("Scheduled", a.scheduled_for.isoformat()),
            ("Late by", f"{a.late_by_s:.1f} s"),
        ),
    )


@describe.register
def _broker_session_lost(a: BrokerSessionLost) -> AlertText:
    if a.taken_by_other_login:
        title = f"Broker session taken by another login ({a.broker})"
    else:
        title = f"Broker session lost ({a.broker})"
    competing = "yes" if a.taken_by_other_login else "no"
    details = [("Broker", a.broker), ("Competing login", competing), ("Reason", a.reason)]
    summary = f"{title}: {a.reason}"
    if a.paused:
        until = a.retry_at.isoformat() if a.retry_at is not None else "the session is back"
        paused = f"market-data and order jobs paused until {until}"
        held = "; ".join(_held(p) for p in a.positions) or "none"
        summary = f"{summary}; {paused}; open positions: {held}"
        details += [("Paused", paused), ("Open positions", held)]
    return AlertText(title=title, summary=summary, details=tuple(details))


def _held(p: HeldPosition) -> str:
    at = f" at {fmt_price(p.stop)}" if p.stop is not None else ""
    return f"{p.symbol} {p.quantity} sh: {PAUSED_COVER_WORDS[p.cover].format(at=at)}"


@describe.register
def _broker_session_restored(a: BrokerSessionRestored) -> AlertText:
    what = "taken by another login" if a.taken_by_other_login else "lost"
    down = fmt_duration(a.down_for_s)
    title = f"Broker session restored ({a.broker}) after {down}"
    return AlertText(
        title=title,
        summary=f"{title}; it was {what} since {a.down_since.isoformat()}; jobs resumed",
        details=(
            ("Broker", a.broker),
            ("Was", what),
            ("Down since", a.down_since.isoformat()),
            ("Down for", down),
            ("Reason", a.reason or MISSING),
        ),
    )


@describe.register
def _broker_rate_limited(a: BrokerRateLimited) -> AlertText:
    return AlertText(
        title=f"Broker rate limit: {a.endpoint_class} ({a.broker})",
        summary=f"{a.broker} {a.endpoint_class} calls blocked until {a.until.isoformat()}",
        details=(
            ("Broker", a.broker),
            ("Endpoint class", a.endpoint_class),
            ("Blocked until", a.until.isoformat()),
        ),
    )


@describe.register
def _guard_tripped(a: GuardTripped) -> AlertText:
    numbers = ""
    if a.value is not None or a.limit is not None:
        numbers = f" ({fmt_price(a.value)} vs limit {fmt_price(a.limit)})"
    return AlertText(
        title=f"Guard tripped: {a.guard.value.replace('_', ' ')}",
        summary=f"{a.guard.value}: {a.detail}{numbers}",
        details=(
            ("Guard", a.guard.value),
            ("Value", fmt_price(a.value)),
            ("Limit", fmt_price(a.limit)),
            ("Detail", a.detail),
        ),
    )


@describe.register
def _guard_released(a: GuardReleased) -> AlertText:
    return AlertText(
        title=f"Guard released: {a.guard.value.replace('_', ' ')}",
        summary=f"{a.guard.value}: {a.detail}",
        details=(("Guard", a.guard.value), ("Detail", a.detail)),
    )


@describe.register
def _control_action(a: ControlAction) -> AlertText:
    who = a.name if a.name == str(a.uid) else f"{a.name} (uid {a.uid})"
    details = (("Action", a.action), ("By", who), ("Detail", a.detail))
    return AlertText(f"Operator: {a.action}", f"{a.action} by {who}: {a.detail}", details)


@describe.register
def _daemon_started(a: DaemonStarted) -> AlertText:
    live = ", LIVE" if a.live_trading else ""
    title = f"skimd {a.version} started ({a.broker}{live})"
    return AlertText(
        title=title,
        summary=title,
        details=(
            ("Version", a.version),
            ("Broker", a.broker),
            ("Live trading", "yes" if a.live_trading else "no"),
        ),
    )


@describe.register
def _daemon_stopping(a: DaemonStopping) -> AlertText:
    return AlertText(
        title=f"skimd stopping (exit {a.exit_code})",
        summary=f"skimd stopping (exit {a.exit_code}): {a.reason}",
        details=(("Reason", a.reason), ("Exit code", str(a.exit_code))),
    )


# -- end of day ------------------------------------------------------------------------------


@describe.register
def _daily_summary(a: DailySummary) -> AlertText:
    day = a.trading_day.isoformat()
    rate = MISSING if a.win_rate is None else f"{a.win_rate}%"
    total_r = MISSING if a.total_r is None else _r(a.total_r)
    if a.unrated:
        total_r += f" ({a.unrated} without a known risk)"
    details = [
        ("Closed round trips", str(a.closed)),
        ("Wins / losses", f"{a.wins} / {a.losses}"),
        ("Win rate", rate),
        ("Still open", str(a.open_positions)),
        ("Net P&L", fmt_money(a.realised_pnl)),
        ("Total R", total_r),
        ("Fees paid today", _dollars(a.fees)),
    ]
    if a.candidates is not None:
        details.append(("Candidates", str(a.candidates)))
    if a.reconciliation_clean is not None:
        details.append(("Reconciliation", "clean" if a.reconciliation_clean else "MISMATCH"))
    if a.equity is not None:
        details.append(("Equity", _dollars(a.equity)))
    if a.notes:
        details.append(("Notes", "; ".join(a.notes)))
    r_words = "" if a.total_r is None else f" = {_r(a.total_r)}"
    return AlertText(
        title=f"Daily summary {day}: {fmt_money(a.realised_pnl)} net{r_words}",
        summary=(
            f"{day} round trips: {a.closed} closed ({a.wins}W/{a.losses}L, win rate {rate}), "
            f"{a.open_positions} open · net {fmt_money(a.realised_pnl)}{r_words}"
        ),
        details=tuple(details),
    )


@describe.register
def _reconciliation_digest(a: ReconciliationDigest) -> AlertText:
    day = a.trading_day.isoformat()
    count = len(a.mismatches)
    names = ", ".join(r.ticker for r in a.mismatches)
    if a.clean:
        title = f"Reconciliation {day}: clean"
    elif count == 0:
        title = f"Reconciliation {day}: needs a look"
    else:
        title = f"Reconciliation {day}: {count} mismatch{'es' if count != 1 else ''}"
    if count == 0:
        agree = "all agree" if a.clean else "quantities agree; see notes"
        summary = f"{day}: {len(a.rows)} tickers, {agree}"
    else:
        summary = f"{day}: {len(a.rows)} tickers, {count} mismatched ({names})"
    mismatched = ", ".join(
        f"{r.ticker} (db {r.db_qty}, broker {r.broker_qty}, executions {r.executions_qty})"
        for r in a.mismatches
    )
    details = [
        ("Trading day", day),
        ("Tickers", str(len(a.rows))),
        ("Clean", "yes" if a.clean else "no"),
        ("Mismatches", mismatched or "none"),
    ]
    details.extend(("Note", note) for note in a.notes)
    return AlertText(title=title, summary=summary, details=tuple(details))


# -- added for issue 16 ----------------------------------------------------------------------


@describe.register
def _broker_session_still_down(a: BrokerSessionStillDown) -> AlertText:
    what = "taken by another login" if a.taken_by_other_login else "lost"
    title = f"Broker session still down ({a.broker}) after {int(a.down_for_s // 60)} min"
    held = "; ".join(_held(p) for p in a.positions) or "none"
    return AlertText(
        title=title,
        summary=(
            f"{title}: {what} since {a.down_since.isoformat()} ({a.reason}); "
            f"no entries or software stops until it is back; open positions: {held}"
        ),
        details=(
            ("Broker", a.broker),
            ("Was", what),
            ("Down since", a.down_since.isoformat()),
            ("Reason", a.reason or MISSING),
            ("Open positions", held),
        ),
    )


@describe.register
def _late_candidates(a: LateCandidates) -> AlertText:
    zone = a.window_closed_at.tzinfo
    closed = f"{a.window_closed_at:%H:%M}"
    count = len(a.candidates)
    listed = ", ".join(c.symbol for c in a.candidates)
    return AlertText(
        title=f"{count} late candidate{'s' * (count != 1)} {a.trading_day.isoformat()}",
        summary=f"{count} found after {closed}, not traded today: {listed}",
        details=tuple(
            (c.symbol, f"{c.occurred_at.astimezone(zone):%H:%M} {c.headline or c.source.value}")
            for c in a.candidates
        ),
    )


@describe.register
def _quote_stream_down(a: QuoteStreamDown) -> AlertText:
    title = f"Quote stream down ({a.broker})"
    fallback = f"polling every {a.poll_interval_s}s until it is back"
    return AlertText(
        title=title,
        summary=f"{title}: {a.reason}; {fallback}",
        details=(("Broker", a.broker), ("Reason", a.reason or MISSING), ("Meanwhile", fallback)),
    )


@describe.register
def _quote_stream_back(a: QuoteStreamBack) -> AlertText:
    down = fmt_duration(a.down_for_s)
    title = f"Quote stream back ({a.broker}) after {down}"
    return AlertText(
        title=title,
        summary=f"{title}; entries and stops react on the tick again",
        details=(
            ("Broker", a.broker),
            ("Down since", a.down_since.isoformat()),
            ("Down for", down),
            ("Reason", a.reason or MISSING),
        ),
    )


# -- quiet digests ---------------------------------------------------------------------------


def quiet_digest(alerts: Sequence[Alert], *, occurred_at: datetime) -> QuietDigest:
    """The digest of ``alerts`` (held by a phone channel), each as its one-line summary."""
    return QuietDigest(
        occurred_at=occurred_at,
        held=tuple(
            HeldAlert(
                at=a.occurred_at,
                kind=a.kind,
                severity=a.severity,
                line=" ".join(describe(a).summary.split()),
            )
            for a in alerts
        ),
    )


def _kind_label(kind: str) -> str:
    return kind.replace("_", " ")


@describe.register
def _quiet_digest(a: QuietDigest) -> AlertText:
    counts = Counter(h.kind for h in a.held)
    tally = ", ".join(f"{n} {_kind_label(kind)}" for kind, n in counts.items())
    noun = "alert" if len(a.held) == 1 else "alerts"
    return AlertText(
        title=f"{len(a.held)} quiet {noun}",
        summary=f"{len(a.held)} quiet {noun}: {tally}" if a.held else "no quiet alerts",
        details=tuple((_kind_label(h.kind).capitalize(), h.line) for h in a.held),
    )
