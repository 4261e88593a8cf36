"""The trader's review of a round trip: grade it, keep the lessons, tag it.

:class:`JournalReviews` is the one use case behind ``skimd journal review`` and the web
view's review form: both parse their input with :func:`skimd.domain.reviews.parse_review`
and call :meth:`JournalReviews.review`, which lays the new fields over the stored review in
one write transaction (nothing is half-written: the round trip is looked up, merged and
saved in the same unit of work). Reading (:meth:`JournalReviews.get`) never takes the
write lock, so it is safe while the daemon runs.
"""

from __future__ import annotations

from datetime import tzinfo

from skimd.clock import Clock
from skimd.domain.reviews import Review, TripReview
from skimd.errors import InvalidInputError
from skimd.services.ports.reviews import ReviewStore, ReviewTarget

__all__ = ["JournalReviews", "Review", "TripReview", "UnknownRoundTripError"]


class UnknownRoundTripError(InvalidInputError):
    """No round trip has the id asked for; nothing was written."""

    def __init__(self, round_trip_id: int) -> None:
        super().__init__(f"round trip {round_trip_id}: no such round trip in the journal")
        self.round_trip_id = round_trip_id


class JournalReviews:
    """Reviews of round trips over a :class:`~skimd.services.ports.reviews.ReviewStore`.

    ``zone`` is the market's: a round trip without a trade report yet gets one dated on
    the market day it closed (or opened, while open), where the report writer looks.
    """

    def __init__(self, store: ReviewStore, clock: Clock, zone: tzinfo) -> None:
        self._store = store
        self._clock = clock
        self._zone = zone

    def review(self, round_trip_id: int, review: Review) -> TripReview:
        """Store the fields ``review`` gives (others keep their stored values) and return
        the whole review. An empty review is refused (nothing to write)."""
        if review.is_empty:
            raise InvalidInputError(
                "nothing to review: give at least one of setup, execution, followed plan,"
                " emotion, lessons, tags"
            )
        with self._store.transaction() as tx:
            target = tx.review_target(round_trip_id)
            if target is None:
                raise UnknownRoundTripError(round_trip_id)
            merged = target.review.merged(review)
            day = (target.closed_at or target.opened_at).astimezone(self._zone).date()
            tx.save_review(
                round_trip_id,
                merged,
                report_date=day,
                title=f"{target.ticker} round trip #{round_trip_id}",
                at=self._clock.now(),
            )
        return _trip_review(target, merged)

    def get(self, round_trip_id: int) -> TripReview:
        """The round trip and its stored review (``Review()`` when not reviewed yet)."""
        with self._store.read() as tx:
            target = tx.review_target(round_trip_id)
        if target is None:
            raise UnknownRoundTripError(round_trip_id)
        return _trip_review(target, target.review)


def _trip_review(target: ReviewTarget, review: Review) -> TripReview:
    return TripReview(
        round_trip_id=target.round_trip_id,
        ticker=target.ticker,
        status=target.status,
        opened_at=target.opened_at,
        closed_at=target.closed_at,
        review=review,
    )
