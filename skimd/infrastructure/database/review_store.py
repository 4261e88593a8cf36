"""The review store (:class:`skimd.services.ports.reviews.ReviewStore`): the trader's
review kept on the round trip's trade report (``trade_reports``, revision 0005).

Tags are a JSON list in one TEXT column. The report is looked up inside the write
transaction (``BEGIN IMMEDIATE``) before one is inserted, so two writers cannot both add a
report for the same round trip.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import select
from sqlmodel import col

from skimd.domain.reviews import Review
from skimd.services.ports.reviews import ReviewTarget

from .session import UnitOfWork
from .tables import RoundTrip, TradeReport

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlReviewStore:
    """:class:`~skimd.services.ports.reviews.ReviewStore` over ``unit_of_work``."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    @contextmanager
    def read(self) -> Iterator[SqlReviewTx]:
        with self._uow(read_only=True) as uow:
            yield SqlReviewTx(uow)

    @contextmanager
    def transaction(self) -> Iterator[SqlReviewTx]:
        with self._uow() as uow:
            yield SqlReviewTx(uow)


class SqlReviewTx:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session

    def review_target(self, round_trip_id: int) -> ReviewTarget | None:
        trip = self._session.get(RoundTrip, round_trip_id)
        if trip is None:
            return None
        report = report_of(self._uow, round_trip_id)
        return ReviewTarget(
            round_trip_id=round_trip_id,
            ticker=trip.ticker,
            status=trip.status,
            opened_at=trip.opened_at,
            closed_at=trip.closed_at,
            review=Review() if report is None else review_of(report),
        )

    def save_review(
        self, round_trip_id: int, review: Review, *, report_date: dt.date, title: str,
        at: dt.datetime,
    ) -> None:
        report = report_of(self._uow, round_trip_id)
        if report is None:
            trip = self._session.get(RoundTrip, round_trip_id)
            report = TradeReport(
                round_trip_id=round_trip_id,
                report_date=report_date,
                account=None if trip is None else trip.account,
                title=title,
                body="",
                created_at=at,
            )
        report.setup_quality = review.setup_quality
        report.execution_quality = review.execution_quality
        report.followed_plan = review.followed_plan
        report.emotional_state = review.emotional_state
        report.lessons_learned = review.lessons_learned
        report.tags = tags_text(review.tags or ())
        self._uow.reports.add(report)


def report_of(uow: UnitOfWork, round_trip_id: int) -> TradeReport | None:
    """The round trip's trade report (the first, should there be several)."""
    stmt = (
        select(TradeReport)
        .where(col(TradeReport.round_trip_id) == round_trip_id)
        .order_by(col(TradeReport.id))
    )
    return uow.session.scalars(stmt).first()


def review_of(report: TradeReport) -> Review:
    """The review stored on ``report`` (empty fields as None; no tags as None)."""
    tags = tags_of(report.tags)
    return Review(
        setup_quality=report.setup_quality,
        execution_quality=report.execution_quality,
        followed_plan=report.followed_plan,
        emotional_state=report.emotional_state,
        lessons_learned=report.lessons_learned,
        tags=tags or None,
    )


def tags_of(text: str | None) -> tuple[str, ...]:
    """The tags of a stored JSON list (``()`` for none or unreadable text)."""
    if not text:
        return ()
    try:
        value = json.loads(text)
    except ValueError:
        return ()
    return tuple(str(t) for t in value) if isinstance(value, list) else ()


def tags_text(tags: tuple[str, ...]) -> str:
    return json.dumps(list(tags), ensure_ascii=False)


__all__ = ["SqlReviewStore", "SqlReviewTx", "report_of", "review_of", "tags_of", "tags_text"]
