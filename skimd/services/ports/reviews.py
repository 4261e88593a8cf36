"""What the review use case needs from the journal: a round trip with its stored review,
and a place to keep the review (on the round trip's trade report, as the journal
specification puts it)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from skimd.domain.reviews import Review

__all__ = ["ReviewStore", "ReviewTarget", "ReviewTx"]


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    """A round trip and the review stored for it (``Review()`` when none is)."""

    round_trip_id: int
    ticker: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    review: Review


class ReviewTx(Protocol):
    def review_target(self, round_trip_id: int) -> ReviewTarget | None:
        """The round trip ``round_trip_id`` with its review; None when there is no such
        round trip."""
        ...

    def save_review(
        self, round_trip_id: int, review: Review, *, report_date: date, title: str,
        at: datetime,
    ) -> None:
        """Store ``review`` (every field, None included) on the round trip's trade report.
        A round trip without a report gets one dated ``report_date`` with ``title`` and no
        body: the report writer fills it in later and keeps the review."""
        ...


class ReviewStore(Protocol):
    def transaction(self) -> AbstractContextManager[ReviewTx]: ...

    def read(self) -> AbstractContextManager[ReviewTx]: ...
