"""The trader's review: parsing typed input, merging partial reviews, and the use case
over a fake store (the database adapter has its own integration tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.reviews import Review, ReviewFieldError, parse_review, setup_label
from skimd.errors import InvalidInputError
from skimd.services.journal.reviews import JournalReviews, UnknownRoundTripError
from skimd.services.ports.reviews import ReviewTarget

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


def test_parse_review_normalises_typed_input() -> None:
    review = parse_review(setup=" 4 ", execution=2, followed_plan="No", emotion=" Calm ",
                          lessons="  wait for the range \n", tags=["ORB", " news", "orb"])
    assert review == Review(4, 2, False, "calm", "wait for the range", ("orb", "news"))
    assert parse_review() == Review() and Review().is_empty
    assert parse_review(followed_plan="y").followed_plan is True
    assert parse_review(tags=[]).tags == () and not parse_review(tags=[]).is_empty


@pytest.mark.parametrize(
    ("given", "field_name", "message"),
    [
        ({"setup": "7"}, "setup_quality", "setup_quality: must be 1-5, got 7"),
        ({"setup": "0"}, "setup_quality", "setup_quality: must be 1-5, got 0"),
        ({"execution": "three"}, "execution_quality",
         "execution_quality: must be 1-5, got 'three'"),
        ({"execution": 9}, "execution_quality", "execution_quality: must be 1-5, got 9"),
        ({"followed_plan": "maybe"}, "followed_plan",
         "followed_plan: must be yes or no, got 'maybe'"),
        ({"emotion": "very angry"}, "emotional_state",
         "emotional_state: must be one word, got 'very angry'"),
        ({"emotion": ""}, "emotional_state", "emotional_state: must be one word, got ''"),
        ({"lessons": "   "}, "lessons_learned",
         "lessons_learned: is empty; leave it out to keep the stored one"),
        ({"tags": ["a,b"]}, "tags", "tags: a tag is 1-40 characters without a comma or edge"
         " spaces, got 'a,b'"),
        ({"tags": [""]}, "tags", "tags: a tag is 1-40 characters without a comma or edge"
         " spaces, got ''"),
    ],
)
def test_bad_input_names_the_field(given: dict[str, object], field_name: str,
                                   message: str) -> None:
    with pytest.raises(ReviewFieldError) as caught:
        parse_review(**given)  # type: ignore[arg-type]
    assert caught.value.field == field_name and str(caught.value) == message
    assert isinstance(caught.value, InvalidInputError)


def test_review_refuses_a_bool_rating_and_duplicate_tags() -> None:
    with pytest.raises(ReviewFieldError, match="setup_quality: must be a whole number"):
        Review(setup_quality=True)
    with pytest.raises(ReviewFieldError, match="tags: a tag is given twice"):
        Review(tags=("a", "a"))


def test_merged_keeps_what_the_newer_review_leaves_out() -> None:
    stored = Review(4, 3, True, "calm", "lesson", ("orb",))
    assert stored.merged(Review(execution_quality=5)) == Review(4, 5, True, "calm", "lesson",
                                                                ("orb",))
    assert stored.merged(Review(tags=())).tags == ()
    assert stored.merged(Review(followed_plan=False)).followed_plan is False
    assert setup_label(4) == "setup 4/5" and setup_label(None) is None


# -- the use case over a fake store ----------------------------------------------------------


@dataclass
class FakeReviewStore:
    targets: dict[int, ReviewTarget]
    saved: list[tuple[int, Review, date, str, datetime]] = field(default_factory=list)
    writes: int = 0

    @contextmanager
    def transaction(self) -> Iterator[FakeReviewStore]:
        self.writes += 1
        yield self

    @contextmanager
    def read(self) -> Iterator[FakeReviewStore]:
        yield self

    def review_target(self, round_trip_id: int) -> ReviewTarget | None:
        return self.targets.get(round_trip_id)

    def save_review(self, round_trip_id: int, review: Review, *, report_date: date,
                    title: str, at: datetime) -> None:
        self.saved.append((round_trip_id, review, report_date, title, at))
        old = self.targets[round_trip_id]
        self.targets[round_trip_id] = ReviewTarget(
            old.round_trip_id, old.ticker, old.status, old.opened_at, old.closed_at, review
        )


def _store() -> FakeReviewStore:
    return FakeReviewStore({
        3: ReviewTarget(3, "BHP", "closed", datetime(2026, 11, 23, 23, 30, tzinfo=UTC),
                        datetime(2026, 11, 24, 13, 30, tzinfo=UTC),  # 00:30 on the 25th
                        Review(setup_quality=2, tags=("old",))),
        4: ReviewTarget(4, "CBA", "open", datetime(2026, 11, 23, 23, 30, tzinfo=UTC), None,
                        Review()),
    })


def test_review_merges_and_dates_the_report_on_the_market_day() -> None:
    store = _store()
    reviews = JournalReviews(store, SimulatedClock(NOW), SYDNEY)
    result = reviews.review(3, Review(execution_quality=4, lessons_learned="sized right"))
    assert result.review == Review(2, 4, None, None, "sized right", ("old",))
    ((rt, saved, day, title, at),) = store.saved
    assert (rt, saved, day, title, at) == (3, result.review, date(2026, 11, 25),
                                           "BHP round trip #3", NOW)
    assert reviews.get(3).review == result.review and reviews.get(3).ticker == "BHP"
    reviews.review(4, Review(setup_quality=5))
    assert store.saved[-1][2] == date(2026, 11, 24)  # an open one: the day it opened


def test_unknown_round_trip_and_empty_review_write_nothing() -> None:
    store = _store()
    reviews = JournalReviews(store, SimulatedClock(NOW), SYDNEY)
    with pytest.raises(UnknownRoundTripError, match=r"^round trip 99: no such round trip"):
        reviews.review(99, Review(setup_quality=3))
    with pytest.raises(UnknownRoundTripError, match=r"^round trip 98:"):
        reviews.get(98)
    with pytest.raises(InvalidInputError, match=r"^nothing to review"):
        reviews.review(3, Review())
    assert store.saved == [] and store.writes == 1  # only the unknown id opened one
