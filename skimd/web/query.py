"""Query-string values the pages take, parsed or refused with
:class:`~skimd.errors.InvalidInputError` (the page answers 400 with its line)."""

from __future__ import annotations

from datetime import date

from skimd.domain.stats import GroupBy
from skimd.errors import InvalidInputError


def group_param(text: str | None) -> GroupBy | None:
    """``by`` as the address gives it: empty or ``none`` is no grouping."""
    if not text or text == "none":
        return None
    try:
        return GroupBy(text)
    except ValueError:
        raise InvalidInputError(f"cannot group by {text!r}") from None


def page_param(text: str | None) -> int:
    """A page number (1 when absent)."""
    if not text:
        return 1
    if not text.isdigit():
        raise InvalidInputError(f"page {text!r} is not a number")
    return int(text)


def id_param(text: str | None, what: str) -> int | None:
    """A record id (None when absent)."""
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInputError(f"{what} {text!r} is not a number")
    return int(text)


def date_param(text: str | None) -> date | None:
    """A YYYY-MM-DD date (None when absent)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date (YYYY-MM-DD)") from None
