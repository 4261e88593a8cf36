"""The record store (:class:`skimd.services.ports.records.RecordStore`): the trader's
plans, mistakes and screenshots on the journal tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import func, select
from sqlmodel import col

from skimd.domain.trader_records import MistakeDraft, PlanDraft
from skimd.services.ports.records import (
    MistakeRow,
    PlanDetail,
    PlanSummary,
    StoredImage,
    TripTimes,
)

from .review_store import report_of
from .session import UnitOfWork
from .tables import Image, MistakeEntry, RoundTrip, TradePlan, TradeReport

UnitOfWorkFactory = Callable[..., AbstractContextManager[UnitOfWork]]


class SqlRecordStore:
    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    @contextmanager
    def read(self) -> Iterator[SqlRecordTx]:
        with self._uow(read_only=True) as uow:
            yield SqlRecordTx(uow)

    @contextmanager
    def transaction(self) -> Iterator[SqlRecordTx]:
        with self._uow() as uow:
            yield SqlRecordTx(uow)


class SqlRecordTx:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session

    def trip_times(self, round_trip_id: int) -> TripTimes | None:
        trip = self._session.get(RoundTrip, round_trip_id)
        return None if trip is None else TripTimes(trip.ticker, trip.opened_at, trip.closed_at)

    def plan_exists(self, plan_id: int) -> bool:
        return self._session.get(TradePlan, plan_id) is not None

    def add_plan(self, draft: PlanDraft, at: dt.datetime) -> int:
        plan = self._uow.plans.add(
            TradePlan(
                ticker=draft.ticker,
                entry=draft.entry,
                stop=draft.stop,
                target=draft.target,
                qty=draft.qty,
                status="draft",
                notes=draft.notes,
                created_at=at,
                updated_at=at,
                direction=str(draft.direction),
                conviction=draft.conviction,
                strategy_name=draft.strategy_name,
                strategy_description=draft.strategy_description,
                entry_conditions=draft.entry_conditions,
                exit_conditions=draft.exit_conditions,
                timeframe=draft.timeframe,
                account=draft.account,
            )
        )
        assert plan.id is not None
        return plan.id

    def plans(self, status: str | None) -> list[PlanSummary]:
        stmt = select(TradePlan).order_by(col(TradePlan.id).desc())
        if status is not None:
            stmt = stmt.where(col(TradePlan.status) == status)
        return [_summary(p) for p in self._session.scalars(stmt)]

    def plan(self, plan_id: int) -> PlanDetail | None:
        p = self._session.get(TradePlan, plan_id)
        if p is None:
            return None
        return PlanDetail(
            summary=_summary(p), account=p.account, strategy_description=p.strategy_description,
            entry_conditions=p.entry_conditions, exit_conditions=p.exit_conditions,
            notes=p.notes, updated_at=p.updated_at,
        )

    def mistakes(
        self,
        round_trip_id: int | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[MistakeRow], int]:
        where = []
        if round_trip_id is not None:
            where.append(col(MistakeEntry.round_trip_id) == round_trip_id)
        if start is not None:
            where.append(col(MistakeEntry.created_at) >= start)
        if end is not None:
            where.append(col(MistakeEntry.created_at) < end)
        counted = select(func.count(col(MistakeEntry.id))).where(*where)
        total = int(self._session.scalar(counted) or 0)
        stmt = (
            select(MistakeEntry, col(RoundTrip.ticker))
            .outerjoin(RoundTrip, col(RoundTrip.id) == col(MistakeEntry.round_trip_id))
            .where(*where)
            .order_by(col(MistakeEntry.created_at).desc(), col(MistakeEntry.id).desc())
            .limit(limit)
            .offset(offset)
        )
        rows = [
            MistakeRow(
                id=m.id or 0, round_trip_id=m.round_trip_id, ticker=ticker,
                category=m.category, note=m.note, cost=m.cost, created_at=m.created_at,
            )
            for m, ticker in self._session.execute(stmt)
        ]
        return rows, total

    def images_of(self, owner_type: str, owner_id: int) -> list[StoredImage]:
        return [_stored(i) for i in self._uow.images.get_for_owner(owner_type, owner_id)]

    def image_bytes(self, image_id: int) -> tuple[StoredImage, bytes] | None:
        image = self._session.get(Image, image_id)
        return None if image is None else (_stored(image), image.data)

    def add_mistake(self, round_trip_id: int, draft: MistakeDraft, at: dt.datetime) -> int:
        row = self._uow.mistakes.add(
            MistakeEntry(round_trip_id=round_trip_id, category=draft.category, note=draft.note,
                         cost=draft.cost, created_at=at)
        )
        assert row.id is not None
        return row.id

    def report_id_for(self, round_trip_id: int, report_date: dt.date, title: str,
                      at: dt.datetime) -> int:
        report = report_of(self._uow, round_trip_id)
        if report is None:
            trip = self._session.get(RoundTrip, round_trip_id)
            report = self._uow.reports.add(
                TradeReport(round_trip_id=round_trip_id, report_date=report_date,
                            account=None if trip is None else trip.account, title=title,
                            body="", created_at=at)
            )
        assert report.id is not None
        return report.id

    def save_image(self, owner_type: str, owner_id: int, data: bytes, caption: str | None,
                   at: dt.datetime) -> StoredImage:
        image = self._uow.images.save(owner_type, owner_id, data, at, kind="screenshot",
                                      caption=caption)
        return _stored(image)


def _summary(p: TradePlan) -> PlanSummary:
    return PlanSummary(
        id=p.id or 0, ticker=p.ticker, status=p.status, direction=p.direction,
        entry=p.entry, stop=p.stop, target=p.target, qty=p.qty,
        conviction=p.conviction, strategy_name=p.strategy_name,
        timeframe=p.timeframe, created_at=p.created_at,
    )


def _stored(image: Image) -> StoredImage:
    assert image.id is not None
    return StoredImage(
        id=image.id, owner_type=image.owner_type, owner_id=image.owner_id, mime=image.mime,
        width=image.width, height=image.height, file_size=image.file_size,
        caption=image.caption,
    )
