"""The candidate lifecycle: every allowed move, every illegal one, and the documented table."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from skimd.domain.trading import (
    CANDIDATE_MOVES,
    EXPIRABLE_STATES,
    FINAL_STATES,
    CandidateMove,
    CandidateRecord,
    CandidateState,
)
from skimd.errors import IllegalTransitionError, IntegrityError

S = CandidateState
DAY = date(2026, 11, 24)


def _in(state: CandidateState, **extra: object) -> CandidateRecord:
    base: dict[str, object] = {"orh": Decimal("2.50"), "orl": Decimal("2.40")}
    base.update(extra)
    return CandidateRecord(scan_date=DAY, ticker="ABC", status=state, **base)  # type: ignore[arg-type]


# Each move as the method that makes it; range_complete decides its own target.
MAKE = {
    CandidateMove.RANGE_TRADEABLE: lambda c: c.range_complete(require_news=False),
    CandidateMove.RANGE_SKIPPED: lambda c: c.range_complete(require_news=True),
    CandidateMove.ENTERED: lambda c: c.entered(),
    CandidateMove.TOO_SMALL: lambda c: c.too_small(),
    CandidateMove.ENTRY_REFUSED: lambda c: c.entry_refused(),
    CandidateMove.ENTRY_LAPSED: lambda c: c.entry_lapsed(),
    CandidateMove.CLOSED: lambda c: c.closed(),
    CandidateMove.DAY_ENDED: lambda c: c.expired(),
}

ALLOWED = [(m, s) for m, move in CANDIDATE_MOVES.items() for s in sorted(move.sources)]
ILLEGAL = [(m, s) for m, move in CANDIDATE_MOVES.items() for s in S if s not in move.sources]


def test_every_move_has_a_method() -> None:
    assert set(MAKE) == set(CandidateMove) == set(CANDIDATE_MOVES)


@pytest.mark.parametrize(("move", "state"), ALLOWED, ids=lambda v: str(v))
def test_an_allowed_move_reaches_its_target(move: CandidateMove, state: CandidateState) -> None:
    before = _in(state, price_sensitive=False)
    after = MAKE[move](before)
    assert after.status is CANDIDATE_MOVES[move].target
    assert after.with_() == after and after.orh == before.orh  # only the state changed
    assert before.status is state  # records are values: the original is untouched


@pytest.mark.parametrize(("move", "state"), ILLEGAL, ids=lambda v: str(v))
def test_an_illegal_move_raises_our_error(move: CandidateMove, state: CandidateState) -> None:
    candidate = _in(state)
    assert not candidate.can(move)
    with pytest.raises(IllegalTransitionError, match=f"ABC.*{state.value}.*{move.value}"):
        MAKE[move](candidate)


def test_an_illegal_move_is_an_integrity_error_of_ours() -> None:
    with pytest.raises(IntegrityError):
        _in(S.CLOSED).entered()


def test_final_states_allow_no_move_and_every_other_state_has_one() -> None:
    assert {S.SKIPPED, S.CLOSED, S.EXPIRED} == FINAL_STATES
    for state in S:
        leaving = [m for m, move in CANDIDATE_MOVES.items() if state in move.sources]
        assert bool(leaving) == (state not in FINAL_STATES)


def test_expirable_states_are_the_ones_still_watched() -> None:
    assert {S.RANGING, S.TRADEABLE} == EXPIRABLE_STATES


def test_range_complete_is_tradeable_with_news_and_a_real_range() -> None:
    with_news = _in(S.RANGING, price_sensitive=True)
    assert with_news.range_complete(require_news=True).status is S.TRADEABLE
    assert _in(S.RANGING).range_complete(require_news=False).status is S.TRADEABLE


@pytest.mark.parametrize(
    ("extra", "require_news"),
    [
        ({"price_sensitive": False}, True),  # the required news is missing
        ({"orh": Decimal("2.40"), "orl": Decimal("2.40"), "price_sensitive": True}, True),
        ({"orh": Decimal("2.40"), "orl": Decimal("2.40")}, False),  # flat range
    ],
)
def test_range_complete_skips(extra: dict[str, object], require_news: bool) -> None:
    assert _in(S.RANGING, **extra).range_complete(require_news=require_news).status is S.SKIPPED


def test_a_range_cannot_complete_before_it_exists() -> None:
    with pytest.raises(IllegalTransitionError, match="no opening range"):
        _in(S.RANGING, orh=None, orl=None).range_complete(require_news=False)


def test_status_changes_only_through_the_moves() -> None:
    with pytest.raises(TypeError, match="move methods"):
        _in(S.RANGING).with_(status=S.TRADEABLE)
    assert _in(S.RANGING).with_(conid=5).conid == 5


def test_the_documented_lifecycle_is_the_table() -> None:
    """CandidateState's docstring lists the moves; it must say exactly what the code does."""
    doc = CandidateState.__doc__ or ""
    rows = re.findall(r"^\s+(\w+)\s+([a-z, ]+?)\s+->\s+(\w+)\s", doc, re.MULTILINE)
    documented = {
        CandidateMove(name): (frozenset(S(s.strip()) for s in sources.split(",")), S(target))
        for name, sources, target in rows
    }
    assert len(rows) == len(CANDIDATE_MOVES)
    assert documented == {m: (move.sources, move.target) for m, move in CANDIDATE_MOVES.items()}
