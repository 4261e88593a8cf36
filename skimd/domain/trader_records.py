"""What the trader writes into the journal by hand, checked before anything is stored
(pure): a trade plan, a mistake, and which record a screenshot belongs to.

Bad input raises :class:`FieldError` naming the field (the record's attribute), so each
front end can name its own input (``--stop`` on the command line, a form field in the
browser). Prices are exact decimals; a long plan's stop is below its entry and its target
above (a short's the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from skimd.errors import InvalidInputError

from .mistakes import MistakeCode

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_TEXT = 10_000
CONVICTIONS = ("low", "medium", "high")


class FieldError(InvalidInputError):
    """One field of a record is bad: ``field`` is its name, ``problem`` the reason."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True, slots=True)
class PlanDraft:
    """A trade plan the trader writes (stored as status ``draft``)."""

    ticker: str
    entry: Decimal
    stop: Decimal
    target: Decimal | None = None
    qty: int | None = None
    direction: Direction = Direction.LONG
    conviction: str | None = None
    strategy_name: str | None = None
    strategy_description: str | None = None
    entry_conditions: str | None = None
    exit_conditions: str | None = None
    timeframe: str | None = None
    account: str | None = None
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class MistakeDraft:
    category: str
    note: str | None = None
    cost: Decimal | None = None


class OwnerKind(StrEnum):
    ROUND_TRIP = "round_trip"
    PLAN = "plan"


@dataclass(frozen=True, slots=True)
class AttachTarget:
    """The record a screenshot goes to: a round trip (kept on its trade report) or a
    trade plan."""

    kind: OwnerKind
    id: int


def parse_plan(
    *,
    ticker: str,
    entry: str,
    stop: str,
    target: str | None = None,
    qty: str | int | None = None,
    direction: str = "long",
    conviction: str | None = None,
    strategy_name: str | None = None,
    strategy_description: str | None = None,
    entry_conditions: str | None = None,
    exit_conditions: str | None = None,
    timeframe: str | None = None,
    account: str | None = None,
    notes: str | None = None,
) -> PlanDraft:
    """A :class:`PlanDraft` from typed-in text (tickers upper-cased, words lower-cased,
    blank text left out)."""
    symbol = ticker.strip().upper()
    if not symbol or len(symbol) > 12 or not symbol.replace(".", "").isalnum():
        raise FieldError("ticker", f"must be a ticker like BHP, got {ticker!r}")
    try:
        side = Direction(direction.strip().lower())
    except ValueError:
        raise FieldError("direction", f"must be long or short, got {direction!r}") from None
    entry_price = _price("entry", entry)
    stop_price = _price("stop", stop)
    target_price = None if target is None else _price("target", target)
    sign = 1 if side is Direction.LONG else -1
    below, above = ("below", "above") if side is Direction.LONG else ("above", "below")
    if sign * (entry_price - stop_price) <= 0:
        raise FieldError("stop", f"a {side} plan's stop must be {below} the entry {entry_price},"
                                 f" got {stop_price}")
    if target_price is not None and sign * (target_price - entry_price) <= 0:
        raise FieldError("target", f"a {side} plan's target must be {above} the entry"
                                   f" {entry_price}, got {target_price}")
    shares: int | None = None
    if qty is not None:
        text = str(qty).strip()
        if not text.isdigit() or int(text) < 1:
            raise FieldError("qty", f"must be a whole number of shares, got {qty!r}")
        shares = int(text)
    level = None if conviction is None else conviction.strip().lower()
    if level is not None and level not in CONVICTIONS:
        raise FieldError("conviction", f"must be one of {', '.join(CONVICTIONS)},"
                                       f" got {conviction!r}")
    return PlanDraft(
        ticker=symbol,
        entry=entry_price,
        stop=stop_price,
        target=target_price,
        qty=shares,
        direction=side,
        conviction=level,
        strategy_name=_text("strategy_name", strategy_name),
        strategy_description=_text("strategy_description", strategy_description),
        entry_conditions=_text("entry_conditions", entry_conditions),
        exit_conditions=_text("exit_conditions", exit_conditions),
        timeframe=_text("timeframe", timeframe),
        account=_text("account", account),
        notes=_text("notes", notes),
    )


def parse_mistake(category: str, note: str | None = None, cost: str | None = None) -> MistakeDraft:
    """A mistake the trader records: a category word (lower-case, ``_`` for spaces), an
    optional note and what it cost (≥ 0). The codes the end of day finds by itself
    (:class:`~skimd.domain.mistakes.MistakeCode`) are refused: it replaces those when it
    judges the round trip again, and would take the trader's entry with them."""
    word = "_".join(category.strip().lower().split())
    if not word or len(word) > 60:
        raise FieldError("category", f"must be a word like late_exit, got {category!r}")
    if word in {str(c) for c in MistakeCode}:
        raise FieldError("category", f"{word} is found automatically at the end of day;"
                                     " name yours differently (e.g. late_exit)")
    amount = None if cost is None else _price("cost", cost, allow_zero=True)
    return MistakeDraft(category=word, note=_text("note", note), cost=amount)


def parse_attach_target(text: str) -> AttachTarget:
    """``12`` or ``rt:12``: round trip 12; ``plan:3``: trade plan 3."""
    raw = text.strip().lower()
    kind = OwnerKind.ROUND_TRIP
    for prefix, owner in (("rt:", OwnerKind.ROUND_TRIP), ("plan:", OwnerKind.PLAN)):
        if raw.startswith(prefix):
            kind, raw = owner, raw[len(prefix):]
            break
    if not raw.isdigit() or int(raw) < 1:
        raise FieldError("target", f"must be a round trip id (12 or rt:12) or plan:ID,"
                                   f" got {text!r}")
    return AttachTarget(kind, int(raw))


def _price(field: str, text: str, *, allow_zero: bool = False) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise FieldError(field, f"must be a number like 45.10, got {text!r}") from None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        raise FieldError(field, f"must be {'0 or more' if allow_zero else 'above 0'},"
                                f" got {text!r}")
    return value


def _text(field: str, text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_TEXT:
        raise FieldError(field, f"at most {MAX_TEXT} characters")
    return text.strip()
