"""The trader's hand-written journal records: trade plans, mistakes, screenshots.

:class:`JournalRecords` is the use case behind ``skimd journal plan|mistake|attach`` and
the web view's forms. Input is checked first (:mod:`skimd.domain.trader_records`); each
call is one write transaction, so a refused input or an unknown round trip or plan writes
nothing. A screenshot of a round trip is kept on its trade report (made, without a body,
when the report writer has not run yet); one of a plan on the plan.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from skimd.clock import Clock
from skimd.domain.trader_records import (
    MAX_ATTACHMENT_BYTES,
    AttachTarget,
    MistakeDraft,
    OwnerKind,
    PlanDraft,
)
from skimd.errors import InvalidInputError
from skimd.services.journal.reviews import UnknownRoundTripError
from skimd.services.ports.records import (
    MistakeRow,
    PlanDetail,
    PlanSummary,
    RecordStore,
    StoredImage,
)

__all__ = ["JournalRecords", "UnknownPlanError"]


class UnknownPlanError(InvalidInputError):
    def __init__(self, plan_id: int) -> None:
        super().__init__(f"trade plan {plan_id}: no such plan in the journal")
        self.plan_id = plan_id


class JournalRecords:
    def __init__(self, store: RecordStore, clock: Clock, zone: tzinfo) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone

    def add_plan(self, draft: PlanDraft) -> int:
        """Store a trade plan (status ``draft``); returns its id."""
        with self._store.transaction() as tx:
            return tx.add_plan(draft, self._clock.now())

    def plans(self, status: str | None = None) -> list[PlanSummary]:
        with self._store.read() as tx:
            return tx.plans(status)

    def plan(self, plan_id: int) -> tuple[PlanDetail, list[StoredImage]]:
        """One plan and the screenshots attached to it; :class:`UnknownPlanError` when
        there is no such plan."""
        with self._store.read() as tx:
            found = tx.plan(plan_id)
            if found is None:
                raise UnknownPlanError(plan_id)
            return found, tx.images_of("plan", plan_id)

    def plan_image(self, plan_id: int, image_id: int) -> tuple[StoredImage, bytes] | None:
        """Image ``image_id`` when plan ``plan_id`` owns it (else None: no reading another
        owner's image through a plan's address)."""
        with self._store.read() as tx:
            found = tx.image_bytes(image_id)
        if found is None or (found[0].owner_type, found[0].owner_id) != ("plan", plan_id):
            return None
        return found

    def mistakes(
        self,
        round_trip_id: int | None,
        date_from: date | None,
        date_to: date | None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[MistakeRow], int]:
        """Mistakes of ``round_trip_id`` (any when None) recorded within ``date_from`` ..
        ``date_to`` (market-zone dates, inclusive, either optional), the latest first: one
        page and how many match in all."""
        if date_from and date_to and date_from > date_to:
            raise InvalidInputError(f"from {date_from} is after to {date_to}")
        start = None if date_from is None else self._start_of(date_from)
        end = None if date_to is None else self._start_of(date_to + timedelta(days=1))
        with self._store.read() as tx:
            return tx.mistakes(round_trip_id, start, end, limit, offset)

    def _start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self._zone)

    def add_mistake(self, round_trip_id: int, draft: MistakeDraft) -> int:
        """Record a mistake against a round trip; returns its id."""
        with self._store.transaction() as tx:
            if tx.trip_times(round_trip_id) is None:
                raise UnknownRoundTripError(round_trip_id)
            return tx.add_mistake(round_trip_id, draft, self._clock.now())

    def attach(self, target: AttachTarget, data: bytes, caption: str | None = None) -> StoredImage:
        """Keep a screenshot (PNG, JPEG, WebP or GIF, at most 20 MiB) with a thumbnail."""
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InvalidInputError(
                f"image: {len(data)} bytes is over the {MAX_ATTACHMENT_BYTES} limit"
            )
        text = None if caption is None or not caption.strip() else caption.strip()
        now = self._clock.now()
        with self._store.transaction() as tx:
            if target.kind is OwnerKind.PLAN:
                if not tx.plan_exists(target.id):
                    raise UnknownPlanError(target.id)
                return tx.save_image("plan", target.id, data, text, now)
            trip = tx.trip_times(target.id)
            if trip is None:
                raise UnknownRoundTripError(target.id)
            day = (trip.closed_at or trip.opened_at).astimezone(self._zone).date()
            report_id = tx.report_id_for(
                target.id, day, f"{trip.ticker} round trip #{target.id}", now
            )
            return tx.save_image("report", report_id, data, text, now)
