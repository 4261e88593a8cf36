"""The trader's own review of a round trip (pure; no storage).

A review grades the setup and the execution from 1 to 5, says whether the plan was
followed, names the emotional state in one word, keeps the lessons learned and a set of
tags. Every field is optional: a review is built up over several sittings, and
:meth:`Review.merged` lays a newer partial review over the stored one (a field left as
None keeps its stored value; ``tags`` given replaces the stored tags, ``()`` clears them).

:func:`parse_review` turns what a person typed (CLI flags, a web form) into a
:class:`Review`; bad input raises :class:`ReviewFieldError` naming the field, so each
front end can say which of *its* inputs was wrong (``--setup`` on the command line, the
setup box in the browser).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime

from .trader_records import FieldError

RATING_MIN, RATING_MAX = 1, 5
MAX_EMOTION = 40
MAX_TAG = 40
MAX_TAGS = 20
MAX_LESSONS = 10_000

_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})


class ReviewFieldError(FieldError):
    """One review field is bad; ``field`` is the :class:`Review` attribute, ``problem``
    the reason (``must be 1-5, got 7``)."""


@dataclass(frozen=True, slots=True)
class Review:
    """A (possibly partial) review; None means "not given"."""

    setup_quality: int | None = None
    execution_quality: int | None = None
    followed_plan: bool | None = None
    emotional_state: str | None = None
    lessons_learned: str | None = None
    tags: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("setup_quality", "execution_quality"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ReviewFieldError(name, f"must be a whole number 1-5, got {value!r}")
            if not RATING_MIN <= value <= RATING_MAX:
                raise ReviewFieldError(name, f"must be {RATING_MIN}-{RATING_MAX}, got {value}")
        if self.followed_plan is not None and not isinstance(self.followed_plan, bool):
            raise ReviewFieldError(
                "followed_plan", f"must be yes or no, got {self.followed_plan!r}"
            )
        if self.emotional_state is not None:
            word = self.emotional_state
            if not word or len(word.split()) != 1 or word != word.strip():
                raise ReviewFieldError("emotional_state", f"must be one word, got {word!r}")
            if len(word) > MAX_EMOTION:
                raise ReviewFieldError("emotional_state", f"at most {MAX_EMOTION} characters")
        if self.lessons_learned is not None and len(self.lessons_learned) > MAX_LESSONS:
            raise ReviewFieldError("lessons_learned", f"at most {MAX_LESSONS} characters")
        if self.tags is not None:
            if len(self.tags) > MAX_TAGS:
                raise ReviewFieldError("tags", f"at most {MAX_TAGS} tags, got {len(self.tags)}")
            for tag in self.tags:
                if not tag or tag != tag.strip() or "," in tag or len(tag) > MAX_TAG:
                    raise ReviewFieldError(
                        "tags",
                        f"a tag is 1-{MAX_TAG} characters without a comma or edge spaces,"
                        f" got {tag!r}",
                    )
            if len(set(self.tags)) != len(self.tags):
                raise ReviewFieldError("tags", "a tag is given twice")

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def merged(self, newer: Review) -> Review:
        """This review with every field ``newer`` gives replaced by newer's value."""
        given = {f.name: getattr(newer, f.name) for f in fields(newer)}
        return replace(self, **{k: v for k, v in given.items() if v is not None})


def parse_review(
    *,
    setup: str | int | None = None,
    execution: str | int | None = None,
    followed_plan: str | bool | None = None,
    emotion: str | None = None,
    lessons: str | None = None,
    tags: Iterable[str] | None = None,
) -> Review:
    """A :class:`Review` from typed-in text; None leaves a field out. Ratings are 1-5,
    ``followed_plan`` yes/no (y/n, true/false), the emotion one word (lower-cased), tags
    stripped, lower-cased and de-duplicated in order. Blank lessons clear nothing: give
    text or leave it out."""
    return Review(
        setup_quality=_rating("setup_quality", setup),
        execution_quality=_rating("execution_quality", execution),
        followed_plan=_yes_no(followed_plan),
        emotional_state=None if emotion is None else emotion.strip().lower(),
        lessons_learned=None if lessons is None else _lessons(lessons),
        tags=None if tags is None else tuple(dict.fromkeys(t.strip().lower() for t in tags)),
    )


def _rating(name: str, value: str | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    text = value.strip()
    if not text.isdigit():
        raise ReviewFieldError(name, f"must be {RATING_MIN}-{RATING_MAX}, got {value!r}")
    return int(text)


def _yes_no(value: str | bool | None) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ReviewFieldError("followed_plan", f"must be yes or no, got {value!r}")


def _lessons(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ReviewFieldError("lessons_learned", "is empty; leave it out to keep the stored one")
    return stripped


def setup_label(setup_quality: int | None) -> str | None:
    """The statistics' group for a setup grade (``setup 4/5``); None when not graded."""
    return None if setup_quality is None else f"setup {setup_quality}/{RATING_MAX}"


@dataclass(frozen=True, slots=True)
class TripReview:
    """A round trip (times aware UTC) and its whole stored review."""

    round_trip_id: int
    ticker: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    review: Review
