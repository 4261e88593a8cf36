"""The sender under an alert policy, against the in-memory outbox and recording notifiers:
skipped rows, held rows and their digest (interval on the daemon clock, release before
the daily summary and at stop, the cap), failures while sending a digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from skimd.clock import SimulatedClock
from skimd.domain.alert_policy import AlertPolicy, KindRule, Mode, Route
from skimd.domain.alert_text import describe
from skimd.domain.alerts import (
    Alert,
    DaemonStopping,
    DailySummary,
    JobFailed,
    OrderFilled,
    OrderPlaced,
    QuietDigest,
)
from skimd.errors import NotificationDeliveryError
from skimd.services.alerts import OutboxSender, enqueue
from tests.fakes.notifiers import RecordingNotifier
from tests.fakes.outbox_store import InMemoryOutbox

T0 = datetime(2024, 6, 3, 0, 0, tzinfo=UTC)
HOUR = 3600.0
QUIET_ORDERS = {"order_placed": KindRule(Mode.QUIET), "order_filled": KindRule(Mode.QUIET)}


def placed(clock: SimulatedClock, n: int) -> OrderPlaced:
    return OrderPlaced(occurred_at=clock.now(), symbol="BHP", side="BUY", quantity=n,
                       client_order_id=f"c-{n}", order_type="LMT", limit_price=Decimal("1.5"))


def filled(clock: SimulatedClock, n: int) -> OrderFilled:
    return OrderFilled(occurred_at=clock.now(), symbol="BHP", side="BUY", quantity=n,
                       client_order_id=f"c-{n}", price=Decimal("1.5"))


def failed(clock: SimulatedClock) -> JobFailed:
    return JobFailed(occurred_at=clock.now(), job_id="gap_scan", error_type="X", message="x")


def summary(clock: SimulatedClock) -> DailySummary:
    return DailySummary(occurred_at=clock.now(), trading_day=date(2024, 6, 3), trades=0,
                        wins=0, losses=0, realised_pnl=Decimal(0), fees=Decimal(0))


class Desk:
    """An outbox, a phone channel ``discord`` under ``kinds`` and the ``console`` record."""

    def __init__(self, kinds: dict[str, KindRule], *, batch_limit: int = 100) -> None:
        self.clock = SimulatedClock(T0)
        self.outbox = InMemoryOutbox()
        self.console = RecordingNotifier("console")
        self.kinds = kinds
        self.batch_limit = batch_limit
        self.use_phone(RecordingNotifier("discord"))

    def use_phone(self, phone: RecordingNotifier) -> None:
        """(Re)build the sender with ``phone`` as the ``discord`` channel."""
        self.phone = phone
        policy = AlertPolicy(channels={"discord": Route.MAIN}, kinds=self.kinds)
        self.sender = OutboxSender(self.outbox, [self.phone, self.console], clock=self.clock,
                                   policy=policy, quiet_digest_interval_s=HOUR,
                                   batch_limit=self.batch_limit, backoff_initial_s=2)

    def queue(self, *alerts: Alert) -> None:
        with self.outbox.unit_of_work() as uow:
            for alert in alerts:
                enqueue(uow, alert)

    def digests(self) -> list[QuietDigest]:
        return [a for a in self.phone.received if isinstance(a, QuietDigest)]

    def statuses(self) -> list[str]:
        return [r.status for r in sorted(self.outbox.rows.values(), key=lambda r: r.id)]


async def test_off_rows_are_skipped_for_the_phone_only_and_counted() -> None:
    desk = Desk({"order_filled": KindRule(Mode.OFF)})
    desk.queue(filled(desk.clock, 1), failed(desk.clock))
    report = await desk.sender.run_once()
    assert [a.kind for a in desk.phone.received] == ["job_failed"]
    assert [a.kind for a in desk.console.received] == ["order_filled", "job_failed"]
    assert report.skipped == {"discord": 1}
    assert desk.sender.status()["discord"]["skipped"] == 1
    assert desk.statuses() == ["delivered", "delivered"]


async def test_quiet_rows_wait_for_one_digest_an_interval_after_the_first() -> None:
    desk = Desk(QUIET_ORDERS)
    quiet = [placed(desk.clock, 1), filled(desk.clock, 1)]
    desk.queue(*quiet, failed(desk.clock))
    await desk.sender.run_once()
    assert [a.kind for a in desk.phone.received] == ["job_failed"]  # on: at once
    assert len(desk.console.received) == 3  # the record gets all, as they come
    assert desk.statuses() == ["pending", "pending", "delivered"]

    desk.clock.advance(HOUR - 60)
    quiet.append(placed(desk.clock, 2))
    desk.queue(quiet[-1])
    report = await desk.sender.run_once()
    assert desk.digests() == [] and report.held == {"discord": 3, "console": 0}

    desk.clock.advance(60)  # the first quiet row has waited an hour
    await desk.sender.run_once()
    (digest,) = desk.digests()
    assert [(h.at, h.kind, h.line) for h in digest.held] == [
        (a.occurred_at, a.kind, describe(a).summary) for a in quiet
    ]
    assert digest.occurred_at == desk.clock.now()
    assert desk.statuses() == ["delivered"] * 4
    assert desk.sender.status()["discord"]["held"] == 0

    await desk.sender.run_once()
    assert len(desk.digests()) == 1  # nothing held: no empty digest


async def test_at_most_one_digest_per_interval() -> None:
    desk = Desk(QUIET_ORDERS)
    desk.queue(placed(desk.clock, 1))
    await desk.sender.run_once()
    desk.clock.advance(HOUR)
    await desk.sender.run_once()
    assert len(desk.digests()) == 1
    desk.queue(filled(desk.clock, 1))  # held right after a digest went
    await desk.sender.run_once()  # the wake after the commit
    for _ in range(59):
        desk.clock.advance(60)
        await desk.sender.run_once()
    assert len(desk.digests()) == 1
    desk.clock.advance(60)
    await desk.sender.run_once()
    assert len(desk.digests()) == 2


async def test_the_daily_summary_brings_the_held_rows_first() -> None:
    desk = Desk(QUIET_ORDERS)
    desk.queue(placed(desk.clock, 1), filled(desk.clock, 1), summary(desk.clock),
               placed(desk.clock, 2))
    await desk.sender.run_once()
    kinds = [a.kind for a in desk.phone.received]
    assert kinds == ["quiet_digest", "daily_summary"]
    (digest,) = desk.digests()
    assert len(digest.held) == 2  # the row after the summary waits for the next digest
    assert desk.sender.status()["discord"]["held"] == 1


async def test_a_quiet_daily_summary_or_the_daemon_stopping_releases_the_held_rows() -> None:
    desk = Desk({**QUIET_ORDERS, "daily_summary": KindRule(Mode.QUIET),
                 "daemon_stopping": KindRule(Mode.OFF)})
    desk.queue(placed(desk.clock, 1), summary(desk.clock))
    await desk.sender.run_once()
    (digest,) = desk.digests()
    assert [h.kind for h in digest.held] == ["order_placed", "daily_summary"]
    desk.queue(filled(desk.clock, 1), DaemonStopping(occurred_at=desk.clock.now(), reason="x"))
    await desk.sender.run_once()
    assert [[h.kind for h in d.held] for d in desk.digests()][1] == ["order_filled"]
    assert desk.statuses() == ["delivered"] * 4


async def test_flush_sends_what_is_held() -> None:
    desk = Desk(QUIET_ORDERS)
    desk.queue(placed(desk.clock, 1))
    await desk.sender.run_once()
    assert desk.digests() == []
    assert await desk.sender.flush(within_s=10) is True
    assert len(desk.digests()) == 1 and desk.statuses() == ["delivered"]


async def test_held_rows_never_fill_the_window_a_run_reads() -> None:
    desk = Desk(QUIET_ORDERS, batch_limit=5)
    desk.queue(*(placed(desk.clock, n) for n in range(1, 5)))  # four held: under the cap
    desk.queue(failed(desk.clock))
    await desk.sender.run_once()
    assert [a.kind for a in desk.phone.received] == ["job_failed"]  # read past the held
    desk.queue(placed(desk.clock, 5), placed(desk.clock, 6))
    await desk.sender.run_once()  # five held reach the cap: a digest of five goes at once
    assert [len(d.held) for d in desk.digests()] == [5]
    assert desk.sender.status()["discord"]["held"] == 1


async def test_a_failed_digest_keeps_its_rows_and_blocks_what_follows() -> None:
    desk = Desk(QUIET_ORDERS)
    desk.queue(placed(desk.clock, 1), summary(desk.clock))
    desk.phone.failure = NotificationDeliveryError("502")
    report = await desk.sender.run_once()
    assert report.failed["discord"].startswith("NotificationDeliveryError")
    assert desk.phone.received == [] and desk.statuses() == ["pending", "pending"]
    assert desk.outbox.rows[1].attempts == 1
    desk.phone.failure = None
    desk.clock.advance(2)  # the back-off
    await desk.sender.run_once()
    assert [a.kind for a in desk.phone.received] == ["quiet_digest", "daily_summary"]
    assert desk.statuses() == ["delivered", "delivered"]


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_the_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError, match="quiet_digest_interval_s"):
        OutboxSender(InMemoryOutbox(), [], clock=SimulatedClock(T0),
                     quiet_digest_interval_s=interval)


async def test_the_interval_runs_from_when_the_alert_happened_not_when_the_sender_saw_it() -> None:
    desk = Desk(QUIET_ORDERS)
    desk.queue(placed(desk.clock, 1))  # happened at T0
    desk.clock.advance(2 * HOUR)  # a sender that fell behind first sees it two hours later
    await desk.sender.run_once()
    assert [len(d.held) for d in desk.digests()] == [1]  # due at once: it waited long enough
    assert desk.statuses() == ["delivered"]


class SlowPhone(RecordingNotifier):
    """A phone channel whose sends take ``takes_s`` of the daemon's clock (rate-limit waits
    in a demo that runs its clock fast), while the daemon queues ``meanwhile`` alerts."""

    def __init__(self, desk: Desk, takes_s: float) -> None:
        super().__init__("discord")
        self.desk = desk
        self.takes_s = takes_s
        self.meanwhile: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        await super().send(alert)
        self.desk.clock.advance(self.takes_s)
        if self.meanwhile:
            self.desk.queue(self.meanwhile.pop(0))


async def test_a_due_digest_carries_the_quiet_rows_queued_while_the_run_was_sending() -> None:
    desk = Desk(QUIET_ORDERS)
    phone = SlowPhone(desk, takes_s=HOUR)
    desk.use_phone(phone)
    desk.queue(placed(desk.clock, 1), failed(desk.clock))  # quiet, then one sent at once
    phone.meanwhile.append(filled(desk.clock, 2))  # queued while that send takes an hour
    await desk.sender.run_once()
    digests = [a for a in phone.received if isinstance(a, QuietDigest)]
    assert [[h.kind for h in d.held] for d in digests] == [["order_placed", "order_filled"]]
    assert desk.statuses() == ["delivered"] * 3


async def test_a_due_digest_waits_for_the_rows_older_than_it_to_go_first() -> None:
    desk = Desk(QUIET_ORDERS)
    phone = SlowPhone(desk, takes_s=HOUR)
    desk.use_phone(phone)
    desk.queue(placed(desk.clock, 1), failed(desk.clock))
    phone.meanwhile.append(failed(desk.clock))  # a row to send, queued during the run
    await desk.sender.run_once()
    assert [a.kind for a in phone.received] == ["job_failed"]  # the digest waits its turn
    await desk.sender.run_once()
    assert [a.kind for a in phone.received] == ["job_failed", "job_failed", "quiet_digest"]
    assert desk.statuses() == ["delivered"] * 3
