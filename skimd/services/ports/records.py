"""What the trader's hand-written records need from the journal: plans, mistakes and
screenshots (images owned by a trade report or a trade plan)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from skimd.domain.trader_records import MistakeDraft, PlanDraft

__all__ = [
    "MistakeRow",
    "PlanDetail",
    "PlanSummary",
    "RecordStore",
    "RecordTx",
    "StoredImage",
    "TripTimes",
]


@dataclass(frozen=True, slots=True)
class TripTimes:
    ticker: str
    opened_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class PlanSummary:
    id: int
    ticker: str
    status: str
    direction: str
    entry: Decimal
    stop: Decimal
    target: Decimal | None
    qty: int | None
    conviction: str | None
    strategy_name: str | None
    timeframe: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlanDetail:
    """One plan with everything the trader wrote in it."""

    summary: PlanSummary
    account: str | None
    strategy_description: str | None
    entry_conditions: str | None
    exit_conditions: str | None
    notes: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MistakeRow:
    """A recorded mistake; ``ticker`` is its round trip's (None without one)."""

    id: int
    round_trip_id: int | None
    ticker: str | None
    category: str
    note: str | None
    cost: Decimal | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredImage:
    id: int
    owner_type: str
    owner_id: int
    mime: str
    width: int
    height: int
    file_size: int
    caption: str | None


class RecordTx(Protocol):
    def trip_times(self, round_trip_id: int) -> TripTimes | None: ...

    def plan_exists(self, plan_id: int) -> bool: ...

    def add_plan(self, draft: PlanDraft, at: datetime) -> int:
        """Insert the plan as status ``draft``; returns its id."""
        ...

    def plans(self, status: str | None) -> list[PlanSummary]:
        """Plans (of ``status``, or all), newest first."""
        ...

    def plan(self, plan_id: int) -> PlanDetail | None: ...

    def add_mistake(self, round_trip_id: int, draft: MistakeDraft, at: datetime) -> int: ...

    def mistakes(
        self,
        round_trip_id: int | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[MistakeRow], int]:
        """Mistakes of ``round_trip_id`` (any when None) recorded in ``[start, end)`` (either
        bound optional), the latest recorded first: ``limit`` from ``offset``, and how many
        match in all."""
        ...

    def images_of(self, owner_type: str, owner_id: int) -> list[StoredImage]:
        """The images ``(owner_type, owner_id)`` owns, oldest first (without their bytes)."""
        ...

    def image_bytes(self, image_id: int) -> tuple[StoredImage, bytes] | None: ...

    def report_id_for(self, round_trip_id: int, report_date: date, title: str,
                      at: datetime) -> int:
        """The round trip's trade report id; one with no body is made when it has none
        (the report writer fills it in later)."""
        ...

    def save_image(self, owner_type: str, owner_id: int, data: bytes, caption: str | None,
                   at: datetime) -> StoredImage:
        """Store a screenshot with its thumbnail; bytes that are not an image are refused
        (InvalidInputError)."""
        ...


class RecordStore(Protocol):
    def transaction(self) -> AbstractContextManager[RecordTx]: ...

    def read(self) -> AbstractContextManager[RecordTx]: ...
