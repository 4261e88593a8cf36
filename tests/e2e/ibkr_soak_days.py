"""The soak: the real daemon with the IBKR broker against the fake IBKR for days on end.

One :class:`~skimd.bootstrap.App` (EXCLUSIVE, as ``skimd run`` builds it: the same
supervisor, job plan and handlers) runs without a restart from 09:30 on the first day to
16:20 on the last (nights and weekends included), on a
:class:`~skimd.clock.SimulatedClock`. Its broker is the real IBKR facade (OAuth signing,
pacing, the brokerage-session keep-alive, the order dialogue) talking to
:class:`~tests.fakes.ibkr_server.FakeIbkr` through
:class:`~tests.fakes.ibkr_faults.FaultyTransport`: the fake's prices, scanner, history and
fills come from the seeded demo market (:mod:`tests.fakes.ibkr_market`), and faults arrive
on a schedule (:func:`week_faults`). The broker's session events are alerted by the
daemon's own :class:`~skimd.services.daemon_alerts.AlertingBrokerEvents` (and recorded).

After every watch poll while the market is open the check of
:mod:`tests.e2e.fault_days` holds skimd's positions against the FAKE's book (its executions
and working orders), so a position is unprotected only when IBKR itself works no stop for
it and skimd's software stop does not guard it.

The clock moves to the next timer when every running job waits on the clock (a pacing
wait, a back-off, a slow answer) or no job runs, so the broker's own waits cost no real
time. Used by ``tests/e2e/test_ibkr_soak.py`` (one day) and ``bench/ibkr_soak.py`` (five).
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time as wall
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import httpx
from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import (
    BrokerSettings,
    DatabaseSettings,
    DemoSettings,
    LoggingSettings,
    PathSettings,
    Settings,
    StrategySettings,
)
from skimd.domain.account import Position
from skimd.domain.calendar import combine
from skimd.domain.market import Announcement
from skimd.domain.orders import OrderState, OrderStatus, OrderType, Side, TimeInForce
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.facade import build_ibkr_broker
from skimd.infrastructure.brokers.ibkr.pacing_ledger import PACING_FILE
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.daemon_alerts import AlertingBrokerEvents
from skimd.services.ports.broker import BrokerEvents
from tests.e2e.fault_days import CheckedWatch, FaultReport, ProtectionCheck
from tests.fakes.ibkr_faults import (
    INIT_PATH,
    LST_PATH,
    Fault,
    FaultKind,
    FaultSchedule,
    FaultyTransport,
)
from tests.fakes.ibkr_market import FakeIbkrMarket
from tests.fakes.ibkr_server import FakeAccount, FakeIbkr, FakeIbkrKeys
from tests.fakes.notifiers import RecordingNotifier

ZONE = "Australia/Sydney"
BASE_URL = "https://api.ibkr.test/v1/api"
SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
_AUTH_PATHS = (INIT_PATH, "/iserver/auth/status")


# -- the plan ---------------------------------------------------------------------------------


def week_faults(day: date, zone: Any, *, first: bool) -> list[Fault]:
    """One trading day's faults (Sydney times). The nightly reset comes at 01:00 before
    every day but the first (the daemon has no session yet then)."""

    def at(h: int, m: int) -> datetime:
        return combine(day, time(h, m), zone)

    faults = [
        Fault(at(10, 20), FaultKind.DROPPED_ORDER),
        Fault(at(10, 35), FaultKind.SERVER_ERRORS, count=3, prefix="/iserver/marketdata",
              status=503),
        Fault(at(11, 0), FaultKind.COMPETING, seconds=300),
        Fault(at(11, 30), FaultKind.LST_EXPIRY),
        Fault(at(13, 0), FaultKind.SLOW, seconds=8.0, count=5),
        Fault(at(14, 0), FaultKind.SERVER_ERRORS, count=2, prefix="/iserver/account",
              status=502),
    ]
    if not first:
        faults.append(Fault(at(1, 0), FaultKind.NIGHTLY_RESET))
    return faults


def one_day_faults(day: date, zone: Any, *, first: bool) -> list[Fault]:
    """Every fault once in one session: the reset (IBKR's is nightly) comes at 12:30."""
    del first
    return [*week_faults(day, zone, first=True),
            Fault(combine(day, time(12, 30), zone), FaultKind.NIGHTLY_RESET)]


@dataclass(frozen=True)
class SoakPlan:
    days: tuple[date, ...]
    one_day: bool = False  # every fault once (the reset in the session) instead of the week's
    seed: int = 7
    universe_size: int = 300
    start: time = time(9, 30)  # on the first day
    day_end: time = time(16, 20)

    def faults(self, zone: Any) -> list[Fault]:
        make = one_day_faults if self.one_day else week_faults
        return [f for n, d in enumerate(self.days) for f in make(d, zone, first=n == 0)]


# -- figures ----------------------------------------------------------------------------------


@dataclass
class DayFigures:
    day: date
    entries: int = 0
    exits: int = 0
    lst_renewals: int = 0
    reinits: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429s the fake answered
    duplicate_coids: int = 0  # cOIDs the fake accepted more than one order for
    duplicate_posts: int = 0  # order POSTs the fake refused as a cOID it already has
    unprotected_s: int = 0
    alerts: int = 0
    polls: int = 0
    wall_s: float = 0.0
    without_reinit: list[str] = field(default_factory=list)  # renewals/resets not re-inited
    failed_calls: int = 0  # calls answered >= 400 (or lost), faults included
    failures: Counter[str] = field(default_factory=Counter)  # "status path" of those calls
    lost_answers: int = 0  # calls whose answer the fake dropped (after doing the work)
    kill_switch: str = "open"  # at the day's end: "open", or when and why it was locked

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


@dataclass
class SoakReport:
    days: list[DayFigures] = field(default_factory=list)
    check: FaultReport = field(default_factory=FaultReport)
    events: RecordingBrokerEvents = field(default_factory=RecordingBrokerEvents)
    alerts: RecordingNotifier = field(default_factory=lambda: RecordingNotifier("soak"))
    exit_code: int | None = None
    duplicate_client_order_ids: int = 0  # skimd's own count, over its intents
    status: dict[str, Any] = field(default_factory=dict)  # `skimd status --json` at the end


# -- pieces -----------------------------------------------------------------------------------


class TeeEvents:
    """The broker's events: recorded, and passed on to the daemon's alerting once built."""

    def __init__(self, recorded: RecordingBrokerEvents) -> None:
        self.recorded = recorded
        self.target: BrokerEvents | None = None

    def _all(self) -> list[BrokerEvents]:
        return [self.recorded] if self.target is None else [self.recorded, self.target]

    def session_lost(self, reason: str, retry_at: datetime | None = None) -> None:
        for e in self._all():
            e.session_lost(reason, retry_at)

    def session_competing(self, retry_at: datetime | None = None) -> None:
        for e in self._all():
            e.session_competing(retry_at)

    def session_restored(self) -> None:
        for e in self._all():
            e.session_restored()

    def session_renewed(self, expires_at: datetime | None) -> None:
        for e in self._all():
            e.session_renewed(expires_at)

    def rate_limited(self, endpoint_class: str, until: datetime) -> None:
        for e in self._all():
            e.rate_limited(endpoint_class, until)


class MarketNews:
    """The demo market's announcements as the daemon's news feed (the fake IBKR has none)."""

    def __init__(self, market: DemoMarket, clock: SimulatedClock) -> None:
        self.market = market
        self.clock = clock

    async def announcements(self, day: date) -> list[Announcement]:
        return self.market.announcements(day, until=self.clock.now())


class FakeBook:
    """The fake IBKR's book in the shape :class:`~tests.e2e.fault_days.ProtectionCheck`
    reads: working orders, positions (from its executions) and the market's prices."""

    def __init__(self, fake: FakeIbkr, market: FakeIbkrMarket) -> None:
        self.fake = fake
        self.market = market.market
        self._market = market

    async def book_orders(self) -> list[OrderState]:
        self._market.settle(self.fake.clock.now())
        out = []
        for o in self.fake.orders.values():
            working = o.status in ("PreSubmitted", "Submitted")
            status = OrderStatus.SUBMITTED if working else (
                OrderStatus.FILLED if o.status == "Filled" else OrderStatus.CANCELLED)
            out.append(OrderState(
                broker_order_id=o.order_id, client_order_id=o.coid, status=status,
                symbol=o.symbol, conid=o.conid, side=Side(o.side), qty=o.qty,
                filled_qty=o.filled, remaining=o.qty - o.filled if working else 0,
                order_type=OrderType(o.order_type), tif=TimeInForce(o.tif),
            ))
        return out

    async def positions(self) -> list[Position]:
        held: Counter[tuple[str, int]] = Counter()
        for e in self.fake.executions:
            held[(e.order.symbol, e.order.conid)] += e.qty if e.order.side == "BUY" else -e.qty
        account = self.fake.accounts[0].account_id
        return [Position(account, s, c, q, avg_cost=Decimal(0))
                for (s, c), q in held.items() if q]


def _settled() -> bool:
    """True when time may move on: no task but the caller's can run now, and none waits on a
    worker thread (the database, the outbox store). Tasks waiting on the clock, on a lock or
    on another task are blocked until a timer fires, so their waits cost no real time."""
    me = asyncio.current_task()
    return not any(_busy(t) for t in asyncio.all_tasks() if t is not me and not t.done())


_THREAD_CODE = asyncio.to_thread.__code__


def _busy(task: asyncio.Task[Any]) -> bool:
    """Runnable (it waits on no future, or on one already done) or in a worker thread.
    (``_fut_waiter``: the future a task is suspended on; CPython's Task keeps it.)"""
    obj: Any = task.get_coro()
    while obj is not None:
        if getattr(obj, "cr_code", None) is _THREAD_CODE:
            return True
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None)
    waiter = getattr(task, "_fut_waiter", None)
    return waiter is None or bool(waiter.done())


def settings_for(data_dir: Path, keys_dir: Path, keys: FakeIbkrKeys, plan: SoakPlan) -> Settings:
    """No flatten at the close: positions live across nights (their GTC stops rest at the
    fake) and reach their partial exit and trail, as a week of ``skimd run`` would."""
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="off",
            passphrase=SecretStr("soak days"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        logging=LoggingSettings(level="ERROR", format="json"),
        demo=DemoSettings(seed=plan.seed, universe_size=plan.universe_size),
        # the soak's REST transport is in-process (no socket), so there is no websocket to
        # stream from: the daemon polls, as it does whenever the stream is down. The stream
        # and its faults (ws_drop) are tested against the fake over loopback
        # (tests/integration/ibkr/test_ibkr_quote_stream.py, bench/reaction_bench.py).
        broker=BrokerSettings(kind="ibkr", stream_quotes=False),
        ibkr=keys.settings(keys_dir, BASE_URL),
        strategy=StrategySettings(flatten_at_close=False),
    )


# -- the run ---------------------------------------------------------------------------------


async def run_soak(
    data_dir: Path, plan: SoakPlan, *, keys: FakeIbkrKeys | None = None,
    on_day: Callable[[DayFigures], None] | None = None,
) -> SoakReport:
    """Run ``plan`` on ``data_dir`` (created); the report. ``on_day(figures)`` (optional)
    is called as each day ends."""
    calendar = AsxCalendar(ZONE)
    zone = calendar.zone
    clock = SimulatedClock(combine(plan.days[0], plan.start, zone))
    keys = keys or FakeIbkrKeys.generate()
    account = FakeAccount("DU1234567", cash=Decimal(200_000))
    fake = FakeIbkr(keys, clock=clock, accounts=[account])
    demo = DemoMarket(seed=plan.seed, universe_size=plan.universe_size, calendar=calendar)
    market = FakeIbkrMarket(fake, demo)
    schedule = FaultSchedule(plan.faults(zone))
    transport = FaultyTransport(fake, market, schedule, clock)
    report = SoakReport()
    events = TeeEvents(report.events)
    check = ProtectionCheck(cast(Any, FakeBook(fake, market)), report.check)
    with tempfile.TemporaryDirectory() as keys_dir:
        settings = settings_for(data_dir, Path(keys_dir), keys, plan)
        client = httpx.AsyncClient(transport=transport)
        broker = build_ibkr_broker(
            settings, clock=clock, events=events, identifier_cache=InMemoryIdentifierCache(),
            calendar=calendar, rsa_keys=InProcessRsaKeys(), http_client=client,
            pacing_file=data_dir / PACING_FILE,  # as bootstrap gives the daemon's broker
        )
        app = bootstrap.build(
            settings, access=bootstrap.Access.EXCLUSIVE, clock=clock, broker=broker,
            notifier=report.alerts, news=MarketNews(demo, clock), environ={},
            stdout=io.StringIO(), create_database=True,
        )
        try:
            async with app:
                events.target = AlertingBrokerEvents(
                    app.store_alert, clock, broker="ibkr", session=app.broker_session
                )
                trading = app.trading
                trading.watch = CheckedWatch(trading.ctx, trading.desk, check)
                report.check.poll_interval_s = trading.ctx.params.poll_interval_s
                running = asyncio.ensure_future(app.run(install_signals=False))
                start = clock.now()
                for day in plan.days:
                    began = wall.monotonic()
                    before = _Marks.take(report, fake)
                    end = combine(day, plan.day_end, zone)
                    await clock.run_until(end, settle=_settled)
                    figures = _figures(day, start, end, before, report, fake, market, schedule,
                                       transport, app)
                    figures.wall_s = wall.monotonic() - began
                    report.days.append(figures)
                    if on_day is not None:
                        on_day(figures)
                    start = end
                app.supervisor.request_stop("soak finished")
                stopping = asyncio.ensure_future(clock.run_until(
                    clock.now() + timedelta(seconds=60), settle=_settled))
                report.exit_code = await running
                stopping.cancel()
                report.duplicate_client_order_ids = app.day_summary(
                    plan.days[-1]).duplicate_client_order_ids
                report.status = app.status_report()  # what `skimd status` shows afterwards
        finally:
            await client.aclose()
    return report


@dataclass(frozen=True)
class _Marks:
    polls: int
    lapses: int
    alerts: int
    duplicate_posts: int

    @classmethod
    def take(cls, report: SoakReport, fake: FakeIbkr) -> _Marks:
        return cls(report.check.polls, len(report.check.lapses), len(report.alerts.received),
                   fake_duplicate_posts(fake))


def _figures(
    day: date, start: datetime, end: datetime, before: _Marks, report: SoakReport,
    fake: FakeIbkr, market: FakeIbkrMarket, schedule: FaultSchedule,
    transport: FaultyTransport, app: bootstrap.App,
) -> DayFigures:
    zone = app.calendar.zone
    guard = app.kill_switch.state()
    fills = market.fills_on(day)
    seen = transport.between(start, end)
    everything = transport.seen
    first_lst = next((s.at for s in everything if s.path == LST_PATH and s.status == 200), None)
    renewals = [s.at for s in seen if s.path == LST_PATH and s.status == 200 and s.at != first_lst]
    first_init = next((s.at for s in everything if s.path == INIT_PATH), None)
    inits = [s for s in seen if s.path == INIT_PATH and s.at != first_init]
    resets = [at for at, f in schedule.injected
              if start <= at < end and f.kind is FaultKind.NIGHTLY_RESET]
    figures = DayFigures(day=day)
    if guard.locked:
        since = f"{guard.changed_at.astimezone(zone):%Y-%m-%d %H:%M}" if guard.changed_at else "?"
        figures.kill_switch = f"locked since {since}: {guard.reason}"
    figures.entries = sum(1 for f in fills if f.side == "BUY")
    figures.exits = sum(1 for f in fills if f.side == "SELL")
    figures.lst_renewals = len(renewals)
    figures.reinits = len(inits)
    figures.faults = schedule.injected_between(start, end)
    figures.rate_limited = sum(1 for s in seen if s.status == 429)
    coids = Counter(o.coid for o in fake.orders.values() if o.coid)
    figures.duplicate_coids = sum(1 for n in coids.values() if n > 1)
    figures.duplicate_posts = fake_duplicate_posts(fake) - before.duplicate_posts
    lapses = report.check.lapses[before.lapses:]
    figures.unprotected_s = len(lapses) * report.check.poll_interval_s
    figures.alerts = len(report.alerts.received) - before.alerts
    figures.polls = report.check.polls - before.polls
    failed = [s for s in seen if s.status == 0 or s.status >= 400]
    figures.failed_calls = len(failed)
    figures.lost_answers = sum(1 for s in failed if s.status == 0)
    figures.failures = Counter(f"{s.status} {_path_class(s.path)}" for s in failed)
    checks = [*(("renewal", t, False) for t in renewals), *(("reset", t, True) for t in resets)]
    for label, at, told_by_answer in checks:
        if not _reinit_before_use(everything, at, told_by_answer=told_by_answer):
            figures.without_reinit.append(f"{label} at {at.astimezone(zone):%H:%M:%S}")
    return figures


def _path_class(path: str) -> str:
    """A path with its ids (accounts, orders, reply ids) folded: ``/iserver/account/*/orders``."""
    return "/".join("*" if any(c.isdigit() for c in part) else part for part in path.split("/"))


def _reinit_before_use(seen: list[Any], at: datetime, *, told_by_answer: bool) -> bool:
    """After ``at``, the brokerage session was opened again (``ssodh/init``) before any
    other ``/iserver`` call was answered (an unanswered run of the day counts as not).

    ``told_by_answer``: the drop is IBKR's own (the nightly reset), so the client can only
    learn of it from an answer: the calls in flight then may meet IBKR's ``400 "no bridge"``
    (that is how the reset shows), but none may be answered 200 before the re-init — such
    a call would have been carried by no session. A renewal the client makes itself must
    be followed by the re-init before any call."""
    for s in seen:
        if s.at < at:
            continue
        if s.path == INIT_PATH:
            return True
        if s.path.startswith("/iserver") and s.path not in _AUTH_PATHS:
            if told_by_answer and s.status == 400:
                continue
            return False
    return False


def fake_duplicate_posts(fake: FakeIbkr) -> int:
    """Order POSTs so far for a cOID posted before (the fake refuses them as existing)."""
    coids: Counter[str] = Counter()
    for call in fake.calls:
        if call.method == "POST" and call.path.endswith("/orders") and call.body:
            try:
                coids[str(call.body["orders"][0]["cOID"])] += 1
            except (KeyError, IndexError, TypeError):
                continue
    return sum(n - 1 for n in coids.values() if n > 1)


__all__ = ["DayFigures", "SoakPlan", "SoakReport", "run_soak", "week_faults"]
