"""The trade-report store (:class:`skimd.services.ports.reports.ReportStore`) on the
encrypted database, and the read queries behind ``skimd journal`` listings and exports.

Rows are mapped to the service's records here; no SQLModel object leaves this module.
One report per round trip is kept by looking it up inside the (``BEGIN IMMEDIATE``) write
transaction before inserting, so two concurrent writers cannot both insert one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlmodel import col

from skimd.domain.reviews import Review
from skimd.services.ports.reports import (
    MistakeNote,
    ReportDraft,
    ReportFill,
    ReportTrip,
    StoredChart,
    StoredReport,
    TripSetup,
)

from .review_store import report_of, review_of, tags_of
from .session import UnitOfWork
from .tables import (
    Candidate,
    Image,
    MistakeEntry,
    RoundTrip,
    Trade,
    TradePlan,
    TradeReport,
)

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlReportStore:
    """:class:`~skimd.services.ports.reports.ReportStore` over ``unit_of_work``."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    @contextmanager
    def read(self) -> Iterator[SqlReportTx]:
        with self._uow(read_only=True) as uow:
            yield SqlReportTx(uow)

    @contextmanager
    def transaction(self) -> Iterator[SqlReportTx]:
        with self._uow() as uow:
            yield SqlReportTx(uow)


class SqlReportTx:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session

    def closed_trips(self, start: dt.datetime, end: dt.datetime) -> list[ReportTrip]:
        trips: list[ReportTrip] = []
        for row in self._uow.round_trips.closed_between(start, end):
            assert row.id is not None and row.closed_at is not None
            fills = tuple(_fill(t) for t in self._uow.round_trips.trades_of(row.id))
            trips.append(
                ReportTrip(
                    id=row.id,
                    account=row.account,
                    ticker=row.ticker,
                    conid=row.conid,
                    qty=row.qty,
                    entry_avg=row.entry_avg,
                    exit_avg=row.exit_avg,
                    gross_pnl=row.gross_pnl,
                    fees=row.fees,
                    net_pnl=row.net_pnl,
                    opened_at=row.opened_at,
                    closed_at=row.closed_at,
                    fills=fills,
                )
            )
        return trips

    def _trade_ids(self, round_trip_id: int) -> list[int]:
        stmt = select(col(Trade.id)).where(col(Trade.round_trip_id) == round_trip_id)
        return [i for i in self._session.scalars(stmt) if i is not None]

    def setup_for(self, trip: ReportTrip, entry_day: dt.date) -> TripSetup | None:
        """The plan linked to one of the trip's trades, else the entry day's candidate for
        the ticker and that candidate's latest plan."""
        plan: TradePlan | None = None
        trade_ids = self._trade_ids(trip.id)
        if trade_ids:
            stmt = (
                select(TradePlan)
                .where(col(TradePlan.trade_id).in_(trade_ids))
                .order_by(col(TradePlan.id).desc())
            )
            plan = self._session.scalars(stmt).first()
        candidate: Candidate | None = None
        if plan is not None and plan.candidate_id is not None:
            candidate = self._session.get(Candidate, plan.candidate_id)
        if candidate is None:
            stmt_c = (
                select(Candidate)
                .where(col(Candidate.scan_date) == entry_day, col(Candidate.ticker) == trip.ticker)
                .order_by(col(Candidate.id))
            )
            candidate = self._session.scalars(stmt_c).first()
        if plan is None and candidate is not None:
            stmt_p = (
                select(TradePlan)
                .where(col(TradePlan.candidate_id) == candidate.id)
                .order_by(col(TradePlan.id).desc())
            )
            plan = self._session.scalars(stmt_p).first()
        if plan is None and candidate is None:
            return None
        sources = []
        if plan is not None:
            sources.append(f"trade plan #{plan.id} ({plan.status})")
        if candidate is not None:
            sources.append(f"candidate of {candidate.scan_date.isoformat()}")
        return TripSetup(
            source=", ".join(sources),
            orh=candidate.orh if candidate is not None else None,
            orl=candidate.orl if candidate is not None else None,
            entry=plan.entry if plan is not None else None,
            stop=plan.stop if plan is not None else None,
            target=plan.target if plan is not None else None,
            gap_pct=candidate.gap_pct if candidate is not None else None,
            news=candidate.news_headline if candidate is not None else None,
        )

    def mistakes_for(self, trip: ReportTrip) -> list[MistakeNote]:
        trade_ids = self._trade_ids(trip.id)
        condition = col(MistakeEntry.round_trip_id) == trip.id
        if trade_ids:
            condition = or_(condition, col(MistakeEntry.trade_id).in_(trade_ids))
        stmt = select(MistakeEntry).where(condition).order_by(col(MistakeEntry.id))
        return [
            MistakeNote(category=m.category, note=m.note, cost=m.cost)
            for m in self._session.scalars(stmt)
        ]

    def has_report(self, round_trip_id: int) -> bool:
        """A report with a body; one that holds only the trader's review (made by
        ``skimd journal review`` before the report writer ran) does not count."""
        report = report_of(self._uow, round_trip_id)
        return report is not None and bool(report.body)

    def save_report(self, draft: ReportDraft, now: dt.datetime, *, replace: bool) -> bool:
        """Writes title, body and chart; the review columns are the trader's and are never
        touched, so a review-only report is filled in with its review kept."""
        report = report_of(self._uow, draft.round_trip_id)
        if report is not None and report.body and not replace:
            return False
        if report is None:
            report = TradeReport(
                round_trip_id=draft.round_trip_id,
                report_date=draft.report_date,
                account=draft.account,
                title=draft.title,
                body=draft.body,
                created_at=now,
            )
        else:
            report.report_date = draft.report_date
            report.account = draft.account
            report.title = draft.title
            report.body = draft.body
        self._uow.reports.add(report)
        assert report.id is not None
        self._session.execute(  # its charts only: screenshots the trader attached stay
            delete(Image).where(
                col(Image.owner_type) == "report",
                col(Image.owner_id) == report.id,
                col(Image.kind) == "chart",
            )
        )
        self._uow.images.save("report", report.id, draft.chart, now, kind="chart")
        return True

    def reports_on(self, day: dt.date) -> list[StoredReport]:
        stmt = (
            select(TradeReport, col(RoundTrip.ticker))
            .outerjoin(RoundTrip, col(RoundTrip.id) == col(TradeReport.round_trip_id))
            .where(col(TradeReport.report_date) == day, col(TradeReport.body) != "")
            .order_by(col(TradeReport.created_at), col(TradeReport.id))
        )
        out: list[StoredReport] = []
        for report, ticker in self._session.execute(stmt).all():
            assert report.id is not None
            charts = tuple(
                StoredChart(image_id=i.id or 0, mime=i.mime, data=i.data, caption=i.caption)
                for i in sorted(  # the chart first (it keeps its file name), then screenshots
                    self._uow.images.get_for_owner("report", report.id),
                    key=lambda i: (i.kind != "chart", i.id or 0),
                )
            )
            out.append(
                StoredReport(
                    id=report.id,
                    round_trip_id=report.round_trip_id,
                    ticker=ticker,
                    report_date=report.report_date,
                    title=report.title,
                    body=report.body,
                    charts=charts,
                    review=review_of(report),
                )
            )
        return out

    def last_closed_at(self) -> dt.datetime | None:
        stmt = (
            select(RoundTrip)
            .where(col(RoundTrip.status) == "closed", col(RoundTrip.closed_at).is_not(None))
            .order_by(col(RoundTrip.closed_at).desc())
        )
        row = self._session.scalars(stmt).first()
        return None if row is None else row.closed_at


def _fill(trade: Trade) -> ReportFill:
    return ReportFill(
        exec_id=trade.exec_id,
        side=trade.side.upper(),
        qty=trade.qty,
        price=trade.price,
        commission=trade.commission,
        executed_at=trade.executed_at,
    )


# -- listings for ``skimd journal`` ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeRow:
    id: int
    exec_id: str
    account: str | None
    ticker: str
    conid: int | None
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    currency: str
    executed_at: dt.datetime
    round_trip_id: int | None
    client_order_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))


@dataclass(frozen=True, slots=True)
class RoundTripRow:
    id: int
    account: str | None
    ticker: str
    conid: int | None
    status: str
    qty: Decimal
    entry_avg: Decimal
    exit_avg: Decimal | None
    gross_pnl: Decimal | None
    fees: Decimal
    net_pnl: Decimal | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    holding_seconds: int | None
    trades: int
    setup_quality: int | None = None
    execution_quality: int | None = None
    followed_plan: bool | None = None
    emotional_state: str | None = None
    lessons_learned: str | None = None
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, rt: RoundTrip, trades: int, review: Review | None = None) -> RoundTripRow:
        """The row of ``rt`` with its ``trades`` count and, when given, its review."""
        review = Review() if review is None else review
        held = None if rt.closed_at is None else int((rt.closed_at - rt.opened_at).total_seconds())
        return cls(
            id=rt.id or 0,
            account=rt.account,
            ticker=rt.ticker,
            conid=rt.conid,
            status=rt.status,
            qty=rt.qty,
            entry_avg=rt.entry_avg,
            exit_avg=rt.exit_avg,
            gross_pnl=rt.gross_pnl,
            fees=rt.fees,
            net_pnl=rt.net_pnl,
            opened_at=rt.opened_at,
            closed_at=rt.closed_at,
            holding_seconds=held,
            trades=trades,
            setup_quality=review.setup_quality,
            execution_quality=review.execution_quality,
            followed_plan=review.followed_plan,
            emotional_state=review.emotional_state,
            lessons_learned=review.lessons_learned,
            tags=review.tags or (),
        )

    def as_dict(self) -> dict[str, Any]:
        values = _plain(asdict(self))
        values["tags"] = list(self.tags)
        return values


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """JSON/CSV-ready values: Decimals as exact text, datetimes as ISO 8601 UTC."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat()
        out[key] = value
    return out


def list_trades(
    uow: UnitOfWork, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[TradeRow]:
    """Executions with ``start <= executed_at < end`` (either bound optional), in time order."""
    stmt = select(Trade)
    if start is not None:
        stmt = stmt.where(col(Trade.executed_at) >= start)
    if end is not None:
        stmt = stmt.where(col(Trade.executed_at) < end)
    stmt = stmt.order_by(col(Trade.executed_at), col(Trade.id))
    return [
        TradeRow(
            id=t.id or 0,
            exec_id=t.exec_id,
            account=t.account,
            ticker=t.ticker,
            conid=t.conid,
            side=t.side,
            qty=t.qty,
            price=t.price,
            commission=t.commission,
            currency=t.currency,
            executed_at=t.executed_at,
            round_trip_id=t.round_trip_id,
            client_order_id=t.client_order_id,
        )
        for t in uow.session.scalars(stmt)
    ]


def list_round_trips(uow: UnitOfWork, status: str | None = None) -> list[RoundTripRow]:
    """Round trips (``status`` open/closed, or all), oldest opened first."""
    counts = (
        select(col(Trade.round_trip_id), func.count().label("n"))
        .where(col(Trade.round_trip_id).is_not(None))
        .group_by(col(Trade.round_trip_id))
        .subquery()
    )
    stmt = select(RoundTrip, counts.c.n).outerjoin(
        counts, counts.c.round_trip_id == col(RoundTrip.id)
    )
    if status is not None:
        stmt = stmt.where(col(RoundTrip.status) == status)
    stmt = stmt.order_by(col(RoundTrip.opened_at), col(RoundTrip.id))
    reviews: dict[int, Review] = {}  # the first report of each round trip holds its review
    q_reports = (  # the review columns only: report bodies can be long
        select(col(TradeReport.round_trip_id), col(TradeReport.setup_quality),
               col(TradeReport.execution_quality), col(TradeReport.followed_plan),
               col(TradeReport.emotional_state), col(TradeReport.lessons_learned),
               col(TradeReport.tags))
        .where(col(TradeReport.round_trip_id).is_not(None))
        .order_by(col(TradeReport.id).desc())
    )
    for rt_id, setup, execution, followed, emotion, lessons, tags in uow.session.execute(
        q_reports
    ):
        reviews[rt_id] = Review(setup, execution, followed, emotion, lessons,
                                tags_of(tags) or None)
    return [
        RoundTripRow.of(rt, int(n or 0), reviews.get(rt.id or 0))
        for rt, n in uow.session.execute(stmt).all()
    ]


__all__ = [
    "RoundTripRow",
    "SqlReportStore",
    "SqlReportTx",
    "TradeRow",
    "list_round_trips",
    "list_trades",
]
