"""The closed round trips behind ``skimd journal stats``
(:class:`~skimd.services.ports.stats.ClosedTripSource`), read in a handful of set queries
however many round trips the range holds (no query per round trip).

Where the figures come from: the round trip row (P&L, fees, times, entry average, qty);
the trader's review (setup grade as ``setup N/5``, tags) from its trade report; the
initial stop from the trade plan it executed, i.e. the plan whose ``trade_id`` is one
of its trades (linked at end of day), else the plan of the candidate its first entry order
was placed for (the plan the fill booking marks executed; its stop is the one the position
starts with); the excursion recorded on its first entry trade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import select
from sqlmodel import col

from skimd.domain.reviews import setup_label
from skimd.domain.stats import ClosedTrip

from .review_store import tags_of
from .session import UnitOfWork
from .tables import ExcursionMetric, OrderIntent, RoundTrip, Trade, TradePlan, TradeReport

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]
_CHUNK = 500  # ids per IN (...): far below SQLite's bound-variable limit
T = TypeVar("T")


class SqlClosedTrips:
    """:class:`~skimd.services.ports.stats.ClosedTripSource` over ``unit_of_work``."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def closed_trips(
        self, start: dt.datetime | None, end: dt.datetime | None
    ) -> list[ClosedTrip]:
        with self._uow(read_only=True) as uow:
            session = uow.session
            stmt = select(RoundTrip).where(
                col(RoundTrip.status) == "closed", col(RoundTrip.closed_at).is_not(None)
            )
            if start is not None:
                stmt = stmt.where(col(RoundTrip.closed_at) >= start)
            if end is not None:
                stmt = stmt.where(col(RoundTrip.closed_at) < end)
            stmt = stmt.order_by(col(RoundTrip.closed_at), col(RoundTrip.id))
            trips = list(session.scalars(stmt))
            trip_ids = [t.id for t in trips if t.id is not None]

            trades: dict[int, list[tuple[int, str, str | None]]] = {}  # trip → (id, side, coid)
            for rows in _chunks(trip_ids):
                q = (
                    select(col(Trade.round_trip_id), col(Trade.id), col(Trade.side),
                           col(Trade.client_order_id))
                    .where(col(Trade.round_trip_id).in_(rows))
                    .order_by(col(Trade.executed_at), col(Trade.id))
                )
                for rt_id, trade_id, side, coid in session.execute(q):
                    trades.setdefault(rt_id, []).append((trade_id, side.upper(), coid))
            first_entry = {
                rt: next((t for t in ts if t[1] == "BUY"), None) for rt, ts in trades.items()
            }
            all_trade_ids = [t[0] for ts in trades.values() for t in ts]

            stop_by_trade: dict[int, Decimal] = {}
            for rows in _chunks(all_trade_ids):
                q_plan = (
                    select(col(TradePlan.trade_id), col(TradePlan.stop))
                    .where(col(TradePlan.trade_id).in_(rows))
                    .order_by(col(TradePlan.id))
                )
                for trade_id, stop in session.execute(q_plan):
                    stop_by_trade[trade_id] = stop  # the latest plan wins
            coids = [e[2] for e in first_entry.values() if e is not None and e[2]]
            candidate_by_coid: dict[str, int] = {}
            for keys in _chunks(coids):
                q_int = select(
                    col(OrderIntent.client_order_id), col(OrderIntent.candidate_id)
                ).where(
                    col(OrderIntent.client_order_id).in_(keys),
                    col(OrderIntent.candidate_id).is_not(None),
                )
                candidate_by_coid.update({c: cand for c, cand in session.execute(q_int)})
            stop_by_candidate: dict[int, Decimal] = {}
            for rows in _chunks(sorted(set(candidate_by_coid.values()))):
                q_cand = (
                    select(col(TradePlan.candidate_id), col(TradePlan.stop))
                    .where(col(TradePlan.candidate_id).in_(rows))
                    .order_by(col(TradePlan.id))
                )
                for cand, stop in session.execute(q_cand):
                    stop_by_candidate[cand] = stop
            entry_ids = [e[0] for e in first_entry.values() if e is not None]
            excursion: dict[int, tuple[Decimal, Decimal]] = {}
            for rows in _chunks(entry_ids):
                q_exc = select(
                    col(ExcursionMetric.trade_id),
                    col(ExcursionMetric.mfe),
                    col(ExcursionMetric.mae),
                ).where(col(ExcursionMetric.trade_id).in_(rows))
                excursion.update({tid: (mfe, mae) for tid, mfe, mae in session.execute(q_exc)})

            review: dict[int, tuple[int | None, str | None]] = {}  # trip → (setup, tags)
            for rows in _chunks(trip_ids):
                q_rev = (
                    select(col(TradeReport.round_trip_id), col(TradeReport.setup_quality),
                           col(TradeReport.tags))
                    .where(col(TradeReport.round_trip_id).in_(rows))
                    .order_by(col(TradeReport.id).desc())
                )
                for rt_id, setup, tags in session.execute(q_rev):
                    review[rt_id] = (setup, tags)  # the first report holds the review

            out: list[ClosedTrip] = []
            for row in trips:
                assert row.id is not None and row.closed_at is not None
                own = trades.get(row.id, [])
                stop = next(
                    (stop_by_trade[t[0]] for t in reversed(own) if t[0] in stop_by_trade), None
                )
                entry = first_entry.get(row.id)
                if stop is None and entry is not None and entry[2] in candidate_by_coid:
                    stop = stop_by_candidate.get(candidate_by_coid[entry[2]])
                exc = None if entry is None else excursion.get(entry[0])
                setup, tags = review.get(row.id, (None, None))
                out.append(
                    ClosedTrip(
                        id=row.id,
                        ticker=row.ticker,
                        opened_at=row.opened_at,
                        closed_at=row.closed_at,
                        qty=row.qty,
                        entry_avg=row.entry_avg,
                        gross_pnl=_or_zero(row.gross_pnl),
                        fees=row.fees,
                        net_pnl=_or_zero(row.net_pnl),
                        initial_stop=stop,
                        mfe=None if exc is None else exc[0],
                        mae=None if exc is None else exc[1],
                        setup=setup_label(setup),
                        tags=tags_of(tags),
                    )
                )
            return out


def _or_zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _chunks(values: Sequence[T] | Iterable[T]) -> Iterator[list[T]]:
    it: Iterator[Any] = iter(values)
    while chunk := list(islice(it, _CHUNK)):
        yield chunk
