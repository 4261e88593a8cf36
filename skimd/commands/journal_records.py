"""``skimd journal`` actions that write the trader's own records.

- ``review ROUND_TRIP [--setup 1-5] [--execution 1-5] [--followed-plan yes|no]
  [--emotion WORD] [--lessons TEXT] [--tag T]... [--clear-tags] [--json]``: grade a round
  trip; only the fields given change (``--tag`` given replaces the stored tags). Without
  a field it shows the stored review. Kept on the round trip's trade report.

Bad input fails with one line naming the flag (``--setup: must be 1-5, got 7``) and
nothing is written; the use cases are the same the web view calls
(:class:`skimd.services.journal.reviews.JournalReviews`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from skimd.commands.journal_app import journal_app
from skimd.commands.text_tables import local_time
from skimd.domain.reviews import RATING_MAX, Review, ReviewFieldError, parse_review
from skimd.errors import InvalidInputError
from skimd.services.journal.reviews import TripReview

REVIEW_FLAGS = {
    "setup_quality": "--setup",
    "execution_quality": "--execution",
    "followed_plan": "--followed-plan",
    "emotional_state": "--emotion",
    "lessons_learned": "--lessons",
    "tags": "--tag",
}


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the record-writing actions to ``skimd journal``'s sub-parsers."""
    p = sub.add_parser(
        "review",
        parents=parents,
        help="grade a round trip: setup, execution, plan, emotion, lessons, tags",
        description="Review a round trip; only the fields given change. Without one, "
        "show the stored review.",
    )
    p.add_argument("round_trip", type=_record_id, metavar="ROUND_TRIP",
                   help="round trip id (`skimd journal round-trips`)")
    p.add_argument("--setup", metavar="1-5", help="quality of the setup")
    p.add_argument("--execution", metavar="1-5", help="quality of the execution")
    p.add_argument("--followed-plan", metavar="yes|no", help="was the plan followed")
    p.add_argument("--emotion", metavar="WORD", help="emotional state, one word")
    p.add_argument("--lessons", metavar="TEXT", help="lessons learned")
    tags = p.add_mutually_exclusive_group()
    tags.add_argument("--tag", dest="tags", action="append", metavar="T",
                      help="a tag (repeat for more); replaces the stored tags")
    tags.add_argument("--clear-tags", action="store_true", help="remove every tag")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_review)


def _record_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id like 12")
    return int(text)


def _flag_error(exc: ReviewFieldError) -> InvalidInputError:
    return InvalidInputError(f"{REVIEW_FLAGS.get(exc.field, exc.field)}: {exc.problem}")


def cmd_review(args: argparse.Namespace) -> int:
    try:
        review = parse_review(
            setup=args.setup,
            execution=args.execution,
            followed_plan=args.followed_plan,
            emotion=args.emotion,
            lessons=args.lessons,
            tags=() if args.clear_tags else args.tags,
        )
    except ReviewFieldError as exc:
        raise _flag_error(exc) from exc
    with journal_app(args) as app:
        reviews = app.journal_reviews
        result = reviews.get(args.round_trip) if review.is_empty else reviews.review(
            args.round_trip, review
        )
        zone = app.calendar.zone
    if args.json:
        print(json.dumps(review_json(result), indent=2))
        return 0
    when = (
        f"closed {local_time(result.closed_at, zone)}" if result.closed_at is not None
        else f"open since {local_time(result.opened_at, zone)}"
    )
    verb = "" if review.is_empty else "reviewed "
    print(f"{verb}round trip {result.round_trip_id} {result.ticker} ({when}, {zone}): "
          f"{review_line(result.review)}")
    if result.review.lessons_learned:
        print(f"lessons: {result.review.lessons_learned}")
    return 0


def review_line(review: Review) -> str:
    """One line of the review's grades, e.g. ``setup 4/5, execution 3/5, plan followed,
    calm, tags: fomo, news``; ``not reviewed`` when empty."""
    parts: list[str] = []
    if review.setup_quality is not None:
        parts.append(f"setup {review.setup_quality}/{RATING_MAX}")
    if review.execution_quality is not None:
        parts.append(f"execution {review.execution_quality}/{RATING_MAX}")
    if review.followed_plan is not None:
        parts.append("plan followed" if review.followed_plan else "plan not followed")
    if review.emotional_state:
        parts.append(review.emotional_state)
    if review.tags:
        parts.append("tags: " + ", ".join(review.tags))
    if not parts and not review.lessons_learned:
        return "not reviewed"
    return ", ".join(parts) or "lessons only"


def review_json(result: TripReview) -> dict[str, Any]:
    """The round trip and its review; times ISO 8601 UTC, tags a list."""
    r = result.review
    return {
        "round_trip_id": result.round_trip_id,
        "ticker": result.ticker,
        "status": result.status,
        "opened_at": result.opened_at.isoformat(),
        "closed_at": None if result.closed_at is None else result.closed_at.isoformat(),
        "setup_quality": r.setup_quality,
        "execution_quality": r.execution_quality,
        "followed_plan": r.followed_plan,
        "emotional_state": r.emotional_state,
        "lessons_learned": r.lessons_learned,
        "tags": list(r.tags or ()),
    }
