"""The one composition root: Settings in, a wired daemon out.

Everything with a life of its own (engines, HTTP clients, the broker, notifiers, the
scheduler) is created here and nowhere else; the environment is read here (and by the
CLI for ``--config``) and nowhere else. Tests call the same functions with a
SimulatedClock and tmp-dir settings instead of patching anything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from skimd.clock import Clock, SystemClock
from skimd.config import Settings, load_settings, parse_hhmm
from skimd.infrastructure.brokers.protocols import (
    AnnouncementFeed,
    Broker,
    BrokerEvents,
    IdentifierCache,
)
from skimd.infrastructure.calendar import AsxCalendar
from skimd.infrastructure.database.paths import get_data_dir
from skimd.infrastructure.instance_lock import InstanceLock
from skimd.infrastructure.scheduling import SchedulerAdapter
from skimd.infrastructure.systemd import SdNotifier, watchdog_interval_s
from skimd.logs import SecretRedactor, configure_logging
from skimd.services.jobs import JobTable
from skimd.services.supervisor import LoggingHooks, Supervisor, SupervisorHooks
from skimd.services.trading.params import StrategyParams

if TYPE_CHECKING:
    import httpx

    from skimd.domain.alerts import Alert
    from skimd.infrastructure.database import TradingDatabase
    from skimd.infrastructure.database.journal_store import SqlJournalStore
    from skimd.services.alerts import OutboxSender
    from skimd.services.journal.end_of_day import JournalDay
    from skimd.services.trading.context import TradingContext
    from skimd.services.trading.day import TradingDay
    from skimd.services.trading.orders import OrderDesk


RUN_RECORD_EVERY_S = 60  # how stale a frequent job's "last run" row may get in skimd status


def settings_from(config_path: str | None, environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(config_path, os.environ if environ is None else environ)


def setup_logging(settings: Settings, stream: TextIO | None = None) -> SecretRedactor:
    """Configure structlog once; returns the redactor so run-time secrets can be added."""
    redactor = SecretRedactor(settings.secret_values())
    configure_logging(settings.logging.level, settings.logging.format, redactor, stream)
    return redactor


def build_calendar(settings: Settings) -> AsxCalendar:
    from datetime import time

    m = settings.market
    return AsxCalendar(
        zone=m.timezone,
        open_time=time(*parse_hhmm(m.open_time)),
        close_time=time(*parse_hhmm(m.close_time)),
        early_close_time=time(*parse_hhmm(m.early_close_time)),
    )


@dataclass
class Daemon:
    """Everything ``skimd run``/``skimd demo`` needs, wired; ``lock`` guards the data dir."""

    settings: Settings
    clock: Clock
    calendar: AsxCalendar
    supervisor: Supervisor
    lock: InstanceLock
    data_dir: Path
    sd: SdNotifier
    closers: list[object] = field(default_factory=list)
    trading: TradingDay | None = None
    database: TradingDatabase | None = None  # open until the closers run


def build_daemon(
    settings: Settings,
    *,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
    jobs: JobTable | None = None,
    hooks: SupervisorHooks | None = None,
    stdout: TextIO | None = None,
    with_database: bool = False,
    create_database: bool = False,
    with_trading: bool | None = None,
    redactor: SecretRedactor | None = None,
) -> Daemon:
    """Wire the daemon. ``with_database`` opens the encrypted DB (refusing an unmigrated
    one unless ``create_database``) and routes supervisor news through the alert outbox;
    ``with_trading`` (default: with the database) adds the trading day's jobs."""
    env = os.environ if environ is None else environ
    clock = clock or SystemClock()
    calendar = build_calendar(settings)
    data_dir = get_data_dir(settings)
    sd = SdNotifier(env.get("NOTIFY_SOCKET"))
    scheduler = SchedulerAdapter(clock, calendar.zone, settings.supervisor.misfire_grace_s)
    table = jobs if jobs is not None else JobTable()
    closers: list[object] = []
    lock = InstanceLock(data_dir)
    trading: TradingDay | None = None
    database: TradingDatabase | None = None
    if with_database:
        lock.acquire()  # before touching the DB: a second daemon stops here, naming the first
        wired = _wire_alerts(settings, clock, table, closers, stdout, create_database)
        hooks = wired.hooks
        database = wired.db
        if with_trading is None or with_trading:
            trading = _wire_trading(
                settings, clock, calendar, wired, table, closers, data_dir, redactor
            )
    supervisor = Supervisor(
        clock=clock,
        scheduler=scheduler,
        calendar=calendar,
        jobs=table,
        sd=sd,
        hooks=hooks or LoggingHooks(),
        shutdown_timeout_s=settings.supervisor.shutdown_timeout_s,
        watchdog_interval_s=watchdog_interval_s(env.get("WATCHDOG_USEC")),
        status_interval_s=settings.supervisor.status_interval_s,
    )
    return Daemon(
        settings=settings,
        clock=clock,
        calendar=calendar,
        supervisor=supervisor,
        lock=lock,
        data_dir=data_dir,
        sd=sd,
        closers=closers,
        trading=trading,
        database=database,
    )


def strategy_params(settings: Settings) -> StrategyParams:
    """``[strategy]`` as the services' plain parameters."""
    from datetime import time

    s = settings.strategy

    def at(text: str) -> time:
        return time(*parse_hhmm(text))

    return StrategyParams(
        warmup_at=at(s.warmup_at),
        purge_at=at(s.purge_at),
        end_of_day_at=at(s.end_of_day_at),
        news_from=at(s.news_from),
        scan_until=at(s.scan_until),
        poll_interval_s=s.poll_interval_s,
        scan_interval_s=s.scan_interval_s,
        news_interval_s=s.news_interval_s,
        sync_interval_s=s.sync_interval_s,
        min_gap_pct=s.min_gap_pct,
        min_price=s.min_price,
        min_volume=s.min_volume,
        universe=s.universe,
        require_news=s.require_news,
        range_minutes=s.range_minutes,
        breakout_buffer_ticks=s.breakout_buffer_ticks,
        entry_slippage_ticks=s.entry_slippage_ticks,
        entry_timeout_s=s.entry_timeout_s,
        risk_per_trade=s.risk_per_trade,
        max_position_value=s.max_position_value,
        max_open_positions=s.max_open_positions,
        max_orders_per_day=s.max_orders_per_day,
        daily_loss_cap=s.daily_loss_cap,
        price_band_pct=s.price_band_pct,
        closing_auction_minutes=s.closing_auction_minutes,
        resting_stop=s.resting_stop,
        partial_exit_day=s.partial_exit_day,
        trail_ma_days=s.trail_ma_days,
        flatten_at_close=s.flatten_at_close,
        flatten_minutes_before_close=s.flatten_minutes_before_close,
        candidate_max_age_days=s.candidate_max_age_days,
    )


@dataclass
class _Wired:
    """What the database wiring hands on to the trading wiring."""

    hooks: SupervisorHooks
    db: TradingDatabase
    sender: OutboxSender
    http: httpx.AsyncClient
    store: Callable[[Alert], None]


def _asx_feed(
    settings: Settings, clock: Clock, calendar: AsxCalendar, closers: list[object]
) -> AnnouncementFeed:
    """Today's ASX announcements page, over its own HTTP client (the site wants a browser's
    headers and redirects followed)."""
    import httpx

    from skimd.infrastructure.news import AsxAnnouncementFeed

    http = httpx.AsyncClient(
        timeout=settings.ibkr.request_timeout_s,
        follow_redirects=True,
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) skimd", "Accept": "text/html"},
    )
    closers.append(http.aclose)
    return AsxAnnouncementFeed(http, settings.strategy.news_url, clock, calendar.zone)


def _wire_trading(
    settings: Settings,
    clock: Clock,
    calendar: AsxCalendar,
    wired: _Wired,
    table: JobTable,
    closers: list[object],
    data_dir: Path,
    redactor: SecretRedactor | None,
) -> TradingDay:
    """The broker, the trading store and the day's jobs (added to ``table``)."""
    from skimd.infrastructure.database.identifier_cache import SqlIdentifierCache
    from skimd.infrastructure.database.journal_store import SqlJournalStore
    from skimd.services.daemon_alerts import AlertingBrokerEvents
    from skimd.services.journal.prices import BrokerPricePath
    from skimd.services.trading.context import TradingContext
    from skimd.services.trading.day import TradingDay

    broker = build_broker(
        settings,
        clock=clock,
        events=AlertingBrokerEvents(wired.store, clock, broker=settings.broker.kind),
        identifier_cache=SqlIdentifierCache(wired.db.unit_of_work, clock),
        on_secret=None if redactor is None else redactor.add,
        state_dir=data_dir,
    )

    closers.append(broker.close)
    news: AnnouncementFeed
    if isinstance(broker, AnnouncementFeed):
        news = broker  # the demo market publishes its own announcements
    else:
        news = _asx_feed(settings, clock, calendar, closers)
    store = SqlJournalStore(wired.db.unit_of_work, after_commit=wired.sender.wake)
    ctx = TradingContext(
        broker=broker,
        store=store,
        clock=clock,
        calendar=calendar,
        params=strategy_params(settings),
        news=news,
    )
    day = TradingDay(ctx)
    reports = build_trade_reports(
        settings, wired.db, prices=BrokerPricePath(broker), clock=clock
    ).write_reports
    day.attach_journal(lambda desk: _journal_day(settings, ctx, store, desk, reports))
    for spec in day.jobs():
        table.add(spec)
    return day


def _journal_day(
    settings: Settings,
    ctx: TradingContext,
    store: SqlJournalStore,
    desk: OrderDesk,
    reports: Callable[[date], Awaitable[int]] | None = None,
) -> JournalDay:
    from skimd.domain.mistakes import MistakeThresholds
    from skimd.services.journal.end_of_day import JournalDay
    from skimd.services.journal.sync import BrokerTerms, PositionSync

    s = settings.strategy
    m = settings.market
    terms = BrokerTerms(
        settlement_days=2,
        commission=(
            {"per_order": str(settings.demo.commission_per_order), "currency": "AUD"}
            if settings.broker.kind == "demo"
            else {"schedule": "IBKR tiered/fixed, as charged (executions carry it)"}
        ),
        trading_hours={
            "open": m.open_time,
            "close": m.close_time,
            "early_close": m.early_close_time,
        },
    )
    return JournalDay(
        ctx,
        store,
        PositionSync(ctx, store, desk, terms),
        MistakeThresholds(
            stop_tolerance=s.mistake_stop_tolerance,
            risk_tolerance=s.mistake_risk_tolerance,
            chase_pct=s.mistake_chase_pct,
        ),
        reports,
    )


def build_broker(
    settings: Settings,
    *,
    clock: Clock | None = None,
    events: BrokerEvents | None = None,
    identifier_cache: IdentifierCache | None = None,
    on_secret: Callable[[str], None] | None = None,
    state_dir: Path | None = None,
) -> Broker:
    """The configured broker (``[broker] kind``); the only caller of BrokerFactory.

    Without ``events``/``identifier_cache`` (``skimd broker check``) events are dropped and
    conids cached in memory; the daemon passes alerting events and the database cache.
    ``state_dir`` is only for the daemon (it holds the data-dir lock): the demo account's
    book is kept there.
    """
    from skimd.infrastructure.brokers.events import NullBrokerEvents
    from skimd.infrastructure.brokers.factory import BrokerFactory
    from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache

    return BrokerFactory().create(
        settings.broker.kind,
        settings,
        clock=clock or SystemClock(),
        events=events or NullBrokerEvents(),
        identifier_cache=identifier_cache or InMemoryIdentifierCache(),
        calendar=build_calendar(settings),
        on_secret=on_secret,
        state_dir=state_dir,
    )


def _wire_alerts(
    settings: Settings,
    clock: Clock,
    table: JobTable,
    closers: list[object],
    stdout: TextIO | None,
    create_database: bool,
) -> _Wired:
    """DB + notifiers + outbox sender, and hooks that turn supervisor news into alerts."""
    from datetime import datetime, timedelta

    import httpx

    from skimd.infrastructure.database import check_schema, open_trading_database
    from skimd.infrastructure.notifications.factory import (
        build_heartbeat,
        build_notifier,
        build_outbox_sender,
    )
    from skimd.infrastructure.notifications.outbox_store import SqlOutboxStore
    from skimd.services.alerts import enqueue
    from skimd.services.daemon_alerts import AlertingHooks
    from skimd.services.jobs import DailyAt, Every, JobResult, JobSpec

    db = open_trading_database(settings, create=create_database)
    closers.append(db.close)
    check_schema(db)
    http = httpx.AsyncClient(timeout=settings.notifications.discord_timeout_s)
    closers.append(http.aclose)
    notifier = build_notifier(settings, clock=clock, http_client=http, stdout=stdout or sys.stdout)
    sender = build_outbox_sender(settings, SqlOutboxStore(db.unit_of_work), notifier, clock=clock)
    closers.append(sender.aclose)
    closers.append(sender.run_once)  # closed in reverse: flush the "stopping" alert first
    table.add(
        JobSpec(
            id="outbox",
            trigger=Every(settings.notifications.outbox_poll_interval_s),
            handler=sender.run_once,
            description="deliver pending alerts",
            market_hours=False,
            internal=True,
        )
    )

    # The heartbeat is a scheduled job like the watchdog: it pings only while the scheduler
    # ticks, so a wedged daemon falls silent and the dead-man's switch fires elsewhere.
    beat = build_heartbeat(settings, clock=clock, http_client=http, is_healthy=lambda: True)
    if beat is not None:
        table.add(
            JobSpec(
                id="heartbeat",
                trigger=Every(max(60, int(settings.notifications.heartbeat_interval_min) * 60)),
                handler=beat.beat_once,
                description="dead-man's-switch ping",
                market_hours=False,
                internal=True,
            )
        )

    def store(alert: Alert) -> None:
        with db.unit_of_work() as uow:
            enqueue(uow, alert)
        sender.wake()

    last_written: dict[str, tuple[datetime, str]] = {}

    def record_run(result: JobResult) -> None:
        spec = next((j for j in table if j.id == result.job_id), None)
        if spec is None or spec.internal or result.started_at is None:
            return
        daily = isinstance(spec.trigger, DailyAt)
        previous = last_written.get(result.job_id)
        if (
            not daily
            and previous is not None
            and previous[1] == result.outcome
            and result.started_at - previous[0] < timedelta(seconds=RUN_RECORD_EVERY_S)
        ):
            return  # a job that runs every few seconds: its row is refreshed once a minute
        last_written[result.job_id] = (result.started_at, result.outcome)
        with db.unit_of_work() as uow:
            uow.job_runs.record(
                result.job_id,
                result.started_at,
                result.finished_at,
                result.outcome,
                result.message or None,
                keep_history=daily,
            )

    hooks = AlertingHooks(
        store,
        clock,
        broker=settings.broker.kind,
        live_trading=settings.broker.live_trading,
        record_run=record_run,
    )
    return _Wired(hooks=hooks, db=db, sender=sender, http=http, store=store)


# -- trade reports (appended: the journal report writer and its chart renderer) --------------

if TYPE_CHECKING:
    from datetime import tzinfo

    from skimd.services.journal.reports import ChartSpec, PricePath, TradeReports


def build_trade_reports(
    settings: Settings,
    db: TradingDatabase,
    *,
    prices: PricePath | None = None,
    clock: Clock | None = None,
) -> TradeReports:
    """The per-round-trip report writer over ``db``, charts drawn with Pillow in the market
    zone. Without ``prices`` (the CLI has no broker session) charts show the executions'
    own prices; the daemon passes the broker's intraday path."""
    from skimd.infrastructure.database.report_store import SqlReportStore
    from skimd.services.journal.reports import NoPricePath, TradeReports

    zone = build_calendar(settings).zone
    return TradeReports(
        SqlReportStore(db.unit_of_work),
        prices if prices is not None else NoPricePath(),
        report_chart_renderer(zone),
        clock or SystemClock(),
        zone,
    )


def report_chart_renderer(zone: tzinfo) -> Callable[[ChartSpec], bytes]:
    """A :class:`~skimd.services.journal.reports.ChartRenderer` on the alert charts' Pillow
    drawing (same look as the charts sent with alerts)."""
    from skimd.infrastructure.notifications import charts

    colours = {
        "orh": (charts.GREEN, False),
        "orl": (charts.RED, False),
        "stop": (charts.RED, True),
        "target": (charts.GREEN, True),
        "entry": (charts.AMBER, True),
        "avg_entry": (charts.AMBER, True),
    }

    def render(spec: ChartSpec) -> bytes:
        lines = [
            charts.ChartLine(lv.label, lv.price, *colours.get(lv.kind, (charts.GREY, True)))
            for lv in spec.levels
        ]
        exit_colour = charts.GREEN if spec.profitable else charts.RED
        markers = [
            charts.ChartMarker(
                m.label,
                m.at,
                m.price,
                charts.AMBER if m.side == "BUY" else exit_colour,
                up=m.side == "BUY",
            )
            for m in spec.marks
        ]
        return charts.render_chart(spec.title, spec.path, lines, markers, tz=zone)

    return render


# -- one-off commands: skimd guard, skimd scan, skimd status --------------------------------

# (Imported here rather than at the top so this section can be added without touching the
# wiring above.)
from contextlib import asynccontextmanager, contextmanager  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Sequence

    from skimd.infrastructure.database.trading_store import SqlTradingStore
    from skimd.services.jobs import JobSpec
    from skimd.services.status import StatusSources


def open_trading_store(settings: Settings) -> tuple[SqlTradingStore, Callable[[], None]]:
    """The trading store on the existing database, and its closer (``skimd guard``).

    Safe while the daemon runs (no instance lock; the daemon re-reads the guard before every
    entry). Alerts written through it stay in the outbox until a running daemon's outbox
    job (or the next start) delivers them: this process sends nothing."""
    from skimd.infrastructure.database.trading_store import SqlTradingStore

    db = open_database(settings)
    return SqlTradingStore(db.unit_of_work), db.close


def daemon_pid(settings: Settings) -> int | None:
    """The pid of the daemon holding this data dir's instance lock, or None."""
    from skimd.services.status import running_pid

    return running_pid(InstanceLock(get_data_dir(settings)).path)


@asynccontextmanager
async def open_trading_day(
    settings: Settings,
    *,
    clock: Clock | None = None,
    alerts_to: TextIO | None = None,
    redactor: SecretRedactor | None = None,
) -> AsyncIterator[TradingDay]:
    """The daemon's own trading wiring (broker, store, news feed, alert outbox) for a
    one-off command such as ``skimd scan``, without the scheduler.

    Holds the instance lock for its whole life (one broker session per data dir; raises
    InstanceLockedError naming the daemon's pid otherwise) and refuses an unmigrated
    database. Alerts are delivered as they are committed, to the configured channels
    (console lines to ``alerts_to``, none if None); on exit everything is closed in reverse
    order (pending alerts flushed first) and the lock released. ``clock`` defaults to the
    system clock; tests pass a SimulatedClock.
    """
    from skimd.runtime import _close_all

    clock = clock or SystemClock()
    calendar = build_calendar(settings)
    data_dir = get_data_dir(settings)
    lock = InstanceLock(data_dir)
    lock.acquire()
    closers: list[object] = []
    try:
        table = JobTable()  # the jobs are not scheduled: the command calls what it needs
        wired = _wire_alerts(settings, clock, table, closers, alerts_to, False)
        yield _wire_trading(settings, clock, calendar, wired, table, closers, data_dir, redactor)
    finally:
        try:
            await _close_all(closers)
        finally:
            lock.release()


class _NotWired:
    """Stands in for the broker and the store of a plan-only trading context: any use is a
    programming error, reported as such instead of reaching a half-built object."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> object:
        raise RuntimeError(f"{self._what}.{name}: the job plan has no {self._what}")


def trading_job_plan(settings: Settings, clock: Clock | None = None) -> list[JobSpec]:
    """The trading day's jobs (ids, triggers, descriptions) exactly as ``_wire_trading``
    adds them, built without a broker or a database, for ``skimd status`` to show next and
    last runs. The specs' handlers must never run (their broker and store refuse use)."""
    from typing import cast

    from skimd.services.trading.context import TradingContext
    from skimd.services.trading.day import TradingDay
    from skimd.services.trading.ports import TradingStore

    ctx = TradingContext(
        broker=cast(Broker, _NotWired("broker")),
        store=cast(TradingStore, _NotWired("store")),
        clock=clock or SystemClock(),
        calendar=build_calendar(settings),
        params=strategy_params(settings),
    )
    return TradingDay(ctx).jobs()


@contextmanager
def status_sources(settings: Settings, *, clock: Clock | None = None) -> Iterator[StatusSources]:
    """What ``skimd status`` reads, read-only and without the instance lock (it works
    while the daemon runs). With no database file yet, ``store`` and ``last_runs`` are
    None; an existing database must be at the head revision. Closed on exit."""
    from skimd.services.jobs import JobResult
    from skimd.services.status import StatusSources

    clock = clock or SystemClock()
    plumbing = build_daemon(settings, clock=clock, environ={})  # no DB, no lock: the plan
    jobs = [s for s in plumbing.supervisor.jobs if not s.internal]
    shown = {j.id for j in jobs}
    jobs += [s for s in trading_job_plan(settings, clock) if s.id not in shown]
    db_path = plumbing.data_dir / settings.database.filename
    sources = StatusSources(
        config=settings.source,
        data_dir=plumbing.data_dir,
        lock_path=plumbing.lock.path,
        database_path=db_path,
        broker=settings.broker.kind,
        clock=clock,
        calendar=plumbing.calendar,
        jobs=jobs,
    )
    if not db_path.exists():
        yield sources
        return
    from skimd.infrastructure.database.trading_store import SqlTradingStore

    db = open_database(settings)

    def last_runs(job_ids: Sequence[str]) -> dict[str, JobResult]:
        found: dict[str, JobResult] = {}
        with db.unit_of_work(read_only=True) as uow:
            for job_id in job_ids:
                row = uow.job_runs.last(job_id)
                if row is not None:
                    found[job_id] = JobResult(
                        job_id=job_id,
                        started_at=row.started_at,
                        finished_at=row.finished_at,
                        outcome=row.outcome or "unfinished",
                        message=row.message or "",
                    )
        return found

    try:
        sources.store = SqlTradingStore(db.unit_of_work)
        sources.last_runs = last_runs
        yield sources
    finally:
        db.close()


def open_database(settings: Settings) -> TradingDatabase:
    """The existing trading database for a one-off reader (demo summary, reports); refuses
    an unmigrated one. The caller closes it."""
    from skimd.infrastructure.database import check_schema, open_trading_database

    db = open_trading_database(settings, create=False)
    try:
        check_schema(db)
    except BaseException:
        db.close()
        raise
    return db
