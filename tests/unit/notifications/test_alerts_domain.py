from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from skimd.domain.alerts import (
    ALERT_TYPES,
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    CandidateDigest,
    CandidateFound,
    DaemonStarted,
    DaemonStopping,
    DailySummary,
    GuardReleased,
    GuardTripped,
    JobFailed,
    JobMissed,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    PositionExited,
    PositionMismatch,
    ReconciliationDigest,
    ReconciliationRow,
    Severity,
    TradeableCandidate,
    UnknownAlertKind,
    alert_from_payload,
)
from skimd.domain.market import PricePoint
from skimd.domain.trading import CandidateSource, ExitReason, GuardKind

T = datetime(2024, 6, 3, 0, 5, tzinfo=UTC)


def one_of_each() -> list[Alert]:
    path = (
        PricePoint(at=T, price=Decimal("1.205")),
        PricePoint(at=T + timedelta(minutes=1), price=Decimal("1.23")),
    )
    gap = CandidateFound(
        occurred_at=T,
        symbol="BHP",
        source=CandidateSource.GAP,
        prev_close=Decimal("45.10"),
        open_price=Decimal("47.50"),
        gap_pct=Decimal("5.3215"),
    )
    return [
        gap,
        CandidateFound(
            occurred_at=T,
            symbol="XYZ",
            source=CandidateSource.NEWS,
            headline="Trading halt «lifted» 🚀",
        ),
        CandidateDigest(occurred_at=T, candidates=(gap, gap)),
        TradeableCandidate(
            occurred_at=T,
            symbol="BHP",
            prev_close=None,
            orh=Decimal("47.9"),
            orl=Decimal("47.1"),
            entry=Decimal("47.91"),
            stop=Decimal("47.09"),
            range_end=T,
            path=path,
        ),
        OrderPlaced(
            occurred_at=T,
            symbol="BHP",
            side="BUY",
            quantity=100,
            client_order_id="c-1",
            order_type="STP LMT",
            limit_price=Decimal("47.95"),
            stop_price=Decimal("47.91"),
        ),
        OrderFilled(
            occurred_at=T,
            symbol="BHP",
            side="BUY",
            quantity=100,
            client_order_id="c-1",
            price=Decimal("47.92"),
            commission=Decimal("6.00"),
        ),
        OrderRejected(
            occurred_at=T,
            symbol="BHP",
            side="BUY",
            quantity=100,
            client_order_id="c-2",
            reason="insufficient funds",
        ),
        PositionExited(
            occurred_at=T,
            symbol="BHP",
            quantity=100,
            entry_price=Decimal("47.92"),
            exit_price=Decimal("47.09"),
            entry_at=T,
            exit_at=T,
            reason=ExitReason.STOP,
            pnl=Decimal("-83.00"),
            path=path,
        ),
        PositionMismatch(occurred_at=T, symbol="BHP", ours=100, broker=0, detail="flat at broker"),
        JobFailed(occurred_at=T, job_id="gap_scan", error_type="DataSourceError", message="x"),
        JobMissed(occurred_at=T, job_id="warm_up", scheduled_for=T, late_by_s=42.5),
        BrokerSessionLost(
            occurred_at=T, broker="ibkr", reason="competing", taken_by_other_login=True
        ),
        BrokerRateLimited(
            occurred_at=T, broker="ibkr", endpoint_class="snapshot", until=T + timedelta(minutes=10)
        ),
        GuardTripped(
            occurred_at=T,
            guard=GuardKind.DAILY_LOSS_CAP,
            detail="loss cap",
            value=Decimal("-1050"),
            limit=Decimal("-1000"),
        ),
        GuardReleased(occurred_at=T, guard=GuardKind.KILL_SWITCH, detail="unlocked"),
        DaemonStarted(occurred_at=T, version="0.1.0", broker="demo"),
        DaemonStopping(occurred_at=T, reason="SIGTERM"),
        DailySummary(
            occurred_at=T,
            trading_day=date(2024, 6, 3),
            trades=3,
            wins=2,
            losses=1,
            realised_pnl=Decimal("120.50"),
            fees=Decimal("36"),
            notes=("late fill",),
        ),
        ReconciliationDigest(
            occurred_at=T,
            trading_day=date(2024, 6, 3),
            rows=(
                ReconciliationRow.compare("BHP", 100, 100, 100),
                ReconciliationRow.compare("CBA", 50, 0, 50),
            ),
            clean=False,
            notes=("CBA sold outside skimd?",),
        ),
    ]


def test_every_registered_kind_is_covered_and_round_trips_through_json() -> None:
    alerts = one_of_each()
    assert {a.kind for a in alerts} == set(ALERT_TYPES)
    for alert in alerts:
        text = json.dumps(alert.to_payload())  # JSON-safe: no Decimal/datetime objects left
        back = alert_from_payload(json.loads(text))
        assert back == alert
        assert type(back) is type(alert)


def test_decimals_travel_as_strings_without_losing_precision() -> None:
    alert = one_of_each()[0]
    data = alert.to_payload()["data"]
    assert data["gap_pct"] == "5.3215"
    assert alert_from_payload(alert.to_payload()).gap_pct == Decimal("5.3215")  # type: ignore[attr-defined]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DaemonStarted(occurred_at=datetime(2024, 6, 3, 10, 0), version="1", broker="demo")


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "from_the_future", "v": 2, "data": {}},
        {"data": {}},
        {"kind": "order_filled", "v": 1, "data": {"occurred_at": T.isoformat()}},
        {
            "kind": "order_filled",
            "v": 1,
            "data": {
                **OrderFilled(
                    occurred_at=T,
                    symbol="A",
                    side="BUY",
                    quantity=1,
                    client_order_id="c",
                    price=Decimal(1),
                ).to_payload()["data"],
                "price": 1.5,
            },
        },  # a float price is refused
    ],
)
def test_unknown_or_malformed_payloads_raise(payload: dict[str, object]) -> None:
    with pytest.raises(UnknownAlertKind):
        alert_from_payload(payload)


def test_severity_follows_the_facts() -> None:
    by_kind = {a.kind: a for a in one_of_each()}
    assert by_kind["position_exited"].severity is Severity.WARNING  # a stop hit
    assert by_kind["broker_session_lost"].severity is Severity.CRITICAL
    assert by_kind["broker_rate_limited"].severity is Severity.WARNING
    assert by_kind["guard_tripped"].severity is Severity.CRITICAL
    assert by_kind["daemon_stopping"].severity is Severity.INFO
    assert DaemonStopping(occurred_at=T, reason="db", exit_code=70).severity is Severity.CRITICAL
    assert (
        JobFailed(
            occurred_at=T, job_id="j", error_type="E", message="m", consecutive_failures=3
        ).severity
        is Severity.CRITICAL
    )


def test_digest_table_has_a_row_per_candidate() -> None:
    digest = one_of_each()[2]
    assert isinstance(digest, CandidateDigest)
    rows = digest.table_rows()
    assert rows[0].startswith("Symbol")
    assert len(rows) == 3 and all("+5.32%" in r for r in rows[1:])
