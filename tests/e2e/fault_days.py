"""Demo days with a broker that says no (and, if asked, loses answers and lists orders late),
and the protection of every position checked after EVERY watch poll.

The daemon's own wiring runs each day: ``bootstrap.build`` (EXCLUSIVE, a fresh or carried-on
data dir) with a :class:`~tests.fakes.refusing_broker.RefusingBroker` over the demo market as
the broker override, on a :class:`~skimd.clock.SimulatedClock`, and ``App.run`` drives the
real supervisor and job plan from ``day_start`` to ``day_end``. The broker (its book: cash,
holdings, working GTC stops) and the database carry over from one day to the next, as
``skimd demo --continue`` does, so positions reach their day-3 partial exit and their trail.

The check (:class:`ProtectionCheck`) runs after each watch poll while the market is open,
with the broker's book as the truth: the shares the broker holds of a symbol must be covered
by its working sells and stops, or else be shares skimd knows of and says its software stop
guards (:func:`~skimd.domain.protection.protection_of`), and the software stop must have
acted when the price is at or below the stop (sold, or its sale refused and waiting for its
back-off). Anything else is a lapse, counted as one poll interval of unprotected time per
position: a broker stop skimd believes in that the broker does not work, shares skimd does
not know of, a software stop that did not sell.

Used by ``tests/e2e/test_fault_day.py`` (a short run) and ``bench/fault_bench.py``.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from pydantic import SecretStr

from skimd import bootstrap
from skimd.clock import SimulatedClock
from skimd.config import (
    DatabaseSettings,
    DemoSettings,
    LoggingSettings,
    PathSettings,
    Settings,
    StrategySettings,
)
from skimd.domain.alerts import Alert, OrderRejected, ProtectionFallback
from skimd.domain.calendar import combine
from skimd.domain.orders import OrderStatus, OrderType, Side
from skimd.domain.protection import Cover, Protection, protection_of
from skimd.domain.trading import IntentPurpose, IntentRecord, IntentStatus, PositionRecord
from skimd.infrastructure.brokers.demo.market import DemoMarket
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.identifier_cache import InMemoryIdentifierCache
from skimd.infrastructure.calendar import AsxCalendar
from skimd.services.trading.context import TradingContext
from skimd.services.trading.intraday import IntradayWatch, PollOutcome
from skimd.services.trading.orders import OrderDesk
from tests.fakes.notifiers import RecordingNotifier
from tests.fakes.refusing_broker import SELL_KINDS, Refusal, RefusingBroker, exit_purpose

SMALL_KDF = {"kdf_time_cost": 1, "kdf_memory_kib": 8192, "kdf_parallelism": 1}
ZONE = "Australia/Sydney"
_WORKING = (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


@dataclass(frozen=True)
class FaultPlan:
    """Which days, which faults (``every``: refuse the n-th SELL of each kind; ``time_out``:
    lose the answer to the n-th; ``lag_s``: order lists lag that long), and the strategy knobs
    that decide which sells happen: ``flatten_last_day`` turns the end-of-day flatten on
    for the last day only (earlier days carry their positions on to their partial exit and
    trail); ``resting_stop`` False leaves every position to the software stop."""

    days: tuple[date, ...]
    every: Mapping[IntentPurpose, int]
    time_out: Mapping[IntentPurpose, int] = field(default_factory=dict)
    lag_s: float = 0.0
    resting_stop: bool = True
    flatten_last_day: bool = True
    partial_exit_day: int = 3
    trail_ma_days: int = 10
    seed: int = 7
    universe_size: int = 300
    day_start: time = time(9, 30)
    day_end: time = time(16, 20)


@dataclass(frozen=True)
class Lapse:
    """A poll after which a position was not protected."""

    at: datetime
    ticker: str
    why: str


@dataclass
class FaultReport:
    """What the days did and what the check saw."""

    polls: int = 0
    position_checks: int = 0
    poll_interval_s: int = 5
    lapses: list[Lapse] = field(default_factory=list)
    covers: Counter[str] = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)
    sells: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)  # refusal runs by kind (from the DB)
    waiting: list[Lapse] = field(default_factory=list)  # past the stop, a refused sale waits
    oversold: list[Lapse] = field(default_factory=list)  # working sells exceed the holding
    timed_out: list[Refusal] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    duplicate_client_order_ids: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def unprotected_seconds(self) -> int:
        return len(self.lapses) * self.poll_interval_s

    @property
    def waiting_seconds(self) -> int:
        """Position-seconds at or below the stop while the software stop's refused sale
        waited for its back-off (guarded, but the broker said no)."""
        return len(self.waiting) * self.poll_interval_s

    def refused_by_kind(self) -> Counter[str]:
        return Counter(r.kind.value for r in self.refused)

    def fallback_alerts_by_kind(self) -> Counter[str]:
        return Counter(a.refused.value for a in self.alerts if isinstance(a, ProtectionFallback))

    def rejected_alerts_by_kind(self) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for a in self.alerts:
            if isinstance(a, OrderRejected) and a.side == Side.SELL.value:
                kind = exit_purpose(a.client_order_id)
                kinds[kind.value if kind is not None else "?"] += 1
        return kinds


class CheckedWatch(IntradayWatch):
    """The intraday watch, with a check after every poll."""

    def __init__(
        self,
        ctx: TradingContext,
        desk: OrderDesk,
        after: Callable[[TradingContext], Awaitable[None]],
    ) -> None:
        super().__init__(ctx, desk)
        self._after = after

    async def poll(self) -> PollOutcome:
        outcome = await super().poll()
        await self._after(self.ctx)
        return outcome


class ProtectionCheck:
    """Holds what skimd says protects each position against the broker's book (see the
    module doc); appends lapses to ``report``.

    The broker's book is the truth: the shares it holds of a symbol are protected when its
    working sells (market exits) and working stops cover them; what they do not cover only
    skimd's software stop can protect, so skimd must know the position, must say the
    software stop guards it, and the software stop must act when the price is at or below
    the stop. A position skimd says a broker stop protects while the broker works none is a
    lapse: the software stop would not act for it."""

    def __init__(self, broker: RefusingBroker, report: FaultReport) -> None:
        self.broker = broker
        self.report = report
        self._cached: (
            tuple[tuple[object, int], list[PositionRecord], dict[int, list[IntentRecord]]] | None
        ) = None

    async def __call__(self, ctx: TradingContext) -> None:
        now = ctx.now()
        session = ctx.session()
        if session is None or not session.is_open(now):
            return
        self.report.polls += 1
        positions, orders = self._read(ctx)
        working = [
            o
            for o in await self.broker.book_orders()
            if o.status in _WORKING and o.side is Side.SELL
        ]
        held = {p.symbol: p.qty for p in await self.broker.positions() if p.qty > 0}
        ours = {p.ticker: p for p in positions}
        for p in positions:
            assert p.id is not None
            self.report.position_checks += 1
            self.report.covers[protection_of(p, orders[p.id]).cover.value] += 1
        for symbol in sorted({o.symbol for o in working}):
            selling = sum(o.remaining for o in working if o.symbol == symbol)
            if selling > held.get(symbol, 0):  # two sells for the same shares
                why = f"sells for {selling} work, the broker holds {held.get(symbol, 0)}"
                self.report.oversold.append(Lapse(now, symbol, why))
        for symbol, qty in sorted(held.items()):
            mine = [o for o in working if o.symbol == symbol]
            exits = sum(o.remaining for o in mine if o.order_type is not OrderType.STP)
            stops = sum(o.remaining for o in mine if o.order_type is OrderType.STP)
            if stops >= qty - exits:
                continue  # the broker itself protects every share
            position = ours.get(symbol)
            if position is None or position.id is None:
                why = f"the broker holds {qty} shares skimd does not know of"
                self.report.lapses.append(Lapse(now, symbol, why))
                continue
            found = protection_of(position, orders[position.id])
            why = self._software_lapse(position, found, stops, qty - exits, now)
            if why is not None:
                self.report.lapses.append(Lapse(now, symbol, why))
            elif self._past_the_stop(position, found, now):
                self.report.waiting.append(Lapse(now, symbol, "refused stop exit waits"))

    def _read(
        self, ctx: TradingContext
    ) -> tuple[list[PositionRecord], dict[int, list[IntentRecord]]]:
        """Open positions and their orders, read again whenever this process wrote (every
        write of the day goes through this process's store)."""
        key = (ctx.store, ctx.store.generation)  # each day's App has a store of its own
        if self._cached is None or self._cached[0] != key:
            with ctx.store.read() as tx:
                positions = tx.open_positions()
                orders = {
                    p.id: tx.intents_for_position(p.id) for p in positions if p.id is not None
                }
            self._cached = (key, positions, orders)
        return self._cached[1], self._cached[2]

    def _software_lapse(
        self, p: PositionRecord, found: Protection, stops: int, uncovered: int, now: datetime
    ) -> str | None:
        """Why the software stop does not protect ``p``'s shares no broker order covers."""
        if found.cover is not Cover.SOFTWARE_STOP:
            return (
                f"skimd says {found.cover.value} ({found.why}); the broker works stops for "
                f"{stops} of {uncovered} shares"
            )
        if self._past_the_stop(p, found, now):
            run = found.run_of(IntentPurpose.STOP_EXIT)
            if run is None or not run.waiting(now):
                return f"at or below the stop {p.stop}, and the software stop sold nothing"
        return None

    def _past_the_stop(self, p: PositionRecord, found: Protection, now: datetime) -> bool:
        """Guarded by the software stop with the last price at or below the stop."""
        if found.cover is not Cover.SOFTWARE_STOP or p.stop is None:
            return False
        last = self.broker.market.quote(p.ticker, now).last
        return last is not None and last <= p.stop


def settings_for(data_dir: Path, plan: FaultPlan, *, flatten: bool) -> Settings:
    return Settings(
        paths=PathSettings(data_dir=data_dir),
        database=DatabaseSettings(
            encryption="off",
            passphrase=SecretStr("fault days"),
            **SMALL_KDF,  # type: ignore[arg-type]
        ),
        logging=LoggingSettings(level="WARNING", format="json"),
        demo=DemoSettings(seed=plan.seed, universe_size=plan.universe_size),
        strategy=StrategySettings(
            resting_stop=plan.resting_stop,
            flatten_at_close=flatten,
            partial_exit_day=plan.partial_exit_day,
            trail_ma_days=plan.trail_ma_days,
        ),
    )


async def run_fault_days(data_dir: Path, plan: FaultPlan) -> FaultReport:
    """Run ``plan``'s days one after the other on ``data_dir`` (created); the report."""
    calendar = AsxCalendar(ZONE)
    zone = calendar.zone
    clock = SimulatedClock(combine(plan.days[0], plan.day_start, zone))
    market = DemoMarket(seed=plan.seed, universe_size=plan.universe_size, calendar=calendar)
    broker = RefusingBroker(
        market, clock, events=RecordingBrokerEvents(), identifier_cache=InMemoryIdentifierCache()
    )
    for kind, every in plan.every.items():
        broker.refuse(kind, every=every)
    for kind, every in plan.time_out.items():
        broker.time_out(kind, every=every)
    broker.lag_s = plan.lag_s
    report = FaultReport()
    notifier = RecordingNotifier("fault days")
    check = ProtectionCheck(broker, report)
    for n, day in enumerate(plan.days):
        clock.advance_to(combine(day, plan.day_start, zone))
        flatten = plan.flatten_last_day and n == len(plan.days) - 1
        app = bootstrap.build(
            settings_for(data_dir, plan, flatten=flatten),
            access=bootstrap.Access.EXCLUSIVE,
            clock=clock,
            broker=broker,
            notifier=notifier,
            environ={},
            stdout=io.StringIO(),
            create_database=True,
        )
        async with app:
            trading = app.trading
            trading.watch = CheckedWatch(trading.ctx, trading.desk, check)
            report.poll_interval_s = trading.ctx.params.poll_interval_s
            end = combine(day, plan.day_end, zone)
            report.exit_codes.append(await app.run(simulate_until=end, install_signals=False))
            if n == len(plan.days) - 1:
                report.duplicate_client_order_ids = app.day_summary(day).duplicate_client_order_ids
                with app.store.read() as tx:
                    first, _ = calendar.day_bounds(plan.days[0])
                    _, last = calendar.day_bounds(day)
                    sent = [i for i in tx.intents_between(first, last) if i.side == "SELL"]
                report.sells.update(i.purpose.value for i in sent)
                report.runs = _refusal_runs(sent)
    report.refused = list(broker.refused)
    report.timed_out = list(broker.timed_out)
    report.alerts = list(notifier.received)
    return report


def _refusal_runs(sells: list[IntentRecord]) -> Counter[str]:
    """How many refusal runs each kind of sell had: refusals whose previous order of the
    same kind for the same position was not refused (oldest first, as written)."""
    runs: Counter[str] = Counter()
    last: dict[tuple[int | None, IntentPurpose], IntentStatus] = {}
    for intent in sells:  # intents_between gives them oldest first
        key = (intent.position_id, intent.purpose)
        refused = intent.status is IntentStatus.REJECTED
        if refused and last.get(key) is not IntentStatus.REJECTED:
            runs[intent.purpose.value] += 1
        last[key] = intent.status
    return runs


def every_kind(n: int) -> dict[IntentPurpose, int]:
    """Refuse the n-th SELL of every kind."""
    return dict.fromkeys(SELL_KINDS, n)


__all__ = [
    "CheckedWatch",
    "FaultPlan",
    "FaultReport",
    "Lapse",
    "ProtectionCheck",
    "every_kind",
    "run_fault_days",
]
