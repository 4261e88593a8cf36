"""Sample alerts: one of every kind, in a fixed order.

``tests/fixtures/alerts/`` holds what the code before the alert split made of exactly these
(the outbox payloads it stored, the words it showed); the codec and text tests compare
against them, so reorder or change a sample only together with those files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    BrokerSessionRestored,
    CandidateDigest,
    CandidateFound,
    ControlAction,
    DaemonStarted,
    DaemonStopping,
    DailySummary,
    EntryLapsed,
    EntrySettled,
    GuardReleased,
    GuardTripped,
    JobFailed,
    JobMissed,
    JobOverrun,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    PositionExited,
    PositionMismatch,
    ProtectionFallback,
    ProtectionRestored,
    ReconciliationDigest,
    ReconciliationRow,
    TradeableCandidate,
)
from skimd.domain.market import PricePoint
from skimd.domain.protection import Cover
from skimd.domain.trading import CandidateSource, ExitReason, GuardKind, IntentPurpose

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
        ProtectionFallback(
            occurred_at=T,
            symbol="BHP",
            quantity=100,
            refused=IntentPurpose.STOP,
            client_order_id="SK20240603-BHP-S1.1",
            reason="order confirmation not answered",
            cover=Cover.SOFTWARE_STOP,
            stop=Decimal("46.80"),
            retry_at=T + timedelta(seconds=30),
        ),
        ProtectionRestored(
            occurred_at=T + timedelta(minutes=5),
            symbol="BHP",
            quantity=100,
            stop=Decimal("46.80"),
            client_order_id="SK20240603-BHP-S1.4",
            refusals=3,
            since=T,
        ),
        BrokerSessionRestored(
            occurred_at=T + timedelta(minutes=4, seconds=12),
            broker="ibkr",
            down_since=T,
            taken_by_other_login=True,
            reason="another login is competing for the brokerage session",
        ),
        JobOverrun(
            occurred_at=T + timedelta(seconds=31),
            job_id="watch",
            skipped_runs=6,
            started_at=T,
            ran_for_s=31.0,
        ),
        ControlAction(
            occurred_at=T + timedelta(minutes=6),
            uid=1001,
            name="trader",
            action="flatten",
            detail="BHP: 100 shares (operator: news)",
        ),
    ]


def since_v1() -> list[Alert]:
    """One sample of each kind added after the version-1 fixtures were written (issue 16:
    one message per entry); no stored payloads or words of the old code exist for them."""
    path = one_of_each()[3].path  # the tradeable candidate's
    return [
        EntrySettled(
            occurred_at=T + timedelta(minutes=2),
            symbol="VPL",
            quantity=5555,
            ordered=5555,
            price=Decimal("2.85"),
            stop=Decimal("2.77"),
            cover=Cover.BROKER_STOP,
            client_order_id="SK20240603-VPL-E",
            filled_at=T + timedelta(minutes=1),
            fees=Decimal("6.00"),
            orh=Decimal("2.82"),
            orl=Decimal("2.77"),
            prev_close=Decimal("2.67"),
            path=path,
        ),
        EntryLapsed(
            occurred_at=T + timedelta(minutes=3),
            symbol="YHJ",
            ordered=8000,
            limit_price=Decimal("1.145"),
            client_order_id="SK20240603-YHJ-E",
            reason="entry not filled in time",
        ),
    ]


def every_kind() -> list[Alert]:
    """:func:`one_of_each` and then :func:`since_v1`: a sample of every registered kind."""
    return [*one_of_each(), *since_v1()]

