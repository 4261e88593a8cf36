"""Sample alerts: one of every kind, in a fixed order.

``tests/fixtures/alerts/`` holds what the code before the alert split made of exactly these
(the outbox payloads it stored, the words it showed); the codec and text tests compare
against them, so reorder or change a sample only together with those files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from skimd.domain.alert_text import quiet_digest
from skimd.domain.alerts import (
    Alert,
    BrokerRateLimited,
    BrokerSessionLost,
    BrokerSessionRestored,
    BrokerSessionStillDown,
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
    HeldPosition,
    JobFailed,
    JobMissed,
    JobOverrun,
    LateCandidates,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    PositionExited,
    PositionMismatch,
    ProtectionFallback,
    ProtectionRestored,
    QuietDigest,
    QuoteStreamBack,
    QuoteStreamDown,
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
    samples: list[Alert] = [
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
        BrokerSessionStillDown(
            occurred_at=T + timedelta(minutes=10),
            broker="ibkr",
            down_since=T,
            reason="not authenticated",
            after_min=10,
            positions=(
                HeldPosition(
                    symbol="BHP", quantity=100, cover=Cover.BROKER_STOP, stop=Decimal("46.80")
                ),
            ),
        ),
        LateCandidates(
            occurred_at=T + timedelta(hours=6),
            trading_day=date(2024, 6, 3),
            window_closed_at=datetime(2024, 6, 3, 10, 15, tzinfo=ZoneInfo("Australia/Sydney")),
            candidates=(
                CandidateFound(
                    occurred_at=T + timedelta(hours=1),
                    symbol="NGD",
                    source=CandidateSource.NEWS,
                    headline="Binding Offtake Agreement Executed",
                ),
                CandidateFound(
                    occurred_at=T + timedelta(hours=2),
                    symbol="CDT",
                    source=CandidateSource.NEWS,
                    headline="Major Contract Award",
                ),
            ),
        ),
    ]
    placed, filled = (a for a in samples if a.kind in ("order_placed", "order_filled"))
    quiet = quiet_digest([gap, placed, filled], occurred_at=T + timedelta(hours=1))
    assert isinstance(quiet, QuietDigest)
    return [*samples, quiet]


def hard_for_a_phone() -> list[Alert]:
    """Alerts that strain a phone's width and Discord's limits: a digest mixing gap and news
    candidates (long, wide-character and backtick headlines, a long ticker), a reconciliation
    with hundreds of mismatches and large quantities, and details that are empty or ids."""
    news = [
        CandidateFound(
            occurred_at=T,
            symbol=symbol,
            source=CandidateSource.NEWS,
            headline=headline,
        )
        for symbol, headline in (
            ("VPL", "Strategic Investment and Placement at a Premium to the Last Close Price"),
            ("QZM", "Resignation of Managing Director"),
            ("LONGTKR", "株式の公開買付けに関するお知らせ 🚀🚀🚀 " * 4),
            ("TCK", "```code fence``` in a headline " + "x" * 90),
            ("NOH", None),
        )
    ]
    gaps = [
        CandidateFound(
            occurred_at=T,
            symbol=f"G{n:02d}",
            source=CandidateSource.GAP,
            prev_close=Decimal("0.0035"),
            open_price=Decimal("1234.5678"),
            gap_pct=Decimal("-123.4567") if n % 2 else Decimal("5.3215"),
        )
        for n in range(120)
    ]
    mixed = [c for pair in zip(news * 24, gaps, strict=False) for c in pair]
    rows = tuple(
        ReconciliationRow.compare(f"T{n:03d}", 12_345_678, n, 9_999_999) for n in range(400)
    )
    return [
        CandidateDigest(occurred_at=T, candidates=tuple(mixed)),
        CandidateDigest(occurred_at=T, candidates=tuple(news)),
        ReconciliationDigest(
            occurred_at=T,
            trading_day=date(2024, 6, 3),
            rows=(*rows, ReconciliationRow.compare("OKAY", 1, 1, 1)),
            clean=False,
            notes=("", "many sold outside skimd"),
        ),
        OrderPlaced(
            occurred_at=T,
            symbol="BHP",
            side="SELL",
            quantity=100,
            client_order_id="SK20240603-BHP-S1.1",
            broker_order_id="99887766",
            order_type="STP",
            stop_price=Decimal("47.09"),
        ),
        DailySummary(
            occurred_at=T,
            trading_day=date(2024, 6, 3),
            trades=0,
            wins=0,
            losses=0,
            realised_pnl=Decimal("0"),
            fees=Decimal("0"),
        ),
    ]


def since_v1() -> list[Alert]:
    """One sample of each kind added after the version-1 fixtures were written (issue 16:
    one message per entry; issue 19: the quote stream's outages); no stored payloads or
    words of the old code exist for them."""
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
        QuoteStreamDown(
            occurred_at=T + timedelta(minutes=4),
            broker="ibkr",
            reason="websocket closed (1006)",
            poll_interval_s=5,
        ),
        QuoteStreamBack(
            occurred_at=T + timedelta(minutes=5, seconds=30),
            broker="ibkr",
            down_since=T + timedelta(minutes=4),
            reason="websocket closed (1006)",
        ),
    ]


def every_kind() -> list[Alert]:
    """:func:`one_of_each` and then :func:`since_v1`: a sample of every registered kind."""
    return [*one_of_each(), *since_v1()]

