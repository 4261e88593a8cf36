"""Status for ``skimd status``: read-only, safe while the daemon runs.

Whether a daemon is running comes from the data-dir lock (its holder's pid); the job plan
comes from the same job table and triggers the daemon uses, computed on the given clock.
Trading state (today's candidates, open positions, today's orders, the kill switch) is read
in one read-only unit of work, which never takes the write lock. Nothing here talks to the
broker: a position's price is the last daily close stored in the database, if any.

The broker session is what the daemon last recorded (:func:`broker_session`): its state,
since when, until when the market-data and order jobs are paused, the last session renewal;
shown as current only while the daemon that recorded it runs.

Each open position says what protects it (:func:`~skimd.domain.protection.protection_of`,
read from its orders as the daemon records them): a resting stop working at the broker, the
software stop (which acts only while the daemon runs, so without one it is reported as not
protecting), working exits, or nothing; and the broker's open runs of refusals of its stop
or exits, with when each is tried again.

Tickers an operator paused (``skimd pause``) are listed with who paused them, when and
why; a position an operator asked to flatten says since when and by whom.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from skimd.clock import Clock
from skimd.domain.broker_session import SessionRecord, SessionState
from skimd.domain.calendar import MarketCalendar
from skimd.domain.control import FlattenRequest
from skimd.domain.protection import Cover, protection_of
from skimd.domain.trading import (
    CandidateRecord,
    IntentRecord,
    PositionRecord,
    unrealised_pnl,
)
from skimd.services.jobs import Every, JobResult, PlannedJob, Trigger, Window
from skimd.services.ports.trading import TradingStore, TradingTx

# Shown until a daemon has recorded the session's state (every transition: up, lost,
# competing, paused until, restored, renewed, stopped); status never opens a broker session.
SESSION_NOT_RECORDED = "unknown (not recorded)"
# How far back a position's last stored daily close may be to count as its last price.
LAST_PRICE_LOOKBACK_DAYS = 30
# How many days ahead to look for a job's next allowed run (covers Easter + a weekend).
_PLAN_HORIZON_DAYS = 10

LastRuns = Callable[[Sequence[str]], Mapping[str, JobResult]]
NextFire = Callable[[Trigger, ZoneInfo, datetime], "datetime | None"]
"""When a trigger next fires at or after a time, in a zone (the scheduler's arithmetic)."""


@dataclass
class StatusSources:
    """Everything status reads. ``store``/``last_runs`` are None when the database does
    not exist yet (status then says so and shows the plan only)."""

    config: str
    data_dir: Path
    lock_path: Path
    database_path: Path
    broker: str
    clock: Clock
    calendar: MarketCalendar
    jobs: Sequence[PlannedJob]
    next_fire: NextFire
    store: TradingStore | None = None
    last_runs: LastRuns | None = None


def running_pid(lock_path: Path) -> int | None:
    """The pid holding the instance lock at ``lock_path``, or None when no daemon runs on
    that data dir (-1 when it runs but its pid is unreadable)."""
    if not lock_path.exists():
        return None
    fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def collect_status(src: StatusSources) -> dict[str, Any]:
    """The status report as JSON-safe data (Decimals and datetimes as strings)."""
    zone = src.calendar.zone
    now = src.clock.now().astimezone(zone)
    today = now.date()
    pid = running_pid(src.lock_path)
    report: dict[str, Any] = {
        "daemon": f"running (pid {pid})" if pid else "not running",
        "pid": pid,
        "config": src.config,
        "data_dir": str(src.data_dir),
        "market": market_line(src.calendar, now),
        "now": now.isoformat(),
        "database": {"path": str(src.database_path), "exists": src.store is not None},
        "broker": broker_session(src.broker, None, running=pid is not None, zone=zone),
        "guard": None,
        "paused_tickers": [],
        "candidates": [],
        "positions": [],
        "orders": [],
    }
    if src.store is not None:
        start, end = src.calendar.day_bounds(today)
        with src.store.read() as tx:
            guard = tx.guard()
            report["broker"] = broker_session(
                src.broker, tx.last_session(), running=pid is not None, zone=zone
            )
            report["guard"] = {
                "locked": guard.locked,
                "reason": guard.reason,
                "changed_at": _iso(guard.changed_at, zone),
            }
            report["paused_tickers"] = [
                {
                    "ticker": p.ticker,
                    "by": p.name,
                    "uid": p.uid,
                    "at": _iso(p.at, zone),
                    "reason": p.reason,
                }
                for p in tx.paused_tickers()
            ]
            flattening = {r.position_id: r for r in tx.flatten_requests()}
            report["candidates"] = [_candidate(c) for c in tx.candidates(today)]
            report["positions"] = [
                _position(tx, p, today, zone, running=pid is not None, flattening=flattening)
                for p in tx.open_positions()
            ]
            report["orders"] = [
                _order(i, zone) for i in tx.intents_between(start, end)
            ]
    runs = src.last_runs([s.id for s in src.jobs]) if src.last_runs is not None else {}
    report["jobs"] = [
        {
            "job": spec.id,
            "description": spec.description,
            "next_run": _iso(next_run(spec, src.calendar, now, src.next_fire)),
            "last_run": _last_run(runs.get(spec.id), zone),
        }
        for spec in src.jobs
        if not spec.internal
    ]
    return report


def next_run(
    spec: PlannedJob, calendar: MarketCalendar, now: datetime, next_fire: NextFire
) -> datetime | None:
    """When ``spec`` next does real work: its trigger's next fire time that the supervisor
    would not skip (market-hours jobs only on trading days, windowed jobs inside their
    window), looking up to ``_PLAN_HORIZON_DAYS`` ahead."""
    zone = calendar.zone
    now = now.astimezone(zone)
    at = now
    horizon = now + timedelta(days=_PLAN_HORIZON_DAYS)
    while at < horizon:
        fire = next_fire(spec.trigger, zone, at)
        if fire is None:
            return None
        fire = fire.astimezone(zone)
        if not spec.market_hours:
            return fire
        session = calendar.session(fire.date())
        _, tomorrow = calendar.day_bounds(fire.date())
        if session is None:
            at = tomorrow
            continue
        if isinstance(spec.trigger, Every) and spec.trigger.window is not Window.ANYTIME:
            if fire < session.open_at:
                at = session.open_at
                continue
            if not session.is_open(fire):
                at = tomorrow
                continue
        return fire
    return None


def broker_session(
    kind: str, rec: SessionRecord | None, *, running: bool, zone: tzinfo
) -> dict[str, Any]:
    """The broker session as the daemon last recorded it. ``current`` only while the daemon
    that recorded it runs: a stopped daemon's last state is shown as that, never as now."""
    current = rec is not None and running and rec.stopped_at is None
    out: dict[str, Any] = {
        "kind": kind,
        "session": _session_line(rec, running=running, zone=zone),
        "state": rec.state.value if current and rec is not None else "unknown",
        "current": current,
        "last_recorded_state": None if rec is None else rec.state.value,
        "since": None,
        "reason": None,
        "paused": False,
        "paused_until": None,
        "recorded_at": None,
        "daemon_stopped_at": None,
        "last_renewal": None,
        "renewal_expires_at": None,
    }
    if rec is not None:
        out.update(
            since=_iso(rec.since, zone),
            reason=rec.reason or None,
            paused=current and rec.down,
            paused_until=_iso(rec.paused_until, zone) if current and rec.down else None,
            recorded_at=_iso(rec.at, zone),
            daemon_stopped_at=_iso(rec.stopped_at, zone),
            last_renewal=_iso(rec.renewed_at, zone),
            renewal_expires_at=_iso(rec.renewal_expires_at, zone),
        )
    return out


def _session_line(rec: SessionRecord | None, *, running: bool, zone: tzinfo) -> str:
    if rec is None:
        return SESSION_NOT_RECORDED

    def at(value: datetime) -> str:
        return f"{value.astimezone(zone):%Y-%m-%d %H:%M:%S}"

    renewal = ""
    if rec.renewed_at is not None:
        expires = f", expires {at(rec.renewal_expires_at)}" if rec.renewal_expires_at else ""
        renewal = f"; last renewal {at(rec.renewed_at)}{expires}"
    since = f" since {at(rec.since)}" if rec.since is not None else ""
    if not running or rec.stopped_at is not None:
        last = f"{rec.state.value}{since}, recorded {at(rec.at)}"
        if rec.stopped_at is not None:
            last += f" by a daemon that stopped at {at(rec.stopped_at)}"
        who = "no daemon running" if not running else "not yet recorded by this daemon"
        return f"unknown: {who} (last: {last}){renewal}"
    if not rec.down:
        return f"authenticated{since}{renewal}"
    what = "COMPETING (taken by another login)" if rec.state is SessionState.COMPETING else "LOST"
    until = f"until {at(rec.paused_until)}" if rec.paused_until else "until it is back"
    return (
        f"{what}{since}: {rec.reason}; market-data and order jobs paused {until}{renewal}"
    )


# -- presentation helpers -------------------------------------------------------------------


def market_line(calendar: MarketCalendar, now: datetime) -> str:
    """The market today, in one phrase (closed for a holiday, open or closed with hours)."""
    session = calendar.session(now.date())
    if session is None:
        return f"closed today ({calendar.holiday_name(now.date()) or 'weekend'})"
    return (
        f"{'open' if session.is_open(now) else 'closed'}; today {session.open_at:%H:%M}-"
        f"{session.close_at:%H:%M}{' (early close)' if session.early_close else ''}"
    )


def _candidate(c: CandidateRecord) -> dict[str, Any]:
    return {
        "ticker": c.ticker,
        "state": c.status.value,
        "gap_pct": _s(c.gap_pct),
        "open": _s(c.open_price),
        "prev_close": _s(c.prev_close),
        "volume": c.volume,
        "price_sensitive": c.price_sensitive,
        "news_headline": c.news_headline,
        "orh": _s(c.orh),
        "orl": _s(c.orl),
    }


def _position(
    tx: TradingTx,
    p: PositionRecord,
    today: date,
    zone: tzinfo,
    *,
    running: bool,
    flattening: Mapping[int, FlattenRequest],
) -> dict[str, Any]:
    bars = tx.daily_bars(p.ticker, today - timedelta(days=LAST_PRICE_LOOKBACK_DAYS), today)
    last = bars[-1] if bars else None
    intents = tx.intents_for_position(p.id) if p.id is not None else []
    asked = None if p.id is None else flattening.get(p.id)
    return {
        "ticker": p.ticker,
        "qty": p.qty,
        "avg_price": _s(p.avg_price),
        "stop": _s(p.stop),
        "entry_date": p.entry_date.isoformat(),
        "paused": p.paused,
        "partial_exit_done": p.partial_exit_done,
        # The last price known without the broker: the latest stored daily close.
        "last_price": None if last is None else str(last.close),
        "last_price_date": None if last is None else last.day.isoformat(),
        "unrealised_pnl": None if last is None else str(unrealised_pnl(p, last.close)),
        "protection": _protection(p, intents, zone, running=running),
        "flatten_requested": None
        if asked is None
        else {
            "by": asked.name,
            "uid": asked.uid,
            "at": _iso(asked.at, zone),
            "reason": asked.reason,
        },
    }


def _protection(
    p: PositionRecord, intents: Sequence[IntentRecord], zone: tzinfo, *, running: bool
) -> dict[str, Any]:
    """What protects ``p`` now; ``protected`` is False for the software stop when no
    daemon runs (nothing polls the price then)."""
    found = protection_of(p, intents)
    software = found.cover is Cover.SOFTWARE_STOP
    return {
        "cover": found.cover.value,
        "protected": found.cover.protects and (running or not software),
        "stop": _s(found.stop),
        "shares": found.exposed,
        "selling": found.selling,
        "why": found.why,
        "refusals": [
            {
                "order": run.purpose.value,
                "refused": run.count,
                "since": _iso(run.since, zone),
                "reason": run.reason,
                "next_try": _iso(run.retry_at, zone),
            }
            for run in found.refusals
        ],
    }


def _order(i: IntentRecord, zone: tzinfo) -> dict[str, Any]:
    return {
        "client_order_id": i.client_order_id,
        "ticker": i.ticker,
        "side": i.side,
        "qty": i.qty,
        "order_type": i.order_type,
        "purpose": i.purpose.value,
        "limit_price": _s(i.limit_price),
        "stop_price": _s(i.stop_price),
        "status": i.status.value,
        "filled_qty": i.filled_qty,
        "avg_fill_price": _s(i.avg_fill_price),
        "created_at": _iso(i.created_at, zone),
    }


def _last_run(result: JobResult | None, zone: tzinfo) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "outcome": result.outcome,
        "message": result.message,
        "started_at": _iso(result.started_at, zone),
        "finished_at": _iso(result.finished_at, zone),
    }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: datetime | None, zone: tzinfo | None = None) -> str | None:
    """ISO-8601 with offset; in ``zone`` (the market's) when given, for reading."""
    if value is None:
        return None
    return (value if zone is None else value.astimezone(zone)).isoformat()
