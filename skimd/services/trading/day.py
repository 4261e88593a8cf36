"""The trading day's jobs: what each one does (when they run is the job plan's:
:mod:`skimd.services.job_plan`).

Every job is gated by the ASX calendar (nothing runs on a holiday; early closes move the
session's end). Before anything can enter, open order intents are reconciled with the broker
by client order id (once per process, at the first job that could place an order).

What the jobs learn of the broker session (a connect, the warm-up's health check, a
:class:`~skimd.errors.BrokerSessionError` met by any job) goes to the session monitor
(:mod:`skimd.services.broker_session`), which records it for ``skimd status`` and pauses
the market-data and order jobs while the session is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Protocol

import structlog

from skimd.domain.account import SessionHealth
from skimd.domain.market import Quote
from skimd.domain.trading import CandidateState
from skimd.errors import BrokerAuthError, BrokerSessionError
from skimd.services.broker_session import BrokerSessionMonitor
from skimd.services.jobs import JobHandler
from skimd.services.trading.context import TradingContext
from skimd.services.trading.intraday import IntradayWatch
from skimd.services.trading.orders import OrderDesk
from skimd.services.trading.scans import Scanner

log = structlog.get_logger(__name__)


class Summarised(Protocol):
    def summary(self) -> str: ...


class PositionSyncPort(Protocol):
    async def run(self) -> Summarised: ...


class DayJournal(Protocol):
    """What the trading day drives of the journal (skimd.services.journal.end_of_day's
    JournalDay): the position sync, and the end of day."""

    @property
    def sync(self) -> PositionSyncPort: ...

    async def run(self, day: date) -> Summarised: ...


class SessionObserver(Protocol):
    """Where the jobs report what they learn of the broker session."""

    def observed(self, health: SessionHealth) -> None: ...

    def failed(self, error: BaseException) -> None: ...


class QuoteFollower(Protocol):
    """What follows the watch's interest after each poll: the quote stream's subscriptions
    (:mod:`skimd.services.trading.streaming`)."""

    async def follow(self, conids: list[int]) -> None: ...


class TradingDay:
    """The day's jobs. ``journal`` (the journal's sync and end of day) is optional so the
    trading jobs can be tested alone; the daemon always has one. ``session``: the daemon's
    session monitor (default: one of this day's own, recording to its store).

    Jobs that touch orders or positions take one lock, so a sync never compares positions
    half-way through a poll that is booking a fill."""

    def __init__(
        self,
        ctx: TradingContext,
        journal: DayJournal | None = None,
        *,
        session: SessionObserver | None = None,
    ) -> None:
        self.ctx = ctx
        self.desk = OrderDesk(ctx)
        self.scanner = Scanner(ctx)
        self.watch = IntradayWatch(ctx, self.desk)
        self.journal = journal
        self.session = session or BrokerSessionMonitor(
            ctx.store, ctx.clock, broker=ctx.broker.kind
        )
        self._reconciled = False
        self._lock = asyncio.Lock()
        self._quotes: QuoteFollower | None = None

    def attach_quotes(self, follower: QuoteFollower) -> None:
        """Tell ``follower`` what the watch looks at after every poll (the quote stream)."""
        self._quotes = follower

    def attach_journal(self, factory: Callable[[OrderDesk], DayJournal]) -> DayJournal:
        """Give the day its journal (built around this day's order desk)."""
        self.journal = factory(self.desk)
        return self.journal

    # -- start-up --------------------------------------------------------------------------

    async def ensure_ready(self) -> None:
        """Connect and reconcile open intents once per process, before any order."""
        if self._reconciled:
            return
        self.session.observed(await self.ctx.broker.connect())
        session = self.ctx.session()
        now = self.ctx.now()
        with self.ctx.store.read() as tx:
            locked = tx.guard().locked
        allow = (
            session is not None
            and session.is_open(now)
            and now < self.ctx.entries_close_at(session)
            and not locked  # the kill switch holds across a restart too
        )
        placed = await self.desk.reconcile(allow_entries=allow)
        await self.desk.refresh()
        if self.journal is not None:
            await self.journal.sync.run()  # positions agree with the broker before any entry
        self._reconciled = True
        log.info("orders reconciled", re_placed=placed)

    # -- jobs ------------------------------------------------------------------------------

    async def warmup(self) -> str:
        async with self._lock, self._watching_session():
            return await self._warmup()

    async def _warmup(self) -> str:
        await self.ensure_ready()
        health = await self.ctx.broker.health()
        self.session.observed(health)
        await self.store_history()
        likely: list[str] = []
        if self.ctx.news is not None:
            likely = [a.symbol for a in await self.scanner.scan_news()]
        with self.ctx.store.read() as tx:
            likely += [p.ticker for p in tx.open_positions()]
        if likely:
            contracts = await self.ctx.broker.resolve(sorted(set(likely)))
            await self.ctx.broker.snapshots([c.conid for c in contracts.values()])  # pre-flight
        return f"broker {'ok' if health.ok else health.message}; pre-flighted {len(set(likely))}"

    async def purge(self) -> str:
        with self.ctx.store.transaction() as tx:
            count = tx.purge_candidates(self.ctx.today(), self.ctx.params.candidate_max_age_days)
        return f"purged {count} old candidates"

    async def news(self) -> str:
        now = self.ctx.now().astimezone(self.ctx.calendar.zone)
        session = self.ctx.session()
        if session is not None and now >= session.close_at:
            async with self._lock:  # the day's late candidates, once (scans.py)
                return await self.scanner.send_late_candidates()
        if session is None or now.time() < self.ctx.params.news_from:
            return "outside news hours"
        async with self._lock:
            found = await self.scanner.scan_news()
        return f"{len(found)} price-sensitive announcements"

    async def scan(self) -> str:
        now = self.ctx.now().astimezone(self.ctx.calendar.zone)
        if now.time() > self.ctx.params.scan_until:
            return "after scan_until"
        async with self._lock, self._watching_session():
            await self.ensure_ready()
            return (await self.scanner.scan_gaps()).summary()

    async def poll(self) -> str:
        async with self._lock, self._watching_session():
            await self.ensure_ready()
            outcome = await self.watch.poll()
            if self._quotes is not None:
                await self._quotes.follow(self.watch.interest())
            return outcome.summary()

    async def react(self, quotes: list[Quote]) -> str | None:
        """Entries and stops on pushed quotes (:meth:`IntradayWatch.react`), under the lock
        the order jobs take, so a poll and a tick never act at once. Nothing before the
        first job has connected and reconciled the open orders (None then)."""
        async with self._lock, self._watching_session():
            if not self._reconciled:
                return None
            return (await self.watch.react(quotes)).summary()

    @asynccontextmanager
    async def exclusive(self, *, ready: bool = True) -> AsyncIterator[None]:
        """Hold the lock the order jobs take (an operator's action between two polls, never
        half-way through one); with ``ready``, the broker connected and open orders
        reconciled first, as before any job's order."""
        async with self._lock, self._watching_session():
            if ready:
                await self.ensure_ready()
            yield

    @asynccontextmanager
    async def _watching_session(self) -> AsyncIterator[None]:
        """A session error met inside tells the monitor (and still fails the run)."""
        try:
            yield
        except (BrokerSessionError, BrokerAuthError) as exc:
            self.session.failed(exc)
            raise

    async def sync(self) -> str:
        if self.journal is None:
            return "no journal"
        async with self._lock, self._watching_session():
            await self.ensure_ready()
            return (await self.journal.sync.run()).summary()

    async def end_of_day(self) -> str:
        ctx = self.ctx
        day = ctx.today()
        now = ctx.now()
        async with self._lock, self._watching_session():
            await self.ensure_ready()
            await self.desk.refresh()
            stored = await self.store_history()
            with ctx.store.transaction() as tx:
                expired = tx.expire_candidates(day + timedelta(days=1), now)
                self.watch.record_tape(tx)  # the rest of the day's tape
            done = f"expired {expired} candidates; stored {stored} bars"
            if self.journal is None:  # the daemon always has one (the summary is its)
                return done
            return f"{done}; {(await self.journal.run(day)).summary()}"

    async def store_history(self) -> int:
        """Daily bars of held tickers and today's candidates (the MA trail and the stop
        ratchet read them)."""
        ctx = self.ctx
        with ctx.store.read() as tx:
            held = {p.ticker: p.conid for p in tx.open_positions() if p.conid is not None}
            held.update(
                {
                    c.ticker: c.conid
                    for c in tx.candidates(ctx.today())
                    if c.conid is not None and c.status is not CandidateState.SKIPPED
                }
            )
        bars = []
        for conid in held.values():
            bars.extend(await ctx.broker.daily_bars(conid, ctx.params.trail_ma_days + 5))
        if not bars:
            return 0
        with ctx.store.transaction() as tx:
            return tx.save_bars(bars)

    # -- the handlers of the job plan (skimd.services.job_plan.trading_plan) -------------

    def handlers(self) -> dict[str, JobHandler]:
        """The code behind each job of :func:`~skimd.services.job_plan.trading_plan`."""
        return {
            "warmup": self.warmup,
            "purge": self.purge,
            "news": self.news,
            "scan": self.scan,
            "watch": self.poll,
            "sync": self.sync,
            "end_of_day": self.end_of_day,
        }
