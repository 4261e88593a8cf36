"""``skimd journal`` actions that write the trader's own records.

- ``review ROUND_TRIP [--setup 1-5] [--execution 1-5] [--followed-plan yes|no]
  [--emotion WORD] [--lessons TEXT] [--tag T]... [--clear-tags] [--json]``: grade a round
  trip; only the fields given change (``--tag`` given replaces the stored tags). Without
  a field it shows the stored review. Kept on the round trip's trade report.

- ``plan add TICKER --entry P --stop P [--target P] [--qty N] [--direction long|short]
  [--conviction low|medium|high] [--strategy NAME] [--strategy-description TEXT]
  [--entry-conditions TEXT] [--exit-conditions TEXT] [--timeframe T] [--account A]
  [--notes TEXT] [--json]``: a trade plan of the trader's own (status draft);
  ``plan list [--status S] [--json]``.
- ``mistake add ROUND_TRIP CATEGORY [--note TEXT] [--cost AMOUNT] [--json]``: a mistake
  against a round trip (the end of day's automatic codes are its own).
- ``attach ROUND_TRIP|plan:ID FILE [--caption TEXT] [--json]``: a screenshot (PNG, JPEG,
  WebP, GIF; at most 20 MiB) with a thumbnail, on the round trip's trade report or on
  the plan.

Bad input fails with one line naming the flag (``--setup: must be 1-5, got 7``) and
nothing is written; the use cases are the same the web view calls
(:class:`skimd.services.journal.reviews.JournalReviews`,
:class:`skimd.services.journal.records.JournalRecords`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from skimd.commands.journal_app import journal_app
from skimd.commands.text_tables import local_time, render_table
from skimd.domain.reviews import (
    RATING_MAX,
    Review,
    ReviewFieldError,
    TripReview,
    parse_review,
)
from skimd.domain.trader_records import (
    MAX_ATTACHMENT_BYTES,
    FieldError,
    OwnerKind,
    parse_attach_target,
    parse_mistake,
    parse_plan,
)
from skimd.errors import InvalidInputError

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

    plan = sub.add_parser("plan", parents=parents, help="the trader's own trade plans")
    plan_sub = plan.add_subparsers(dest="plan_command", metavar="ACTION", required=True)
    p = plan_sub.add_parser("add", parents=parents, help="write a trade plan (status draft)")
    p.add_argument("ticker", metavar="TICKER")
    p.add_argument("--entry", required=True, metavar="PRICE")
    p.add_argument("--stop", required=True, metavar="PRICE")
    p.add_argument("--target", metavar="PRICE")
    p.add_argument("--qty", metavar="N", help="shares")
    p.add_argument("--direction", default="long", metavar="long|short", help="(%(default)s)")
    p.add_argument("--conviction", metavar="low|medium|high")
    p.add_argument("--strategy", dest="strategy_name", metavar="NAME")
    p.add_argument("--strategy-description", metavar="TEXT")
    p.add_argument("--entry-conditions", metavar="TEXT")
    p.add_argument("--exit-conditions", metavar="TEXT")
    p.add_argument("--timeframe", metavar="T", help="e.g. intraday, swing")
    p.add_argument("--account", metavar="A")
    p.add_argument("--notes", metavar="TEXT")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_plan_add)
    p = plan_sub.add_parser("list", parents=parents, help="list trade plans, newest first")
    p.add_argument("--status", metavar="S", help="draft, active, executed or cancelled")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_plan_list)

    mistake = sub.add_parser("mistake", parents=parents, help="record a mistake")
    mistake_sub = mistake.add_subparsers(dest="mistake_command", metavar="ACTION",
                                         required=True)
    p = mistake_sub.add_parser("add", parents=parents, help="a mistake against a round trip")
    p.add_argument("round_trip", type=_record_id, metavar="ROUND_TRIP")
    p.add_argument("category", metavar="CATEGORY", help="a word, e.g. late_exit")
    p.add_argument("--note", metavar="TEXT")
    p.add_argument("--cost", metavar="AMOUNT", help="what it cost ($)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_mistake_add)

    p = sub.add_parser("attach", parents=parents,
                       help="attach a screenshot to a round trip or a plan")
    p.add_argument("target", metavar="ROUND_TRIP|plan:ID",
                   help="round trip id (12 or rt:12) or plan:ID")
    p.add_argument("file", type=Path, metavar="FILE", help="PNG, JPEG, WebP or GIF")
    p.add_argument("--caption", metavar="TEXT")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_attach)


def _record_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id like 12")
    return int(text)


PLAN_FLAGS = {"ticker": "TICKER", "strategy_name": "--strategy"}
MISTAKE_FLAGS = {"category": "CATEGORY"}


def _flag_error(exc: FieldError, flags: dict[str, str] | None = None) -> InvalidInputError:
    """The error with the command line's name for the field (``--setup``, ``--stop``)."""
    names = REVIEW_FLAGS if flags is None else flags
    name = names.get(exc.field, "--" + exc.field.replace("_", "-"))
    return InvalidInputError(f"{name}: {exc.problem}")


def _print_json(data: dict[str, Any] | list[dict[str, Any]]) -> None:
    print(json.dumps(data, indent=2))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def cmd_plan_add(args: argparse.Namespace) -> int:
    try:
        draft = parse_plan(
            ticker=args.ticker, entry=args.entry, stop=args.stop, target=args.target,
            qty=args.qty, direction=args.direction, conviction=args.conviction,
            strategy_name=args.strategy_name, strategy_description=args.strategy_description,
            entry_conditions=args.entry_conditions, exit_conditions=args.exit_conditions,
            timeframe=args.timeframe, account=args.account, notes=args.notes,
        )
    except FieldError as exc:
        raise _flag_error(exc, PLAN_FLAGS) from exc
    with journal_app(args) as app:
        plan_id = app.journal_records.add_plan(draft)
    if args.json:
        _print_json({"id": plan_id, **{k: _plain(v) for k, v in asdict(draft).items()},
                     "direction": str(draft.direction), "status": "draft"})
        return 0
    target = f", target {draft.target}" if draft.target is not None else ""
    print(f"trade plan {plan_id}: {draft.direction} {draft.ticker} entry {draft.entry},"
          f" stop {draft.stop}{target} (draft)")
    return 0


def cmd_plan_list(args: argparse.Namespace) -> int:
    with journal_app(args) as app:
        plans = app.journal_records.plans(args.status)
        zone = app.calendar.zone
    if args.json:
        _print_json([{k: _plain(v) for k, v in asdict(p).items()} for p in plans])
        return 0
    if not plans:
        print("no trade plans")
        return 0
    columns = ("id", "ticker", "status", "dir", "entry", "stop", "target", "qty",
               "conviction", "strategy", "created")
    rows = [
        (p.id, p.ticker, p.status, p.direction, p.entry, p.stop, p.target, p.qty,
         p.conviction, p.strategy_name, local_time(p.created_at, zone))
        for p in plans
    ]
    print(render_table(rows, columns, numeric=("id", "entry", "stop", "target", "qty")))
    print(f"times in {zone}")
    return 0


def cmd_mistake_add(args: argparse.Namespace) -> int:
    try:
        draft = parse_mistake(args.category, args.note, args.cost)
    except FieldError as exc:
        raise _flag_error(exc, MISTAKE_FLAGS) from exc
    with journal_app(args) as app:
        mistake_id = app.journal_records.add_mistake(args.round_trip, draft)
    if args.json:
        _print_json({"id": mistake_id, "round_trip_id": args.round_trip,
                     **{k: _plain(v) for k, v in asdict(draft).items()}})
        return 0
    cost = f" (cost ${draft.cost})" if draft.cost is not None else ""
    print(f"mistake {mistake_id} on round trip {args.round_trip}: {draft.category}{cost}")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    try:
        target = parse_attach_target(args.target)
    except FieldError as exc:
        raise _flag_error(exc, {"target": "ROUND_TRIP|plan:ID"}) from exc
    path: Path = args.file
    try:
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            raise InvalidInputError(
                f"{path}: {size} bytes is over the {MAX_ATTACHMENT_BYTES} limit")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror})") from exc
    with journal_app(args) as app:
        try:
            image = app.journal_records.attach(target, data, args.caption)
        except InvalidInputError as exc:
            if str(exc).startswith("image:"):
                raise InvalidInputError(f"{path}: {exc}") from exc
            raise
    if args.json:
        _print_json({**asdict(image), "file": str(path)})
        return 0
    owner = (f"plan {target.id}" if target.kind is OwnerKind.PLAN
             else f"round trip {target.id} (report {image.owner_id})")
    print(f"attached {path.name} to {owner}: image {image.id}, {image.mime},"
          f" {image.width}x{image.height}, {image.file_size} bytes")
    return 0


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
