"""One poll of the market while it is open: opening ranges, breakout entries, managing
positions. A single job does all three so each poll costs one snapshot request for every
instrument of interest (pacing) and one read of the database.

Per poll, in order:

1. follow open orders (fills become positions; see :class:`OrderDesk`);
2. snapshot every ranging/tradeable candidate and every open position; the prices (and
   the held tickers' stops) go on the context's tape, the alerts' charts
   (:mod:`~skimd.services.trading.price_tape`);
3. ranges (:mod:`~skimd.services.trading.ranges`): ORH/ORL grow until the range is
   complete, then the candidate is ``tradeable`` (or ``skipped``) and alerted;
4. entries (:mod:`~skimd.services.trading.entries`): a tradeable candidate above its
   trigger gets ONE entry intent, after every guard passes; a held ticker never enters,
   nor one an operator paused (``skimd pause``);
5. manage (:mod:`~skimd.services.trading.positions`), over the positions and orders read
   again after the entries: an entry that filled in this poll is managed (gets its resting
   stop) in this same poll. Stops ratchet up and the resting stop follows, or the software
   stop guards; day-N half exit, moving-average trail, optional end-of-day flatten, and
   the flattens an operator asked for. A paused ticker's stop does not move.

Pushed quotes (:meth:`IntradayWatch.react`): when a quote stream is up, each conflated
batch of quotes runs steps 4 and 5 at once for the tickers that ticked, with the same
guarded, exactly-once entry path and the same position management as a poll: a breakout
is entered on the tick that crosses its trigger, and the software stop sells on the tick
that reaches it; its prices go on the tape too (the charts show the tick that crossed).
Ranges and order follow-up stay with the poll, which keeps
running beside the stream (a safety net, and the whole job while the stream is down). The
caller serialises the two (the trading day's lock), and the entry's deterministic client
order id and candidate state mean a breakout seen by both is entered once.
:meth:`IntradayWatch.interest` is what the stream should follow: the conids a poll watches,
open positions first.

Every snapshot of step 2 (and every pushed quote) is also kept for replaying the day (the tape,
:meth:`~skimd.services.ports.trading.TradingTx.record_quotes`), with one more snapshot of a
position the poll's order refresh found closed, for the tape alone, so the tape reaches the
price that closed it. The tape is buffered and written in one unit of work every
:data:`RECORD_EVERY` of market time and in the end of day's
(:meth:`IntradayWatch.record_tape`), so recording costs no write per poll. A crash loses
at most the last stretch of the tape, never a trading record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from skimd.domain.market import Quote
from skimd.domain.trading import (
    EXPIRABLE_STATES,
    CandidateRecord,
    CandidateState,
    IntentRecord,
    PositionRecord,
)
from skimd.services.ports.trading import TradingTx
from skimd.services.trading.context import TradingContext
from skimd.services.trading.entries import BreakoutEntries
from skimd.services.trading.guards import EntryGuards
from skimd.services.trading.orders import OrderDesk
from skimd.services.trading.positions import PositionManager
from skimd.services.trading.ranges import OpeningRanges

RECORD_EVERY = timedelta(minutes=15)


@dataclass
class PollOutcome:
    ranged: list[str] = field(default_factory=list)
    entered: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"ranges set {len(self.ranged)}, entries {len(self.entered)}, "
            f"exits {len(self.exits)}, blocked {len(self.blocked)}"
        )


class IntradayWatch:
    def __init__(self, ctx: TradingContext, desk: OrderDesk) -> None:
        self.ctx = ctx
        self.desk = desk
        self.ranges = OpeningRanges(ctx)
        self.entries = BreakoutEntries(ctx, desk, EntryGuards(ctx))
        self.positions = PositionManager(ctx, desk)
        self._cached: _WorkingSet | None = None
        self._latest: dict[int, Quote] = {}  # the newest quote of each conid, either way
        self._unrecorded: list[tuple[date, Quote]] = []

    def record_tape(self, tx: TradingTx) -> int:
        """Write the buffered snapshots in ``tx`` (the caller's unit of work)."""
        by_day: dict[date, list[Quote]] = {}
        for day, quote in self._unrecorded:
            by_day.setdefault(day, []).append(quote)
        self._unrecorded = []
        return sum(tx.record_quotes(day, quotes) for day, quotes in by_day.items())

    def _keep(self, day: date, quotes: Mapping[int, Quote], now: datetime) -> None:
        if not self.ctx.records_market:
            return
        self._unrecorded.extend((day, q) for q in quotes.values() if q.has_data)
        if self._unrecorded and now - self._unrecorded[0][1].at >= RECORD_EVERY:
            with self.ctx.store.transaction() as tx:
                self.record_tape(tx)

    async def poll(self) -> PollOutcome:
        ctx = self.ctx
        outcome = PollOutcome()
        session = ctx.session()
        now = ctx.now()
        if session is None or not session.is_open(now):
            return outcome
        candidates, positions, open_intents = self._working_set(session.day)
        held_before = {p.conid for p in positions if p.conid is not None}
        allow = False
        if any(i.broker_order_id is None for i in open_intents):  # something to settle
            with ctx.store.read() as tx:
                allow = now < ctx.entries_close_at(session) and not tx.guard().locked
        if await self.desk.refresh(open_intents, allow_entries=allow):
            candidates, positions, open_intents = self._working_set(session.day)
        watched = {c.conid for c in candidates if c.conid is not None} | {
            p.conid for p in positions if p.conid is not None
        }
        # a position the refresh found closed (its stop filled) is snapshot once more, for
        # the recording only: the replayed tape then reaches past the price that closed it
        closed = held_before - watched
        if not watched and not closed:
            return outcome
        seen = {q.conid: q for q in await ctx.broker.snapshots(sorted(watched | closed))}
        self._remember(seen.values())
        now = ctx.now()
        if not watched:
            self._keep(session.day, seen, now)
            return outcome
        quotes = {conid: q for conid, q in seen.items() if conid in watched}
        self._tape(session.day, candidates, positions, quotes, now)
        outcome.ranged = self.ranges.update(candidates, quotes, now)
        last_prices = {q.symbol: q.last for q in quotes.values() if q.last is not None}
        held = {p.ticker for p in positions}  # held (or paused after a mismatch): no entry
        paused = self._read(session.day).paused  # by an operator: no entry either
        entering = [c for c in candidates if c.ticker not in held and c.ticker not in paused]
        entries = await self.entries.run(entering, quotes, last_prices, session)
        outcome.entered, outcome.blocked = entries.entered, entries.blocked
        # read again (only if anything was written): a fill of this poll is managed now
        positions, orders = self._positions(session.day)
        cached = self._read(session.day)
        outcome.exits = await self.positions.manage(
            positions, orders, quotes, session, paused=cached.paused, flatten=cached.flatten
        )
        self._keep(session.day, seen, now)
        return outcome

    async def react(self, pushed: Sequence[Quote]) -> PollOutcome:
        """Entries and position management for the tickers in ``pushed`` (the latest quote
        of each, from the stream), as a poll would do them with these quotes; nothing
        outside the session. The guards see the newest price of every ticker known."""
        ctx = self.ctx
        outcome = PollOutcome()
        session = ctx.session()
        if session is None or not session.is_open(ctx.now()):
            return outcome
        quotes = {q.conid: q for q in pushed if q.last is not None}
        self._remember(quotes.values())
        candidates, positions, _ = self._working_set(session.day)
        self._tape(session.day, candidates, positions, quotes, ctx.now())
        self._keep(session.day, quotes, ctx.now())
        breaking = [
            c for c in candidates if c.conid in quotes and c.status is CandidateState.TRADEABLE
        ]
        if not breaking and not any(p.conid in quotes for p in positions):
            return outcome
        cached = self._read(session.day)
        last_prices = {q.symbol: q.last for q in self._latest.values() if q.last is not None}
        held = {p.ticker for p in positions}
        entering = [c for c in breaking if c.ticker not in held and c.ticker not in cached.paused]
        if entering:
            entries = await self.entries.run(entering, quotes, last_prices, session)
            outcome.entered, outcome.blocked = entries.entered, entries.blocked
        positions, orders = self._positions(session.day)
        ticked = [p for p in positions if p.conid in quotes]
        if ticked:
            cached = self._read(session.day)
            outcome.exits = await self.positions.manage(
                ticked, orders, quotes, session, paused=cached.paused, flatten=cached.flatten
            )
        return outcome

    def interest(self) -> list[int]:
        """The conids a poll watches today, in the order a stream with too few lines
        should keep them: open positions (and orders), then tradeable candidates, then
        ranging ones."""
        day = self.ctx.today()
        cached = self._read(day)
        rank = {CandidateState.TRADEABLE: 1}
        ordered = [p.conid for p in cached.positions if p.conid is not None]
        ordered += [i.conid for i in cached.open_intents if i.conid is not None]
        ordered += [
            c.conid
            for c in sorted(cached.candidates, key=lambda c: (rank.get(c.status, 2), c.ticker))
            if c.conid is not None
        ]
        return list(dict.fromkeys(ordered))

    def _remember(self, quotes: Iterable[Quote]) -> None:
        for q in quotes:
            known = self._latest.get(q.conid)
            if q.last is not None and (known is None or known.at <= q.at):
                self._latest[q.conid] = q

    def _tape(
        self,
        day: date,
        candidates: list[CandidateRecord],
        positions: list[PositionRecord],
        quotes: Mapping[int, Quote],
        now: datetime,
    ) -> None:
        """Keep what this poll saw for the alerts' charts: each last price, and each held
        ticker's stop (as read before this poll manages it)."""
        tickers = {c.conid: c.ticker for c in candidates if c.conid is not None}
        tickers.update({p.conid: p.ticker for p in positions if p.conid is not None})
        tape = self.ctx.tape
        for conid, quote in quotes.items():
            if quote.last is not None and conid in tickers:
                tape.record(day, tickers[conid], quote.at, quote.last, quote.volume)
        for p in positions:
            if p.stop is not None:
                tape.record_stop(day, p.ticker, now, p.stop)

    def _working_set(
        self, day: date
    ) -> tuple[list[CandidateRecord], list[PositionRecord], list[IntentRecord]]:
        """Today's live candidates, open positions and open intents: read in one go, and
        read again only after this process wrote something (most polls change nothing)."""
        cached = self._read(day)
        return list(cached.candidates), list(cached.positions), list(cached.open_intents)

    def _positions(self, day: date) -> tuple[list[PositionRecord], dict[int, list[IntentRecord]]]:
        """The open positions and all the orders of each (the refused and finished ones
        too: protection and back-off are read from them), from the same read."""
        cached = self._read(day)
        return list(cached.positions), {k: list(v) for k, v in cached.orders.items()}

    def _read(self, day: date) -> _WorkingSet:
        generation = self.ctx.store.generation
        if self._cached is None or self._cached.key != (generation, day):
            with self.ctx.store.read() as tx:
                positions = tx.open_positions()
                self._cached = _WorkingSet(
                    (generation, day),
                    tx.candidates(day, EXPIRABLE_STATES),
                    positions,
                    tx.open_intents(),
                    {p.id: tx.intents_for_position(p.id) for p in positions if p.id is not None},
                    frozenset(p.ticker for p in tx.paused_tickers()),
                    frozenset(r.position_id for r in tx.flatten_requests()),
                )
        return self._cached


@dataclass(frozen=True)
class _WorkingSet:
    """What one read gives the watch; ``key`` is the store generation and day it is of.
    ``paused``: tickers an operator paused; ``flatten``: positions an operator asked to
    flatten (their ids)."""

    key: tuple[int, date]
    candidates: list[CandidateRecord]
    positions: list[PositionRecord]
    open_intents: list[IntentRecord]
    orders: dict[int, list[IntentRecord]]
    paused: frozenset[str]
    flatten: frozenset[int]


__all__ = ["IntradayWatch", "PollOutcome"]
