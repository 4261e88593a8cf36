"""What protects a position, read from its orders; refusal runs and their back-off."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from skimd.domain.protection import (
    RETRY_BASE_S,
    RETRY_CAP_S,
    Cover,
    ended_refusal_run,
    protection_of,
    refusal_run,
    retry_delay,
)
from skimd.domain.trading import (
    IntentPurpose,
    IntentRecord,
    IntentStatus,
    PositionRecord,
    client_order_id,
)

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)
DAY = date(2026, 11, 24)
HELD = PositionRecord(
    ticker="VPL", qty=1000, avg_price=Decimal("2.85"), entry_date=DAY, opened_at=T0, id=7,
    conid=70, stop=Decimal("2.77"),
)  # fmt: skip
_seq: dict[IntentPurpose, int] = {}


def _order(
    purpose: IntentPurpose,
    status: IntentStatus,
    *,
    at: int = 0,
    qty: int = 1000,
    filled: int = 0,
    stop: str | None = "2.77",
    reason: str | None = None,
) -> IntentRecord:
    """An order of HELD, ``at`` seconds after T0 (its last change too)."""
    _seq[purpose] = _seq.get(purpose, 0) + 1
    when = T0 + timedelta(seconds=at)
    is_stop = purpose is IntentPurpose.STOP
    return IntentRecord(
        client_order_id=client_order_id(DAY, "VPL", purpose, position_id=7, seq=_seq[purpose]),
        ticker="VPL",
        conid=70,
        side="SELL",
        qty=qty,
        order_type="STP" if is_stop else "MKT",
        purpose=purpose,
        created_at=when,
        status=status,
        stop_price=Decimal(stop) if is_stop and stop else None,
        filled_qty=filled,
        reason=reason,
        position_id=7,
        updated_at=when,
    )


S, X = IntentPurpose.STOP, IntentPurpose.STOP_EXIT
ST = IntentStatus


def test_the_back_off_doubles_from_its_base_to_its_cap() -> None:
    delays = [retry_delay(n).total_seconds() for n in range(1, 9)]
    assert delays[0] == RETRY_BASE_S
    assert delays == sorted(delays) and delays[-1] == RETRY_CAP_S
    assert all(b in (2 * a, RETRY_CAP_S) for a, b in pairwise(delays))
    assert retry_delay(10_000).total_seconds() == RETRY_CAP_S


def test_a_working_stop_for_every_share_is_a_broker_stop() -> None:
    p = protection_of(HELD, [_order(S, ST.SUBMITTED)])
    assert (p.cover, p.stop, p.exposed, p.refusals) == (
        Cover.BROKER_STOP,
        Decimal("2.77"),
        1000,
        (),
    )
    assert p.cover.protects


@pytest.mark.parametrize(
    ("orders", "why"),
    [
        ([], "no resting stop"),
        ([_order(S, ST.PENDING)], "not confirmed"),
        ([_order(S, ST.UNKNOWN)], "not confirmed"),
        ([_order(S, ST.CANCELLED)], "no resting stop"),
        ([_order(S, ST.SUBMITTED, qty=400)], "covers 400 of 1000"),
        ([_order(S, ST.REJECTED, reason="no permission")], "refused the resting stop once"),
    ],
)
def test_without_a_working_stop_covering_it_the_software_stop_guards(
    orders: list[IntentRecord], why: str
) -> None:
    p = protection_of(HELD, orders)
    assert p.cover is Cover.SOFTWARE_STOP and p.stop == HELD.stop
    assert why in p.why


def test_working_exits_cover_what_they_sell_and_the_stop_covers_the_rest() -> None:
    half = _order(IntentPurpose.PARTIAL, ST.SUBMITTED, qty=500)
    assert protection_of(HELD, [half]).cover is Cover.SOFTWARE_STOP
    p = protection_of(HELD, [half, _order(S, ST.SUBMITTED, qty=500)])
    assert (p.cover, p.selling, p.exposed) == (Cover.BROKER_STOP, 500, 500)
    everything = protection_of(HELD, [_order(IntentPurpose.FLATTEN, ST.UNKNOWN)])
    assert everything.cover is Cover.EXITING and everything.exposed == 0


def test_a_paused_position_or_one_without_a_stop_is_unprotected_unless_the_broker_holds_one() -> (
    None
):
    paused = replace(HELD, paused=True)
    assert protection_of(paused, []).cover is Cover.UNPROTECTED
    assert not protection_of(paused, []).cover.protects
    assert protection_of(replace(HELD, stop=None), []).cover is Cover.UNPROTECTED
    assert protection_of(paused, [_order(S, ST.SUBMITTED)]).cover is Cover.BROKER_STOP


def test_a_refusal_run_counts_the_refusals_since_the_last_order_the_broker_took() -> None:
    orders = [
        _order(S, ST.REJECTED, at=0, reason="first"),
        _order(S, ST.SUBMITTED, at=10),
        _order(S, ST.REJECTED, at=20, reason="again"),
        _order(S, ST.REJECTED, at=50, reason="still"),
        _order(X, ST.FILLED, at=60),
    ]
    run = refusal_run(orders, S)
    assert run is not None and run.count == 2 and run.reason == "still"
    assert run.first is orders[2] and run.since == T0 + timedelta(seconds=20)
    assert run.retry_at == T0 + timedelta(seconds=50) + retry_delay(2)
    assert run.waiting(run.retry_at - timedelta(seconds=1)) and not run.waiting(run.retry_at)
    assert refusal_run(orders, X) is None
    assert ended_refusal_run(orders, S) is None, "the latest stop was refused: still open"
    taken = _order(S, ST.SUBMITTED, at=200)
    ended = ended_refusal_run([*orders, taken], S)
    assert ended is not None and ended[0].count == 2 and ended[1] is taken
    assert refusal_run([*orders, taken], S) is None


def test_every_open_refusal_run_is_reported_with_the_protection() -> None:
    orders = [
        _order(IntentPurpose.FLATTEN, ST.REJECTED, at=0, reason="closing auction"),
        _order(S, ST.SUBMITTED, at=1),
    ]
    p = protection_of(HELD, orders)
    assert p.cover is Cover.BROKER_STOP
    run = p.run_of(IntentPurpose.FLATTEN)
    assert run is not None and run.reason == "closing auction"
    assert p.run_of(S) is None
