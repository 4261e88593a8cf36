"""One ``skimd backtest`` run: every trading day of a range through the real daemon.

Each day is what ``skimd demo --continue`` does with it: an App built by
:func:`skimd.bootstrap.build` on a SimulatedClock, the supervisor, job table, trading
services, journal and end of day of ``skimd run``, against the demo broker, whose book
(and with it every open position and resting stop) carries over to the next day, as does
the database. Only what nobody reads in a replay is left out (``build(backtest=True)``:
alerts are journaled but sent nowhere, ``skimd status``'s job-run rows are refreshed once
a day), and the day is evaluated at the one-minute resolution of its data:

- ``poll_interval_s`` and ``scan_interval_s`` are 60 s (one watch pass per one-minute bar;
  a resting stop crossed between two passes fills at the broker at the instant the path
  crosses it, one tick through, whatever the polling: see
  :mod:`skimd.infrastructure.brokers.demo.fills`), and the position sync runs every 30
  minutes instead of 5 (it reconciles; the watch books the fills); ``--set`` may set
  any of them back;
- each simulated day runs from a minute before the warm-up to a minute after the end of
  day (nothing is scheduled outside that but housekeeping);
- the run's database is plaintext in a scratch directory while it runs (in memory-backed
  ``/dev/shm`` where there is one) and is encrypted once at the end, with the journal's
  passphrase, into ``<data_dir>/backtests/<run id>/journal.db``
  (:func:`skimd.bootstrap.seal_backtest_journal`), beside the equity-curve and drawdown
  PNGs and ``result.json``. ``skimd journal stats --db <that file>`` reads it.

The totals are ``skimd journal stats``'s (:mod:`skimd.domain.stats`) over the round trips
closed in the range, read back from the run's own journal. The run id names the range, the
seed and (a hash of) the ``--set`` overrides, so the same run replaces its earlier output.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import shutil
import sys
import tempfile
import time as wallclock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import Settings, StrategySettings, parse_hhmm
from skimd.domain.calendar import combine
from skimd.errors import ConfigurationError, InvalidInputError
from skimd.files import private_dir, write_atomic

BAR_S = 60  # the data's resolution: one watch pass (and one gap scan) per one-minute bar
# The position sync reconciles the journal with the broker's book; in a replay only the
# demo broker's own fills move that book, and the watch books those as they happen.
SYNC_S = 1800
DAY_MARGIN = timedelta(minutes=1)
RUN_DB = "backtest.db"
# A replay allocates ORM rows by the million, nearly all short-lived and acyclic: the
# default threshold (700) runs a young-generation collection every few polls, for nothing
# (measured: about 4 % of a backtest day).
GC_THRESHOLD = (10_000, 50, 100)
SCRATCH_PARENT = Path("/dev/shm")  # noqa: S108 - memory-backed scratch space when present


@dataclass(frozen=True)
class BacktestSpec:
    """What one run replays: the range (market dates, inclusive), the market seed and the
    ``strategy.KEY=VALUE`` overrides as given."""

    date_from: date
    date_to: date
    seed: int
    overrides: tuple[str, ...] = ()
    data: str = "synthetic"  # or "recorded": the days kept in the configured database

    @property
    def run_id(self) -> str:
        market = f"seed{self.seed}" if self.data == "synthetic" else "recorded"
        base = f"{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}-{market}"
        if not self.overrides:
            return base
        digest = hashlib.sha256("\n".join(self.overrides).encode()).hexdigest()[:8]
        return f"{base}-{digest}"


@dataclass(frozen=True)
class DayRow:
    """One simulated day: entries and exits filled, round trips closed and their net P&L
    after fees, commissions paid that day, positions open at its end, and the equity
    (cumulative realised net P&L) after it."""

    day: date
    entries: int
    exits: int
    round_trips: int
    net_pnl: Decimal
    fees: Decimal
    open_positions: int
    equity: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "entries": self.entries,
            "exits": self.exits,
            "round_trips": self.round_trips,
            "net_pnl": str(self.net_pnl),
            "fees": str(self.fees),
            "open_positions": self.open_positions,
            "equity": str(self.equity),
        }


@dataclass
class BacktestResult:
    spec: BacktestSpec
    days: list[DayRow]
    stats: dict[str, Any]  # skimd journal stats' total (stats_json)
    run_dir: Path
    journal: Path
    charts: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def exposure(self) -> Decimal | None:
        return exposure(self.days)

    @property
    def fees_paid(self) -> Decimal:
        return sum((d.fees for d in self.days), Decimal(0))

    def as_json(self) -> dict[str, Any]:
        share = self.exposure
        return {
            "run_id": self.spec.run_id,
            "from": self.spec.date_from.isoformat(),
            "to": self.spec.date_to.isoformat(),
            "seed": self.spec.seed,
            "data": self.spec.data,
            "overrides": list(self.spec.overrides),
            "trading_days": len(self.days),
            "totals": {
                **self.stats,
                "exposure": None if share is None else str(share),
                "fees_paid": str(self.fees_paid),
                "open_positions_at_end": self.days[-1].open_positions if self.days else 0,
            },
            "days": [d.as_json() for d in self.days],
            "journal": str(self.journal),
            "charts": self.charts,
            "duration_s": round(self.duration_s, 2),
            "seconds_per_day": round(self.duration_s / len(self.days), 3) if self.days else None,
        }


def exposure(days: Sequence[DayRow]) -> Decimal | None:
    """The share of the trading days on which the account held a position at some time:
    one was open from the day before or entered that day. None without a day."""
    if not days:
        return None
    held, open_before = 0, 0
    for row in days:
        if open_before or row.entries:
            held += 1
        open_before = row.open_positions
    return (Decimal(held) / Decimal(len(days))).quantize(Decimal("0.0001"))


# -- settings ----------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, str]:
    """``strategy.KEY=VALUE`` → (KEY, VALUE); InvalidInputError naming what is wrong."""
    name, sep, value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not key:
        raise InvalidInputError(f"--set {text!r}: expected strategy.KEY=VALUE")
    if section != "strategy":
        raise InvalidInputError(f"--set {text!r}: only strategy.KEY settings can be set")
    if key not in StrategySettings.model_fields:
        raise InvalidInputError(f"--set {text!r}: unknown strategy setting {key!r}")
    return key, value.strip()


def with_overrides(settings: Settings, overrides: Sequence[str]) -> Settings:
    """``settings`` with each ``strategy.KEY=VALUE`` applied and validated as the
    configuration file's value would be (a list setting takes comma-separated values)."""
    values = settings.strategy.model_dump()
    for text in overrides:
        key, raw = parse_override(text)
        current = values[key]
        value: Any = raw
        if isinstance(current, tuple):
            value = tuple(v for v in (p.strip() for p in raw.split(",")) if v)
        values[key] = value
        try:
            StrategySettings.model_validate(values)
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise InvalidInputError(f"--set {text!r}: {problem}") from None
    strategy = StrategySettings.model_validate(values)
    return settings.model_copy(update={"strategy": strategy})


def run_settings(
    settings: Settings, spec: BacktestSpec, scratch: Path, *, verbose: bool
) -> Settings:
    """The settings every day of the run is built with: the demo broker at the spec's seed,
    a plaintext database in ``scratch``, one-minute evaluation of the synthetic market (a
    recorded tape at its own polls; the ``--set`` overrides applied after it, so they may
    change it), quiet logging unless ``verbose``."""
    if settings.broker.kind != "demo":
        raise ConfigurationError(
            f"{settings.source}: [broker] kind: is {settings.broker.kind!r}; `skimd backtest` "
            "runs the demo broker (use a demo config)"
        )
    # the data's resolution: one pass per one-minute bar of the synthetic market; a
    # recorded tape is replayed at the polls and ticks it was recorded at (its own)
    resolution = settings.strategy.model_copy(
        update={"sync_interval_s": SYNC_S}
        if spec.data == "recorded"
        else {"poll_interval_s": BAR_S, "scan_interval_s": BAR_S, "sync_interval_s": SYNC_S}
    )
    tuned = settings.model_copy(
        update={
            "paths": settings.paths.model_copy(update={"data_dir": scratch, "runtime_dir": None}),
            "database": settings.database.model_copy(
                update={
                    "encryption": "off",
                    "filename": RUN_DB,
                    "passphrase": None,
                    "passphrase_file": None,
                    "create_passphrase": False,
                }
            ),
            "demo": settings.demo.model_copy(update={"seed": spec.seed}),
            # the synthetic market at one pass per bar: no tick stream (it would react to
            # every price change of the path); a recorded tape replays its pushed quotes too
            "broker": settings.broker.model_copy(
                update={"stream_quotes": spec.data == "recorded"}
            ),
            "strategy": resolution,
            "notifications": settings.notifications.model_copy(
                update={"console": False, "jsonl_file": None, "outbox_poll_interval_s": BAR_S}
            ),
            "supervisor": settings.supervisor.model_copy(
                update={"status_interval_s": 3600.0, "run_for_s": None}
            ),
            "logging": settings.logging.model_copy(
                update={"level": settings.logging.level if verbose else "ERROR"}
            ),
        }
    )
    return with_overrides(tuned, spec.overrides)


def trading_days(settings: Settings, spec: BacktestSpec) -> list[date]:
    if spec.date_from > spec.date_to:
        raise InvalidInputError(f"--from {spec.date_from} is after --to {spec.date_to}")
    calendar = bootstrap.build_calendar(settings)
    days, day = [], spec.date_from
    while day <= spec.date_to:
        if calendar.is_trading_day(day):
            days.append(day)
        day += timedelta(days=1)
    if not days:
        raise InvalidInputError(f"{spec.date_from} to {spec.date_to}: the ASX is closed all along")
    return days


# -- the run -----------------------------------------------------------------------------------


def run_backtest(
    settings: Settings,
    spec: BacktestSpec,
    *,
    verbose: bool = False,
    progress: Callable[[int, int, DayRow], None] | None = None,
) -> BacktestResult:
    """Replay ``spec`` and write its run directory; the result. ``settings`` are the
    configuration's (their data dir receives ``backtests/<run id>/``)."""
    began = wallclock.perf_counter()
    threshold = gc.get_threshold()
    gc.freeze()  # what is loaded by now lives as long as the process: never scan it again
    gc.set_threshold(*GC_THRESHOLD)
    try:
        result = _run(settings, spec, verbose=verbose, progress=progress)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
    result.duration_s = wallclock.perf_counter() - began
    _write_json(result.run_dir / "result.json", result.as_json())
    return result


def _run(
    settings: Settings,
    spec: BacktestSpec,
    *,
    verbose: bool,
    progress: Callable[[int, int, DayRow], None] | None,
) -> BacktestResult:
    data_dir = bootstrap.data_dir(settings)
    run_dir = data_dir / "backtests" / spec.run_id
    parent = SCRATCH_PARENT if SCRATCH_PARENT.is_dir() else None
    scratch = Path(tempfile.mkdtemp(prefix="skimd-backtest-", dir=parent))
    try:
        tuned = run_settings(settings, spec, scratch, verbose=verbose)
        bootstrap.setup_logging(tuned, sys.stderr)
        days = trading_days(tuned, spec)
        # one market for the whole run: the recording, or the synthetic ASX whose plans and
        # paths are then drawn once per day instead of once per day's App
        recorded = bootstrap.open_recorded_market(settings) if spec.data == "recorded" else None
        market = recorded if recorded is not None else bootstrap.synthetic_market(tuned)
        try:
            summaries = asyncio.run(_replay(tuned, days, progress, market))
        finally:
            if recorded is not None:
                recorded.close()
        result = _collect(tuned, spec, summaries, run_dir)
        result.journal = bootstrap.seal_backtest_journal(
            settings, scratch / RUN_DB, run_dir / "journal.db"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


async def _replay(
    settings: Settings,
    days: Sequence[date],
    progress: Callable[[int, int, DayRow], None] | None,
    market: Any = None,
) -> list[Any]:
    summaries = []
    equity = Decimal(0)
    for n, day in enumerate(days, start=1):
        summary = await _one_day(settings, day, first=n == 1, market=market)
        summaries.append(summary)
        if progress is not None:
            equity += summary.realised_pnl
            progress(n, len(days), _row(summary, 0, equity))
    return summaries


async def _one_day(settings: Settings, day: date, *, first: bool, market: Any = None) -> Any:
    """One trading day through the daemon, as ``skimd demo --continue`` would run it (the
    ``first`` creates the database); with a recorded ``market``, the demo broker over it
    (:func:`bootstrap.replay_broker`) instead of the seeded one."""
    zone = bootstrap.build_calendar(settings).zone
    s = settings.strategy
    start = combine(day, _hhmm(s.warmup_at), zone) - DAY_MARGIN
    end = combine(day, _hhmm(s.end_of_day_at), zone) + DAY_MARGIN
    clock = SimulatedClock(start)
    app = bootstrap.build(
        settings,
        access=bootstrap.Access.EXCLUSIVE,
        clock=clock,
        environ={},
        create_database=first,
        backtest=True,
        broker=None if market is None else bootstrap.replay_broker(settings, market, clock),
    )
    async with app:
        await app.run(simulate_until=end, install_signals=False)
        return app.day_summary(day)


def _hhmm(text: str) -> time:
    return time(*parse_hhmm(text))


def _row(summary: Any, round_trips: int, equity: Decimal) -> DayRow:
    return DayRow(
        day=summary.day,
        entries=summary.entries,
        exits=summary.exits,
        round_trips=round_trips,
        net_pnl=summary.realised_pnl,
        fees=summary.fees,
        open_positions=summary.open_positions,
        equity=equity,
    )


def _collect(
    settings: Settings, spec: BacktestSpec, summaries: Sequence[Any], run_dir: Path
) -> BacktestResult:
    """The per-day rows and the journal's statistics of the run (read back from its
    database), and the equity-curve and drawdown PNGs written into ``run_dir``."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    private_dir(run_dir)
    with bootstrap.build(settings, access=bootstrap.Access.SHARED) as app:
        journal = app.journal_stats()
        report = journal.report(spec.date_from, spec.date_to)
        zone = app.calendar.zone
        closed_on: dict[date, int] = {}
        for trip in report.trips:
            local = trip.closed_at.astimezone(zone).date()
            closed_on[local] = closed_on.get(local, 0) + 1
        charts: dict[str, str] = {}
        for name, png in (
            ("equity", journal.chart(report)),
            ("drawdown", journal.drawdown_chart(report)),
        ):
            if png is not None:
                path = run_dir / f"{name}.png"
                path.write_bytes(png)
                charts[name] = str(path)
    rows, equity = [], Decimal(0)
    for summary in summaries:
        equity += summary.realised_pnl
        rows.append(_row(summary, closed_on.get(summary.day, 0), equity))
    return BacktestResult(
        spec=spec,
        days=rows,
        stats=report.as_json()["total"],
        run_dir=run_dir,
        journal=run_dir / "journal.db",
        charts=charts,
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


