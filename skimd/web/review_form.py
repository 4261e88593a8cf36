"""The round-trip page's review form: its boxes to a :class:`~skimd.domain.reviews.Review`
and back.

The form is shown filled with the stored review and sent whole, so a box left blank
keeps what is stored (setup, execution, followed plan, emotion, lessons: the domain has
no "blank" value for them), except the tags box: its text *is* the tag set (comma
separated), so emptying it clears the stored tags. Bad input raises
:class:`~skimd.domain.reviews.ReviewFieldError` from :func:`~skimd.domain.reviews.parse_review`;
:data:`LABELS` names the box each field is typed into, for the page's error line.
"""

from __future__ import annotations

from collections.abc import Mapping

from skimd.domain.reviews import Review, parse_review

# Review attribute -> (form field name, the box's label on the page)
FIELDS = {
    "setup_quality": ("setup", "Setup"),
    "execution_quality": ("execution", "Execution"),
    "followed_plan": ("followed_plan", "Followed the plan"),
    "emotional_state": ("emotion", "Emotion"),
    "lessons_learned": ("lessons", "Lessons"),
    "tags": ("tags", "Tags"),
}
LABELS = {attr: label for attr, (_, label) in FIELDS.items()}


def review_from_form(form: Mapping[str, str], stored: Review) -> Review:
    """The review the form asks to store over ``stored`` (None where a box is blank)."""

    def given(name: str) -> str | None:
        text = form.get(name, "").strip()
        return text or None

    tags_text = form.get("tags", "")
    tags: list[str] | None = [t for t in tags_text.split(",") if t.strip()]
    if not tags:
        tags = [] if stored.tags else None  # emptied box: clear; never set: leave out
    return parse_review(
        setup=given("setup"),
        execution=given("execution"),
        followed_plan=given("followed_plan"),
        emotion=given("emotion"),
        lessons=given("lessons"),
        tags=tags,
    )


def form_values(review: Review) -> dict[str, str]:
    """The boxes' contents showing ``review`` (blank where nothing is stored)."""
    plan = review.followed_plan
    return {
        "setup": "" if review.setup_quality is None else str(review.setup_quality),
        "execution": "" if review.execution_quality is None else str(review.execution_quality),
        "followed_plan": "" if plan is None else ("yes" if plan else "no"),
        "emotion": review.emotional_state or "",
        "lessons": review.lessons_learned or "",
        "tags": ", ".join(review.tags or ()),
    }


def submitted_values(form: Mapping[str, str]) -> dict[str, str]:
    """The boxes as the trader sent them, to show again beside an error."""
    return {name: form.get(name, "") for name, _ in FIELDS.values()}
