"""The one composition root: Settings (+ optional overrides) in, an :class:`App` out.

Everything with a life of its own — the database, HTTP clients, the broker, notifiers, the
alert outbox, the scheduler — is created here and nowhere else, and the environment is read
here (and by the CLI for ``--config``) and nowhere else. Commands, test harnesses and
benchmarks all build through :func:`build`, passing overrides (a SimulatedClock, a broker,
a notifier, a news feed) instead of wiring parts by hand.

An App is used in one of two ways (:class:`Access`):

- ``EXCLUSIVE`` takes the data directory's instance lock *before anything else* (so a
  second daemon stops there, naming the first, and touches nothing) and may write:
  ``run``, ``demo``, ``scan``, ``db init/rekey/restore/encrypt``. The broker it builds
  alerts through the outbox and caches conids in the database.
- ``SHARED`` takes no lock and is read-mostly (SQLite WAL lets it sit beside a running
  daemon): ``status``, ``journal``, ``guard``, ``db verify/backup/tables``,
  ``broker check``. Its broker, if asked for, drops events and caches in memory.

Parts are built on first use and closed with the App, in reverse order of creation, by an
exit stack (async parts by :meth:`App.aclose`, so an App that built any must be closed with
``async with``/``aclose``). The instance lock is released last. Parts passed in as overrides
belong to the caller and are not closed.

Secrets are read as the part that uses them is built (:meth:`App.settings_with`), never
at load: the database key when the database is opened, the IBKR secrets when the IBKR
broker is built, the webhooks when the notifiers are. So ``status`` beside an IBKR daemon
needs the database key alone, and ``broker check`` the broker's secrets alone. ``run`` and
``scan`` read all they will use before building anything.

Imports of heavy or optional modules stay inside the functions that need them: ``skimd
run`` on the demo config must not load alembic, Pillow, Fernet or Discord's stack at start
(a fresh-interpreter test checks it).

Longer than 500 lines because it is the one composition root: every part skimd creates is
made here and nowhere else, so that a reader finds all the wiring (and every override a
test or a bench can make) in one file; each part is a short property of :class:`App`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import fields
from datetime import date, datetime, time
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from skimd.clock import Clock, SystemClock
from skimd.config import Settings, load_settings, parse_hhmm
from skimd.infrastructure.calendar import AsxCalendar
from skimd.infrastructure.database.passphrase import passphrase_files
from skimd.infrastructure.database.paths import ensure_data_dir, get_data_dir
from skimd.infrastructure.database.private_files import tidy_data_dir, warn_if_open
from skimd.infrastructure.instance_lock import InstanceLock
from skimd.logs import SecretRedactor, configure_logging
from skimd.secret_groups import (
    GROUPS,
    SecretGroup,
    SecretStatus,
    held_secrets,
    is_configured,
    secret_report,
    spec_for,
    with_secrets,
)
from skimd.services.job_plan import PlumbingSchedule, daemon_plan, trading_plan
from skimd.services.jobs import Every, JobHandler, PlannedJob
from skimd.services.trading.params import StrategyParams

if TYPE_CHECKING:
    import ssl

    import httpx

    from skimd.domain.alert_policy import AlertPolicy
    from skimd.domain.alerts import Alert
    from skimd.domain.market import PricePoint, VolumePoint
    from skimd.domain.preferences import Preference, T
    from skimd.infrastructure.brokers.demo.market_port import SimulatedMarket
    from skimd.infrastructure.brokers.demo.recorded import RecordedMarket
    from skimd.infrastructure.brokers.ibkr.keygen import KeygenResult
    from skimd.infrastructure.control.alert_feed import OutboxAlertFeed
    from skimd.infrastructure.control.client import ControlClient
    from skimd.infrastructure.control.server import ControlServer
    from skimd.infrastructure.database import TradingDatabase
    from skimd.infrastructure.database.admin import DatabaseAdmin
    from skimd.infrastructure.database.bar_import import BarImport
    from skimd.infrastructure.database.day_summary import DaySummary
    from skimd.infrastructure.database.journal_admin import JournalAdmin
    from skimd.infrastructure.database.journal_store import SqlJournalStore
    from skimd.infrastructure.demo_state import DemoAccount
    from skimd.infrastructure.notifications.message_renderers import (
        ChildRenderer,
        InProcessRenderer,
    )
    from skimd.infrastructure.systemd_credentials import CredentialPlan
    from skimd.services.alerts import OutboxSender
    from skimd.services.broker_session import BrokerSessionMonitor
    from skimd.services.control_events import EventBus
    from skimd.services.guard import KillSwitch
    from skimd.services.journal.records import JournalRecords
    from skimd.services.journal.reports import TradeReports
    from skimd.services.journal.reviews import JournalReviews
    from skimd.services.journal.stats import JournalStats
    from skimd.services.ports.alerts import NotificationService
    from skimd.services.ports.broker import AnnouncementFeed, Broker
    from skimd.services.ports.reports import PricePath
    from skimd.services.supervisor import Supervisor
    from skimd.services.trading.day import TradingDay
    from skimd.services.trading.operator import OperatorActions
    from skimd.services.trading.streaming import QuoteWatch
    from skimd.web.passwords import PasswordFile
    from skimd.web.server import Listen


BACKTEST_RUN_RECORD_EVERY_S = 24 * 3600.0  # a backtest day's job-run rows: once a day


class Access(StrEnum):
    EXCLUSIVE = "exclusive"  # instance lock held for the App's life; may write
    SHARED = "shared"  # no lock; read-mostly, safe beside a running daemon


# -- settings-only helpers (no resource is created) ----------------------------------------------


def settings_from(config_path: str | None, environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(config_path, os.environ if environ is None else environ)


def setup_logging(settings: Settings, stream: TextIO | None = None) -> SecretRedactor:
    """Configure structlog once; returns the redactor so run-time secrets can be added."""
    redactor = SecretRedactor(settings.secret_values())
    configure_logging(settings.logging.level, settings.logging.format, redactor, stream)
    return redactor


def build_calendar(settings: Settings) -> AsxCalendar:
    m = settings.market
    return AsxCalendar(
        zone=m.timezone,
        open_time=time(*parse_hhmm(m.open_time)),
        close_time=time(*parse_hhmm(m.close_time)),
        early_close_time=time(*parse_hhmm(m.early_close_time)),
    )


def strategy_params(settings: Settings) -> StrategyParams:
    """``[strategy]`` as the services' plain parameters: every field of
    :class:`StrategyParams` from the setting of the same name, ``HH:MM`` text as a time."""
    s = settings.strategy
    values: dict[str, Any] = {}
    for f in fields(StrategyParams):
        value = getattr(s, f.name)
        values[f.name] = time(*parse_hhmm(value)) if isinstance(f.default, time) else value
    return StrategyParams(**values)


def plumbing_schedule(settings: Settings) -> PlumbingSchedule:
    """The outbox's and the heartbeat's timing; a heartbeat when its URL has a source
    (which is not read: ``status`` shows the plan without the secret)."""
    n = settings.notifications
    configured = is_configured(settings, spec_for("notifications", "heartbeat_url"))
    heartbeat = int(n.heartbeat_interval_min) * 60 if configured else None
    return PlumbingSchedule(n.outbox_poll_interval_s, heartbeat)


def secrets_report(settings: Settings) -> list[SecretStatus]:
    """Every secret's source and problem, for ``config check`` (see skimd.secret_groups)."""
    return secret_report(settings)


def job_plan(settings: Settings) -> list[PlannedJob]:
    """Every job ``skimd run`` schedules (apart from the supervisor's own), from settings
    alone: what ``skimd status`` shows."""
    return daemon_plan(strategy_params(settings), plumbing_schedule(settings))


def internal_job(job_id: str, every_s: int, description: str) -> PlannedJob:
    """A housekeeping job for :func:`build`'s ``extra_jobs``: every ``every_s`` seconds,
    market open or not, not shown by ``skimd status``."""
    return PlannedJob(job_id, Every(every_s), description, market_hours=False, internal=True)


def data_dir(settings: Settings) -> Path:
    return get_data_dir(settings)


CONTROL_SOCKET = "skimd.sock"


def control_socket_path(settings: Settings) -> Path:
    """The running daemon's control socket: ``<runtime_dir>/skimd.sock``, the runtime dir
    being ``[paths] runtime_dir`` (systemd's ``RuntimeDirectory=``, /run/skim) or else the
    data dir, so any command given the same config finds it."""
    return (settings.paths.runtime_dir or get_data_dir(settings)) / CONTROL_SOCKET


def control_client(settings: Settings) -> ControlClient:
    """A client of the daemon's control socket (needs no secret and opens nothing)."""
    from skimd.infrastructure.control.client import ControlClient

    return ControlClient(control_socket_path(settings))


def daemon_pid(settings: Settings) -> int | None:
    """The pid of the daemon holding this data dir's instance lock, or None."""
    from skimd.services.status import running_pid

    return running_pid(InstanceLock(get_data_dir(settings)).path)


# -- skimd web: its password and where it listens (no App) -------------------------------------


WEB_PASSWORD_FILE = "web-password"  # noqa: S105 - a file name, not a password


def web_password_file(settings: Settings) -> PasswordFile:
    """The web login's Argon2id hash: ``[web] password_file``, else ``<data_dir>/web-password``."""
    from skimd.web.passwords import PasswordFile

    path = settings.web.password_file or get_data_dir(settings) / WEB_PASSWORD_FILE
    return PasswordFile(path)


def web_listen(settings: Settings) -> Listen:
    """Where ``skimd web`` listens; refuses (ConfigurationError naming the key) a
    non-loopback address without TLS."""
    from skimd.web.server import Listen, check_bind

    w = settings.web
    listen = Listen(w.host, w.port, w.tls_cert_file, w.tls_key_file)
    check_bind(listen, settings.source)
    return listen


def serve_web(app: App, listen: Listen, ready: Callable[[], None] | None = None) -> None:
    """Serve ``app``'s web view until SIGINT/SIGTERM; ``ready`` once it listens."""
    from skimd.web.server import serve

    serve(app.web_app(secure_cookie=listen.tls), listen, ready)


# -- onboarding: files for IBKR's portal and the unit's credentials (no App) ---------------------


def ibkr_keygen(
    directory: Path,
    *,
    key_bits: int = 2048,
    dh_bits: int = 2048,
    on_step: Callable[[str], None] = lambda _: None,
    on_progress: Callable[[float], None] = lambda _: None,
) -> KeygenResult:
    """The RSA key pairs and DH parameters IBKR's OAuth portal asks for, written into
    ``directory`` (:mod:`skimd.infrastructure.brokers.ibkr.keygen`)."""
    from skimd.infrastructure.brokers.ibkr.keygen import generate

    return generate(
        directory, key_bits=key_bits, dh_bits=dh_bits, monotonic=SystemClock().monotonic,
        on_step=on_step, on_progress=on_progress,
    )


def credential_plan(directory: Path, out: Path, *, replace: bool = False) -> CredentialPlan:
    """The checked plan to encrypt ``directory``'s secrets into ``out``/<credential>.cred
    (:mod:`skimd.infrastructure.systemd_credentials`)."""
    from skimd.infrastructure.systemd_credentials import plan_credentials

    return plan_credentials(directory, out, replace=replace)


# -- skimd backtest: its journal, sealed once at the end (no App) ------------------------------


def open_recorded_market(settings: Settings) -> RecordedMarket:
    """The days recorded in the trading database of ``settings`` (the daemon's tape, bars
    and announcements, and what ``skimd data import`` loaded), for ``skimd backtest --data
    recorded``; ``close()`` it when done. Needs the database key; reads only."""
    from skimd.infrastructure.brokers.factory import build_recorded_market

    resolved = with_secrets(settings, "database")
    return build_recorded_market(resolved, build_calendar(resolved))


def synthetic_market(settings: Settings) -> SimulatedMarket:
    """The demo's seeded synthetic ASX (``[demo]``), to be shared by every day of a replay
    (:func:`replay_broker`)."""
    from skimd.infrastructure.brokers.factory import build_demo_market

    return build_demo_market(settings, build_calendar(settings))


def replay_broker(settings: Settings, market: SimulatedMarket, clock: Clock) -> Broker:
    """The demo broker over ``market`` for one day of a replay, its paper account's book in
    the data dir of ``settings`` (so positions carry from day to day); give it to
    :func:`build` as the ``broker``."""
    from skimd.infrastructure.brokers.factory import build_replay_broker

    return build_replay_broker(settings, market, clock, state_dir=get_data_dir(settings))


def seal_backtest_journal(settings: Settings, plain: Path, target: Path) -> Path:
    """Move a finished backtest's plaintext database ``plain`` (closed, in a scratch dir)
    to ``target``, encrypted the way the journal is: with ``[database] passphrase`` (or
    the demo's self-made passphrase file in the data dir, made now if the configuration
    allows it) and a salt of its own beside ``target``, through ``sqlcipher_export``
    (:func:`skimd.infrastructure.database.maintenance.encrypt_plaintext`). With
    ``encryption = "off"`` the file moves as it is. An existing ``target`` (and its salt)
    is replaced. Needs no instance lock: it writes only ``target``."""
    import shutil

    from skimd.files import private_dir
    from skimd.infrastructure.database.crypto import KdfParams, salt_path
    from skimd.infrastructure.database.maintenance import encrypt_plaintext
    from skimd.infrastructure.database.passphrase import ensure_passphrase

    private_dir(target.parent)
    for old in (target, salt_path(target), Path(f"{target}-wal"), Path(f"{target}-shm")):
        old.unlink(missing_ok=True)
    if settings.database.encryption == "sqlcipher":
        resolved = with_secrets(settings, "database")
        passphrase = ensure_passphrase(resolved, get_data_dir(settings), create=True)
        encrypt_plaintext(
            plain,
            passphrase,
            KdfParams.from_settings(settings.database),
            now=SystemClock().now(),
        )
        shutil.move(salt_path(plain), salt_path(target))
    else:
        from skimd.infrastructure.database.base import open_keyed

        conn = open_keyed(plain, None)
        try:  # the WAL's pages into the file, which moves alone
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    shutil.move(plain, target)
    return target


# -- the builder ----------------------------------------------------------------------------------


def build(
    settings: Settings,
    *,
    access: Access = Access.SHARED,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
    broker: Broker | None = None,
    notifier: NotificationService | None = None,
    news: AnnouncementFeed | None = None,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    redactor: SecretRedactor | None = None,
    create_database: bool = False,
    extra_jobs: Sequence[tuple[PlannedJob, JobHandler]] = (),
    backtest: bool = False,
) -> App:
    """The application for ``settings``; see the module docstring for ``access``.

    Overrides replace what settings would build: ``clock`` (default the system clock),
    ``wall_clock`` (default ``clock``: the clock that waits a remote service asks for run
    on, i.e. Discord's rate limits and the outbox's back-off after a failed send; the demo
    passes the real clock here, so a simulated day never turns those waits into bursts),
    ``broker`` (default ``[broker] kind``), ``notifier`` (default console/JSONL/Discord from
    ``[notifications]``, console lines to ``stdout``), ``news`` (default: the broker when it
    publishes announcements, else the ASX page). ``environ`` is read for systemd's
    ``NOTIFY_SOCKET``/``WATCHDOG_USEC`` (default ``os.environ``). ``create_database``
    creates and migrates a missing database (``db init``, the demo); otherwise an
    unmigrated one is refused. ``extra_jobs`` are scheduled before the plan's (the demo's
    progress marker).

    ``backtest``: one day of ``skimd backtest`` (same jobs, services and journal, fewer
    writes nobody reads): alerts are queued in the outbox as always but go to a notifier
    that drops them (never the configured webhooks, whose secrets are not read), the
    outbox is neither scheduled nor woken by commits (it drains when the App stops), no
    heartbeat is scheduled, and a
    frequent job's "last run" row for ``skimd status`` is refreshed once a simulated day
    instead of once a minute."""
    return App(
        settings,
        access=access,
        clock=clock or SystemClock(),
        wall_clock=wall_clock,
        overrides=_Overrides(broker, notifier, news),
        environ=os.environ if environ is None else environ,
        stdout=stdout,
        redactor=redactor,
        create_database=create_database,
        extra_jobs=tuple(extra_jobs),
        backtest=backtest,
    )


class _Overrides:
    def __init__(
        self,
        broker: Broker | None,
        notifier: NotificationService | None,
        news: AnnouncementFeed | None,
    ) -> None:
        self.broker = broker
        self.notifier = notifier
        self.news = news


class App:
    """Every part of skimd for one command or one daemon, built on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        access: Access,
        clock: Clock,
        wall_clock: Clock | None,
        overrides: _Overrides,
        environ: Mapping[str, str],
        stdout: TextIO | None,
        redactor: SecretRedactor | None,
        create_database: bool,
        extra_jobs: tuple[tuple[PlannedJob, JobHandler], ...],
        backtest: bool = False,
    ) -> None:
        self.settings = settings
        self.backtest = backtest
        self.access = access
        self.clock = clock
        # Remote-service waits only (see ``build``); the same clock unless the demo says so.
        self.wall_clock = wall_clock or clock
        self.calendar = build_calendar(settings)
        self.params = strategy_params(settings)
        self.data_dir = get_data_dir(settings)
        self.database_path = self.data_dir / settings.database.filename
        self._overrides = overrides
        self._environ = environ
        self._stdout = stdout
        self._redactor = redactor
        self._create_database = create_database
        self._extra_jobs = extra_jobs
        self._with_secrets: dict[SecretGroup, Settings] = {}
        self._sync = ExitStack()
        self._async = AsyncExitStack()
        self._has_async_parts = False
        if access is Access.EXCLUSIVE:
            ensure_data_dir(settings)
            lock = InstanceLock(self.data_dir)
            lock.acquire()  # first: a second instance stops here and touches nothing
            self._sync.callback(lock.release)
            try:  # modes and leftovers of killed writes; readers leave both alone
                tidy_data_dir(self.data_dir, passphrase_files(settings, self.data_dir))
            except BaseException:
                self._sync.close()
                raise
        else:
            warn_if_open(self.data_dir)

    # -- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close a sync-only App (no HTTP client, broker or outbox was built)."""
        if self._has_async_parts:
            raise RuntimeError("this App built async parts: close it with `await app.aclose()`")
        self._sync.close()

    async def aclose(self) -> None:
        try:
            await self._async.aclose()
        finally:
            self._sync.close()

    def __enter__(self) -> App:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def settings_with(self, group: SecretGroup) -> Settings:
        """The settings with ``group``'s secrets read (once per App), for the part that uses
        them: the database key when the database is opened, the broker's when the broker
        is built, the webhooks when the notifiers are. A required secret that is missing
        stops that part (and only it) with one line naming its credential."""
        if group not in self._with_secrets:
            resolved = with_secrets(self.settings, group)
            if self._redactor is not None:
                for value in held_secrets(resolved, group):
                    self._redactor.add(value)
            self._with_secrets[group] = resolved
        return self._with_secrets[group]

    def _require_secrets(self) -> None:
        """Read the secrets of every part the daemon or a scan will build before building
        any: a missing one stops the command before it opens or logs anything else. A
        part given as an override needs none."""
        overridden = {
            "broker": self._overrides.broker is not None,
            "notifications": self._overrides.notifier is not None or self.backtest,
        }
        for group in GROUPS:
            if group != "web" and not overridden.get(group, False):  # skimd web's own
                self.settings_with(group)

    def _on_close(self, closer: Callable[[], Any]) -> None:
        """Close ``closer`` (sync or async) with the App, after everything built later."""
        self._has_async_parts = True
        self._async.push_async_callback(_call_and_await, closer)

    # -- storage ---------------------------------------------------------------------------

    @cached_property
    def database(self) -> TradingDatabase:
        """The trading database; an unmigrated or newer one is refused."""
        from skimd.infrastructure.database import check_schema, open_trading_database

        db = open_trading_database(
            self.settings_with("database"),
            create=self._create_database,
            exclusive=self.access is Access.EXCLUSIVE,
        )
        try:
            check_schema(db)
        except BaseException:
            db.close()
            raise
        if self._has_async_parts:  # closed after the async parts that may still use it
            self._on_close(db.close)
        else:
            self._sync.callback(db.close)
        return db

    @cached_property
    def store(self) -> SqlJournalStore:
        """The trading and journal store (one database, one unit of work per transaction);
        every commit wakes the alert outbox, if this App runs one."""
        from skimd.infrastructure.database.journal_store import SqlJournalStore

        return SqlJournalStore(self.database.unit_of_work, after_commit=self._wake_outbox)

    def store_alert(self, alert: Alert) -> None:
        """Queue ``alert`` in its own unit of work (durable before this returns)."""
        with self.store.transaction() as tx:
            tx.alert(alert)

    @cached_property
    def kill_switch(self) -> KillSwitch:
        from skimd.services.guard import KillSwitch

        return KillSwitch(self.store, self.clock)

    @cached_property
    def db_admin(self) -> DatabaseAdmin:
        """``skimd db``'s maintenance steps; the ones that replace the file need EXCLUSIVE."""
        from skimd.infrastructure.database.admin import DatabaseAdmin

        return DatabaseAdmin(
            self.settings_with("database"),
            self.data_dir,
            self.clock,
            exclusive=self.access is Access.EXCLUSIVE,
        )

    @cached_property
    def journal(self) -> JournalAdmin:
        """The journal's listings, exports and bank imports (``skimd journal``)."""
        from skimd.infrastructure.database.journal_admin import JournalAdmin

        return JournalAdmin(self.database, self.clock, self.calendar.zone)

    @cached_property
    def demo_account(self) -> DemoAccount:
        """The demo's own files in the data dir (marker, broker book); EXCLUSIVE only."""
        from skimd.infrastructure.demo_state import DemoAccount

        self._require_exclusive("the demo account")
        return DemoAccount(self.data_dir, self.settings.database.filename, self.settings.demo.seed)

    def import_bars(self, path: Path, *, symbol: str | None = None) -> BarImport:
        """``skimd data import``: the CSV file's bars into the recorded market, in one unit
        of work (:mod:`skimd.infrastructure.database.bar_import`)."""
        from skimd.infrastructure.database.bar_import import import_bars, read_bars

        bars = read_bars(path, self.calendar.zone, symbol)
        with self.database.unit_of_work() as uow:
            return import_bars(uow, bars)

    def day_summary(self, day: date) -> DaySummary:
        from skimd.infrastructure.database.day_summary import summarise_day

        return summarise_day(self.database, day, self.calendar.zone)

    def trade_reports(self, prices: PricePath | None = None) -> TradeReports:
        """The per-round-trip report writer. Without ``prices`` (a command has no broker
        session) charts show the executions' own prices; the daemon passes the broker's
        intraday path."""
        from functools import partial

        from skimd.infrastructure.database.report_store import SqlReportStore
        from skimd.services.journal.reports import TradeReports
        from skimd.services.ports.reports import NoPricePath

        zone = self.calendar.zone
        return TradeReports(
            SqlReportStore(self.database.unit_of_work),
            prices if prices is not None else NoPricePath(),
            partial(self.renderer.report_chart, zone),
            self.clock,
            zone,
        )

    @cached_property
    def journal_reviews(self) -> JournalReviews:
        """The trader's reviews of round trips (``skimd journal review``, the web view's
        review form): one write transaction per review; reading never takes the lock."""
        from skimd.infrastructure.database.review_store import SqlReviewStore
        from skimd.services.journal.reviews import JournalReviews

        return JournalReviews(
            SqlReviewStore(self.database.unit_of_work), self.clock, self.calendar.zone
        )

    @cached_property
    def journal_records(self) -> JournalRecords:
        """The trader's own plans, mistakes and screenshots (``skimd journal
        plan|mistake|attach``, the web view's forms)."""
        from skimd.infrastructure.database.record_store import SqlRecordStore
        from skimd.services.journal.records import JournalRecords

        return JournalRecords(
            SqlRecordStore(self.database.unit_of_work), self.clock, self.calendar.zone
        )

    def journal_stats(self) -> JournalStats:
        """``skimd journal stats``: statistics of closed round trips (read-only) and the
        equity-curve chart (and ``skimd backtest``'s drawdown chart)."""
        from skimd.infrastructure.database.stats_reads import SqlClosedTrips
        from skimd.infrastructure.notifications.equity_chart import (
            drawdown_chart_renderer,
            equity_chart_renderer,
        )
        from skimd.services.journal.stats import JournalStats

        zone = self.calendar.zone
        return JournalStats(
            SqlClosedTrips(self.database.unit_of_work),
            zone,
            equity_chart_renderer(zone),
            drawdown_chart_renderer(zone),
        )

    # -- alerts ----------------------------------------------------------------------------

    @cached_property
    def tls(self) -> ssl.SSLContext:
        """The one TLS verification context every HTTP client of this App shares (the
        system's lazily loaded CA directory when there is one: see
        :mod:`skimd.infrastructure.tls`), instead of a copy of certifi's bundle per client."""
        from skimd.infrastructure.tls import verify_context

        return verify_context()

    @cached_property
    def http(self) -> httpx.AsyncClient:
        """The notifiers' and heartbeat's HTTP client."""
        import httpx

        client = httpx.AsyncClient(
            timeout=self.settings.notifications.discord_timeout_s, verify=self.tls
        )
        self._on_close(client.aclose)
        return client

    @cached_property
    def broker_http(self) -> httpx.AsyncClient:
        """The IBKR broker's HTTP client (the demo broker makes no network calls)."""
        import httpx

        client = httpx.AsyncClient(timeout=self.settings.ibkr.request_timeout_s, verify=self.tls)
        self._on_close(client.aclose)  # closed after the broker, which is built later
        return client

    @cached_property
    def notifier(self) -> NotificationService:
        if self._overrides.notifier is not None:
            return self._overrides.notifier
        if self.backtest:
            from skimd.infrastructure.notifications.discard import DiscardingNotifier

            return DiscardingNotifier()
        from skimd.infrastructure.notifications.factory import build_notifier

        settings = self.settings_with("notifications")
        cfg = settings.notifications
        # An HTTP client (and with it the process's first TLS context, ≈2.7 MB) only when
        # a Discord webhook will use it.
        discord = (cfg.discord_webhook_url, cfg.discord_critical_webhook_url) != (None, None)
        return build_notifier(
            settings,
            clock=self.wall_clock,  # the notifiers wait only for the remote side
            http_client=self.http if discord else None,
            stdout=self._stdout or sys.stdout,
            renderer=self._discord_renderer() if discord else None,
        )

    def _discord_renderer(self) -> ChildRenderer | InProcessRenderer:
        """:attr:`renderer`, its Discord worker (if one is running) stopped with the App."""
        from skimd.infrastructure.notifications.message_renderers import ChildRenderer

        renderer = self.renderer
        if isinstance(renderer, ChildRenderer):
            self._on_close(renderer.aclose)
        return renderer

    @cached_property
    def renderer(self) -> ChildRenderer | InProcessRenderer:
        """Charts and Discord messages are drawn in a short-lived child process, so Pillow
        and discord-webhook (with ``requests``; ≈9 MB together) are never loaded into a
        skimd process that runs for weeks. A backtest (a batch, where a process start per
        trade report's chart would cost more than its whole day) draws them here."""
        from skimd.infrastructure.notifications.message_renderers import (
            ChildRenderer,
            InProcessRenderer,
        )

        if self.backtest:
            return InProcessRenderer()
        return ChildRenderer()

    @cached_property
    def alert_policy(self) -> AlertPolicy:
        """Which alert kinds reach which webhook, and how (``[notifications.kinds]``): the
        fan-out notifier's, which applies it to its direct sends (other notifiers: none)."""
        from skimd.domain.alert_policy import AlertPolicy
        from skimd.infrastructure.notifications.fanout import FanOutNotifier

        notifier = self.notifier
        return notifier.policy if isinstance(notifier, FanOutNotifier) else AlertPolicy()

    @cached_property
    def outbox(self) -> OutboxSender:
        """The alert outbox's sender. Closing the App delivers what is pending first."""
        from skimd.infrastructure.notifications.outbox_store import SqlOutboxStore
        from skimd.services.alerts import OutboxSender

        cfg = self.settings.notifications
        sender = OutboxSender(
            SqlOutboxStore(self.database.unit_of_work),
            self.notifier,
            clock=self.clock,
            wall_clock=self.wall_clock,
            coalesce_threshold=cfg.outbox_coalesce_threshold,
            backoff_initial_s=cfg.outbox_backoff_initial_s,
            backoff_max_s=cfg.outbox_backoff_max_s,
            policy=self.alert_policy,
            quiet_digest_interval_s=cfg.quiet_digest_interval_min * 60,
        )
        self._on_close(sender.aclose)
        self._on_close(sender.run_once)  # runs first: the last alerts go out before closing
        return sender

    def _wake_outbox(self) -> None:
        sender = self.__dict__.get("outbox")
        if sender is not None and not self.backtest:
            sender.wake()
        feed = self.__dict__.get("alert_feed")
        if feed is not None:
            feed.poke()

    # -- the broker and the news ---------------------------------------------------------------

    @cached_property
    def broker(self) -> Broker:
        """The configured broker. EXCLUSIVE: its events become alerts and conids are cached
        in the database, and the demo account's book lives in the data dir (the lock is
        held). SHARED: events are dropped and conids cached in memory."""
        if self._overrides.broker is not None:
            return self._overrides.broker
        from functools import partial

        from skimd.infrastructure.brokers.events import NullBrokerEvents
        from skimd.infrastructure.brokers.factory import BrokerFactory, build_ibkr_broker
        from skimd.infrastructure.brokers.ibkr.rsa_child_process import ChildProcessRsaKeys
        from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache

        exclusive = self.access is Access.EXCLUSIVE
        if exclusive:
            from skimd.infrastructure.database.identifier_cache import SqlIdentifierCache
            from skimd.services.daemon_alerts import AlertingBrokerEvents

            events: Any = AlertingBrokerEvents(
                self.store_alert,
                self.clock,
                broker=self.settings.broker.kind,
                session=self.broker_session,
            )
            cache: Any = SqlIdentifierCache(self.database.unit_of_work, self.clock)
        else:
            events, cache = NullBrokerEvents(), InMemoryIdentifierCache()
        # IBKR's RSA private keys are used in a short-lived child process, so cryptography
        # is never loaded into a skimd process (the daemon above all).
        ibkr = partial(build_ibkr_broker, rsa_keys=ChildProcessRsaKeys())
        # only a broker that makes network calls gets (and makes the App build) a client
        networked = self.settings.broker.kind.strip().lower() == "ibkr"
        broker = BrokerFactory(extra_builders={"ibkr": ibkr}).create(
            self.settings.broker.kind,
            self.settings_with("broker"),
            clock=self.clock,
            events=events,
            identifier_cache=cache,
            calendar=self.calendar,
            http_client=self.broker_http if networked else None,
            on_secret=None if self._redactor is None else self._redactor.add,
            state_dir=self.data_dir if exclusive else None,
            shared_dir=self.data_dir,
        )
        self._on_close(broker.close)
        return broker

    @cached_property
    def broker_session(self) -> BrokerSessionMonitor:
        """What the daemon knows of the broker session: fed by the broker's events and the
        jobs, recorded for ``skimd status``, pausing the market-data and order jobs while
        the session is down. EXCLUSIVE only (it writes)."""
        from skimd.services.broker_session import BrokerSessionMonitor

        self._require_exclusive("the broker session monitor")
        return BrokerSessionMonitor(
            self.store,
            self.clock,
            broker=self.settings.broker.kind,
            critical_after_s=self.settings.supervisor.broker_down_critical_after_min * 60,
        )

    @cached_property
    def news(self) -> AnnouncementFeed:
        """Company announcements: the override, else the broker when it publishes its own
        (the demo market), else today's ASX announcements page."""
        if self._overrides.news is not None:
            return self._overrides.news
        from skimd.services.ports.broker import AnnouncementFeed

        if isinstance(self.broker, AnnouncementFeed):
            return self.broker
        import httpx

        from skimd.infrastructure.news.asx_feed import AsxAnnouncementFeed

        # The ASX site wants a browser's headers and redirects followed: its own client.
        http = httpx.AsyncClient(
            timeout=self.settings.ibkr.request_timeout_s,
            verify=self.tls,
            follow_redirects=True,
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) skimd", "Accept": "text/html"},
        )
        self._on_close(http.aclose)
        return AsxAnnouncementFeed(
            http, self.settings.strategy.news_url, self.clock, self.calendar.zone
        )

    # -- trading and the daemon ---------------------------------------------------------------

    @cached_property
    def trading(self) -> TradingDay:
        """The trading day's jobs over the broker, the store and the news, with the journal
        (position sync, end of day, reports) attached. EXCLUSIVE only: one broker session
        and one writer of orders per data dir."""
        from skimd.services.journal.prices import BrokerPricePath
        from skimd.services.trading.context import TradingContext
        from skimd.services.trading.day import TradingDay

        self._require_exclusive("trading")
        ctx = TradingContext(
            broker=self.broker,
            store=self.store,
            clock=self.clock,
            calendar=self.calendar,
            params=self.params,
            news=self.news,
            records_market=not self.backtest,
        )
        session = self.broker_session
        session.probe_with(self.broker.health)
        day = TradingDay(ctx, session=session)

        def reports(day: date) -> Any:
            # The report stack (its store, Markdown and charts) is built when the end of day
            # writes reports, not at start: a steady daemon does not hold it.
            return self.trade_reports(BrokerPricePath(self.broker)).write_reports(day)

        day.attach_journal(lambda desk: _journal_day(self.settings, ctx, self.store, desk, reports))
        return day

    @cached_property
    def quote_watch(self) -> QuoteWatch | None:
        """The trading day's reaction to pushed quotes, when the broker can push them
        (:class:`~skimd.services.ports.quotes.StreamingBroker`) and ``[broker]
        stream_quotes`` is on; None otherwise (the poll does everything). Its subscriptions
        follow the trading day's polls; the supervisor starts and stops it."""
        from skimd.services.ports.quotes import StreamingBroker
        from skimd.services.trading.streaming import QuoteWatch

        broker = self.broker
        if not self.settings.broker.stream_quotes or not isinstance(broker, StreamingBroker):
            return None
        day = self.trading
        watch = QuoteWatch(
            day,
            broker.quote_stream,
            clock=self.clock,
            alert=self.store_alert,
            broker=self.settings.broker.kind,
            poll_interval_s=self.params.poll_interval_s,
            session_down=self.broker_session.down_reason,
        )
        day.attach_quotes(watch)
        return watch

    @cached_property
    def operator(self) -> OperatorActions:
        """What the control channel's operator does to trading (flatten, pause, resume,
        and the journal of every control action), on this App's trading day, store and
        alert outbox. EXCLUSIVE only (it writes and places orders)."""
        from skimd.services.trading.operator import OperatorActions

        self._require_exclusive("the operator's actions")
        return OperatorActions(self.trading)

    @cached_property
    def supervisor(self) -> Supervisor:
        """The scheduler, the job plan bound to its handlers, and the hooks that turn the
        supervisor's news into alerts and job-run rows. Building it builds the trading day
        and the outbox."""
        from skimd.infrastructure.database.job_runs import JobFailureCounts, JobRunRecorder
        from skimd.infrastructure.scheduling import SchedulerAdapter
        from skimd.infrastructure.systemd import SdNotifier, watchdog_interval_s
        from skimd.services.control_events import PublishingHooks
        from skimd.services.daemon_alerts import AlertingHooks
        from skimd.services.jobs import JobTable, bind_plan
        from skimd.services.supervisor import Supervisor

        self._require_exclusive("the daemon")
        self._require_secrets()
        plan = job_plan(self.settings)
        handlers: dict[str, JobHandler] = {"outbox": self.outbox.run_once}
        if self.backtest:  # no pings; alerts are drained once, when the day's App stops
            plan = [j for j in plan if j.id not in ("heartbeat", "outbox")]
            del handlers["outbox"]
        beat = None if self.backtest else self._heartbeat()
        if beat is not None:
            handlers["heartbeat"] = beat
        handlers.update(self.trading.handlers())
        streaming = self.quote_watch
        table = JobTable()
        for planned, handler in self._extra_jobs:
            table.add(planned.bind(handler))
        for spec in bind_plan(plan, handlers):
            table.add(spec)
        built: list[Supervisor] = []
        alerting = AlertingHooks(
            self.store_alert,
            self.clock,
            broker=self.settings.broker.kind,
            live_trading=self.settings.broker.live_trading,
            critical_after=self.settings.supervisor.job_failures_critical_after,
            record_run=JobRunRecorder(
                self.database.unit_of_work,
                plan,
                **({"every_s": BACKTEST_RUN_RECORD_EVERY_S} if self.backtest else {}),
            ),
            running_since=lambda job: built[0].running_since(job) if built else None,
            failures=JobFailureCounts(self.database.unit_of_work),
        )
        shown = [j.id for j in plan if not j.internal]
        hooks = PublishingHooks(alerting, self.control_events, self.clock, shown)
        sup = self.settings.supervisor
        kill_switch = self.kill_switch
        supervisor = Supervisor(
            clock=self.clock,
            scheduler=SchedulerAdapter(self.clock, self.calendar.zone, sup.misfire_grace_s),
            calendar=self.calendar,
            jobs=table,
            sd=SdNotifier(self._environ.get("NOTIFY_SOCKET")),
            hooks=hooks,
            shutdown_timeout_s=sup.shutdown_timeout_s,
            watchdog_interval_s=watchdog_interval_s(self._environ.get("WATCHDOG_USEC")),
            status_interval_s=sup.status_interval_s,
            halt_trading=kill_switch.halt,
            session=self.broker_session,
            background=() if streaming is None else (streaming,),
        )
        built.append(supervisor)
        return supervisor

    def _heartbeat(self) -> JobHandler | None:
        from skimd.infrastructure.notifications.factory import build_heartbeat

        settings = self.settings_with("notifications")
        if settings.notifications.heartbeat_url is None:
            return None  # and no HTTP client is made for it
        beat = build_heartbeat(
            settings,
            clock=self.clock,
            http_client=self.http,
            is_healthy=lambda: True,
        )
        return None if beat is None else beat.beat_once

    async def run(
        self,
        *,
        simulate_until: datetime | None = None,
        install_signals: bool = True,
        pace: float | None = None,
    ) -> int:
        """Run the daemon until asked to stop (see :func:`skimd.runtime.run_supervisor`),
        serving the control socket meanwhile; the exit code. Pending alerts are delivered
        before this returns."""
        from skimd.runtime import run_supervisor

        supervisor = self.supervisor
        control = self.control_server
        await control.serve()  # a daemon that cannot listen still trades (logged)
        try:
            code = await run_supervisor(
                supervisor,
                self.clock,
                run_for_s=self.settings.supervisor.run_for_s,
                simulate_until=simulate_until,
                install_signals=install_signals,
                pace=pace,
            )
        finally:
            await control.close()
            self.control_events.close()
        await self.outbox.run_once()  # the "stopping" alert goes out with the rest
        return code

    # -- the control channel ----------------------------------------------------------------

    @cached_property
    def control_events(self) -> EventBus:
        """The daemon's alerts and job runs as they happen, for ``skimd tail``."""
        from skimd.services.control_events import EventBus

        return EventBus()

    @cached_property
    def alert_feed(self) -> OutboxAlertFeed:
        """Publishes each alert the store commits to :attr:`control_events` (only while
        someone tails; every commit pokes it)."""
        from skimd.infrastructure.control.alert_feed import OutboxAlertFeed

        bus = self.control_events
        feed = OutboxAlertFeed(
            self.database.unit_of_work, bus.publish, lambda: bus.active, self.calendar.zone
        )
        bus.on_first_subscriber(feed.start_from_now)
        return feed

    @cached_property
    def control_server(self) -> ControlServer:
        """The daemon's control socket, answering with the daemon's own parts; :meth:`run`
        opens and closes it. EXCLUSIVE only."""
        from skimd.infrastructure.control.server import ControlServer
        from skimd.services.control import DaemonControl

        self._require_exclusive("the control socket")
        self.alert_feed  # noqa: B018 - alerts reach `skimd tail` from the first commit on
        handler = DaemonControl(
            status=self._daemon_status,
            kill_switch=self.kill_switch,
            supervisor=self.supervisor,
            events=self.control_events,
            # flatten / pause / resume and the journal of control actions: the App's
            # operator actions, built on first use (a status call never builds them)
            operator=lambda: self.operator,
            tape=self._tape,
        )
        return ControlServer(control_socket_path(self.settings), handler)

    def _tape(self, ticker: str) -> tuple[Sequence[PricePoint], Sequence[VolumePoint]]:
        """Today's prices of ``ticker`` as the trading day's price tape holds them."""
        ctx = self.trading.ctx
        day = ctx.today()
        return ctx.tape.path(day, ticker), ctx.tape.volumes(day, ticker)

    async def scan_now(self) -> dict[str, Any]:
        """``skimd scan``: the news and gap scans now, saved and alerted as the job would."""
        from skimd.services.scan_report import scan_report

        self._require_secrets()
        self.outbox  # noqa: B018 - alerts go out as they are committed
        return await scan_report(self.trading)

    async def broker_check(self, symbol: str) -> dict[str, Any]:
        """``skimd broker check``: session, accounts, a quote of ``symbol``, pacing."""
        from skimd.services.broker_check import collect

        return await collect(self.broker, symbol)

    # -- skimd web -------------------------------------------------------------------------

    def web_app(self, *, secure_cookie: bool = False) -> Any:
        """``skimd web``'s ASGI app (a SHARED App: it reads, and its actions go to the
        daemon's control socket). Needs a password set; the session key is ``[web]
        session_secret`` or a random one (sessions then end when the process does)."""
        import functools
        import secrets
        from datetime import timedelta

        from skimd.infrastructure.database.bank_reads import SqlBankReads
        from skimd.infrastructure.database.report_store import SqlReportStore
        from skimd.infrastructure.database.trip_reads import SqlTripReads
        from skimd.infrastructure.notifications.charts import opening_range_chart
        from skimd.web.app import WebOptions, create_app
        from skimd.web.desk import Desk, DeskParts

        passwords = web_password_file(self.settings)
        passwords.check()
        secret = self.settings_with("web").web.session_secret
        parts = DeskParts(
            control=control_client(self.settings),
            status=self.status_report,
            kill_switch=lambda: self.kill_switch,
            trips=lambda: SqlTripReads(self.database.unit_of_work),
            reports=lambda: SqlReportStore(self.database.unit_of_work),
            stats=self.journal_stats,
            reviews=lambda: self.journal_reviews,
            records=lambda: self.journal_records,
            bank=lambda: SqlBankReads(self.database.unit_of_work),
            zone=self.calendar.zone,
            recent_alerts=self._recent_alerts,
            alerts_after=self._alerts_after,
            preference=self.preference,
            range_chart=functools.partial(opening_range_chart, tz=self.calendar.zone),
        )
        options = WebOptions(
            session_secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
            read_only=self.settings.web.read_only,
            secure_cookie=secure_cookie,
            max_age=timedelta(minutes=self.settings.web.session_max_age_min),
        )
        return create_app(Desk(parts), passwords.verify, options, self.clock)

    def preference(self, wanted: Preference[T]) -> T:
        """``wanted`` as the trader set it, else the app default, else the code's default
        (no database yet: the code's). A read-only unit of work: safe beside the daemon."""
        if not self.database_path.exists():
            return wanted.default
        with self.database.unit_of_work(read_only=True) as uow:
            return uow.settings.preference(wanted)

    def _alerts_after(self, after: int) -> list[dict[str, Any]]:
        from skimd.infrastructure.control.alert_feed import alerts_after

        if not self.database_path.exists():
            return []
        return alerts_after(self.database.unit_of_work, self.calendar.zone, after)

    def _recent_alerts(self, limit: int) -> list[dict[str, Any]]:
        from skimd.infrastructure.control.alert_feed import recent_alerts

        if not self.database_path.exists():
            return []
        return recent_alerts(self.database.unit_of_work, self.calendar.zone, limit)

    # -- status ----------------------------------------------------------------------------

    def status_report(self) -> dict[str, Any]:
        """What ``skimd status`` shows, read-only and without the instance lock: the job
        plan from settings, and the trading state when a database exists."""
        from skimd.infrastructure.database.job_runs import read_last_runs
        from skimd.infrastructure.scheduling import next_fire_time
        from skimd.services.status import StatusSources, collect_status

        sources = StatusSources(
            config=self.settings.source,
            data_dir=self.data_dir,
            lock_path=InstanceLock(self.data_dir).path,
            database_path=self.database_path,
            broker=self.settings.broker.kind,
            clock=self.clock,
            calendar=self.calendar,
            jobs=[j for j in job_plan(self.settings) if not j.internal],
            next_fire=next_fire_time,
        )
        if self.database_path.exists():
            sources.store = self.store
            sources.last_runs = lambda ids: read_last_runs(self.database.unit_of_work, ids)
        return collect_status(sources)

    def _daemon_status(self) -> dict[str, Any]:
        """The daemon's own status (the control socket's): :meth:`status_report` plus what
        only the running process knows, how quotes reach the watch (``quotes``: None when
        the broker cannot push them or ``stream_quotes`` is off; the poll does it all)."""
        report = self.status_report()
        watch = self.quote_watch
        report["quotes"] = None if watch is None else watch.describe(self.calendar.zone)
        return report

    def _require_exclusive(self, what: str) -> None:
        if self.access is not Access.EXCLUSIVE:
            raise RuntimeError(f"{what} needs an EXCLUSIVE App (the instance lock)")


async def _call_and_await(closer: Callable[[], Any]) -> None:
    import inspect

    result = closer()
    if inspect.isawaitable(result):
        await result


def _journal_day(
    settings: Settings,
    ctx: Any,
    store: SqlJournalStore,
    desk: Any,
    reports: Callable[[date], Any] | None,
) -> Any:
    """The journal's position sync and end of day around the trading day's order desk."""
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


__all__ = [
    "Access",
    "App",
    "SecretStatus",
    "build",
    "build_calendar",
    "control_client",
    "control_socket_path",
    "daemon_pid",
    "data_dir",
    "internal_job",
    "job_plan",
    "plumbing_schedule",
    "secrets_report",
    "settings_from",
    "setup_logging",
    "strategy_params",
    "trading_plan",
]
