"""The closed round trips behind ``skimd journal stats``
(:class:`~skimd.services.ports.stats.ClosedTripSource`), read in seven set queries however
many round trips the range holds (no query per round trip, no list of ids sent back).

Where the figures come from: the round trip row (P&L, fees, times, entry average, qty);
the trader's review (setup grade as ``setup N/5``, tags) from its trade report; the
initial stop from the trade plan it executed, i.e. the plan whose ``trade_id`` is one
of its trades (linked at end of day), else the plan of the candidate its first entry order
was placed for (the plan the fill booking marks executed; its stop is the one the position
starts with); the excursion recorded on its first entry trade.

Speed (a year of trades, 5,000 round trips, is read for every whole-year stats page and
equity chart of ``skimd web``): every query selects plain columns, so no ORM entity is
built, tracked or expired; the related rows are chosen by sub-queries on the same range
rather than by ``IN`` lists of ids (each list would be compiled and bound anew). The
plans, order intents and excursions are read for every trade of the range's round trips,
a superset of the first entries that need them: the lookups below pick the right ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from skimd.domain.reviews import setup_label
from skimd.domain.stats import ClosedTrip

from .review_store import tags_of
from .session import UnitOfWork
from .tables import ExcursionMetric, OrderIntent, RoundTrip, Trade, TradePlan, TradeReport

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlClosedTrips:
    """:class:`~skimd.services.ports.stats.ClosedTripSource` over ``unit_of_work``."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def closed_trips(
        self, start: dt.datetime | None, end: dt.datetime | None
    ) -> list[ClosedTrip]:
        in_range: list[Any] = [
            col(RoundTrip.status) == "closed", col(RoundTrip.closed_at).is_not(None)
        ]
        if start is not None:
            in_range.append(col(RoundTrip.closed_at) >= start)
        if end is not None:
            in_range.append(col(RoundTrip.closed_at) < end)
        trip_ids = select(col(RoundTrip.id)).where(*in_range)
        trade_ids = select(col(Trade.id)).where(col(Trade.round_trip_id).in_(trip_ids))
        coids = select(col(Trade.client_order_id)).where(
            col(Trade.round_trip_id).in_(trip_ids), col(Trade.client_order_id).is_not(None)
        )
        with self._uow(read_only=True) as uow:
            run = uow.session.execute
            trips = run(
                select(
                    col(RoundTrip.id), col(RoundTrip.ticker), col(RoundTrip.opened_at),
                    col(RoundTrip.closed_at), col(RoundTrip.qty), col(RoundTrip.entry_avg),
                    col(RoundTrip.gross_pnl), col(RoundTrip.fees), col(RoundTrip.net_pnl),
                )
                .where(*in_range)
                .order_by(col(RoundTrip.closed_at), col(RoundTrip.id))
            ).all()

            trades: dict[int, list[tuple[int, str, str | None]]] = {}  # trip → (id, side, coid)
            for rt_id, trade_id, side, coid in run(
                select(col(Trade.round_trip_id), col(Trade.id), col(Trade.side),
                       col(Trade.client_order_id))
                .where(col(Trade.round_trip_id).in_(trip_ids))
                .order_by(col(Trade.executed_at), col(Trade.id))
            ):
                trades.setdefault(rt_id, []).append((trade_id, side.upper(), coid))
            first_entry = {
                rt: next((t for t in ts if t[1] == "BUY"), None) for rt, ts in trades.items()
            }

            stop_by_trade: dict[int, Decimal] = {}
            for trade_id, stop in run(
                select(col(TradePlan.trade_id), col(TradePlan.stop))
                .where(col(TradePlan.trade_id).in_(trade_ids))
                .order_by(col(TradePlan.id))
            ):
                stop_by_trade[trade_id] = stop  # the latest plan wins
            candidate_by_coid: dict[str, int] = {
                coid: cand
                for coid, cand in run(
                    select(col(OrderIntent.client_order_id), col(OrderIntent.candidate_id))
                    .where(
                        col(OrderIntent.client_order_id).in_(coids),
                        col(OrderIntent.candidate_id).is_not(None),
                    )
                )
            }
            stop_by_candidate: dict[int, Decimal] = {}
            for cand, stop in run(
                select(col(TradePlan.candidate_id), col(TradePlan.stop))
                .where(
                    col(TradePlan.candidate_id).in_(
                        select(col(OrderIntent.candidate_id)).where(
                            col(OrderIntent.client_order_id).in_(coids)
                        )
                    )
                )
                .order_by(col(TradePlan.id))
            ):
                stop_by_candidate[cand] = stop  # the latest plan wins
            excursion: dict[int, tuple[Decimal, Decimal]] = {
                tid: (mfe, mae)
                for tid, mfe, mae in run(
                    select(col(ExcursionMetric.trade_id), col(ExcursionMetric.mfe),
                           col(ExcursionMetric.mae))
                    .where(col(ExcursionMetric.trade_id).in_(trade_ids))
                )
            }
            review: dict[int, tuple[int | None, str | None]] = {}  # trip → (setup, tags)
            for rt_id, setup, tags in run(
                select(col(TradeReport.round_trip_id), col(TradeReport.setup_quality),
                       col(TradeReport.tags))
                .where(col(TradeReport.round_trip_id).in_(trip_ids))
                .order_by(col(TradeReport.id).desc())
            ):
                review[rt_id] = (setup, tags)  # the first report holds the review

        out: list[ClosedTrip] = []
        for trip_id, ticker, opened_at, closed_at, qty, entry_avg, gross, fees, net in trips:
            own = trades.get(trip_id, [])
            stop = next(
                (stop_by_trade[t[0]] for t in reversed(own) if t[0] in stop_by_trade), None
            )
            entry = first_entry.get(trip_id)
            if stop is None and entry is not None and entry[2] in candidate_by_coid:
                stop = stop_by_candidate.get(candidate_by_coid[entry[2]])
            exc = None if entry is None else excursion.get(entry[0])
            setup, tags = review.get(trip_id, (None, None))
            out.append(
                ClosedTrip(
                    id=trip_id,
                    ticker=ticker,
                    opened_at=opened_at,
                    closed_at=closed_at,
                    qty=qty,
                    entry_avg=entry_avg,
                    gross_pnl=_or_zero(gross),
                    fees=fees,
                    net_pnl=_or_zero(net),
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
