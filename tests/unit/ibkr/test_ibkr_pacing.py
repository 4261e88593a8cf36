"""Pacing classes, margins, the shared ledger, the 429 penalty box and retries, on a
SimulatedClock."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from skimd.clock import SimulatedClock
from skimd.errors import BrokerUnavailableError, ConfigurationError, RateLimitedError
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from skimd.infrastructure.brokers.ibkr.auth import IbkrOAuth
from skimd.infrastructure.brokers.ibkr.credentials import load_credentials
from skimd.infrastructure.brokers.ibkr.pacing import (
    IBKR_LIMITS,
    MARGIN_FRACTION,
    Pacing,
    RateLimit,
    endpoint_class,
    pacing_floor,
)
from skimd.infrastructure.brokers.ibkr.pacing_ledger import PACING_FILE, FileLedger
from skimd.infrastructure.brokers.ibkr.requests import IbkrHttp
from skimd.infrastructure.brokers.ibkr.rsa_in_process import InProcessRsaKeys
from tests.fakes.ibkr_server import SNAPSHOT_PATH, TEST_BASE_URL, FakeIbkr, autojump


def _http(
    fake: FakeIbkr, tmp_path: Path, client: httpx.AsyncClient, events: RecordingBrokerEvents
) -> IbkrHttp:
    creds = load_credentials(fake.keys.settings(tmp_path, TEST_BASE_URL), InProcessRsaKeys())
    auth = IbkrOAuth(
        creds, keys=InProcessRsaKeys(), clock=fake.clock,
        lst_url=TEST_BASE_URL + "/oauth/live_session_token",
    )
    return IbkrHttp(client, base_url=TEST_BASE_URL, auth=auth, clock=fake.clock, events=events)


def test_endpoint_classes() -> None:
    assert endpoint_class("/iserver/marketdata/snapshot") == "snapshot"
    assert endpoint_class("iserver/account/orders") == "orders"
    assert endpoint_class("/iserver/account/DU1/orders") is None  # placement: global only
    assert endpoint_class("/portfolio/accounts") == "accounts"
    assert endpoint_class("/iserver/marketdata/history") == "history"
    assert endpoint_class("/iserver/account/order/status/1234") == "order_status"
    assert IBKR_LIMITS["history"].concurrent == 5


def test_pacing_floor_spaces_calls_evenly() -> None:
    assert pacing_floor(20, IBKR_LIMITS["snapshot"]) == pytest.approx(1.9, abs=1e-3)
    assert pacing_floor(1, IBKR_LIMITS["orders"]) == 0
    assert pacing_floor(3, IBKR_LIMITS["orders"]) == pytest.approx(10.0, abs=1e-3)
    assert pacing_floor(3, IBKR_LIMITS["orders"], margin_s=0.5) == pytest.approx(11.0)


async def _sends(pacing: Pacing, clock: SimulatedClock, name: str, calls: int) -> list[float]:
    stamps: list[float] = []

    async def call() -> None:
        await pacing.send_turn(pacing.classes(name))
        stamps.append(clock.now().timestamp())

    async with autojump(clock):
        await asyncio.gather(*(call() for _ in range(calls)))
    return stamps


async def test_pacing_never_allows_more_than_limit_in_any_window(clock: SimulatedClock) -> None:
    limits = {"global": RateLimit(1000, 1.0, burst=1000), "burst": RateLimit(10, 1.0, burst=10)}
    pacing = Pacing(clock, limits=limits)
    stamps: list[float] = []

    async def call() -> None:
        await pacing.send_turn(("burst", "global"))
        stamps.append(clock.now().timestamp())

    async with autojump(clock):
        await asyncio.gather(*(call() for _ in range(95)))
    assert len(stamps) == 95
    assert max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps) == 10


async def test_a_one_per_five_seconds_class_keeps_a_margin_past_the_period(
    clock: SimulatedClock,
) -> None:
    pacing = Pacing(clock)
    first, second, third = await _sends(pacing, clock, "/portfolio/accounts", 3)
    margin = MARGIN_FRACTION * 5.0
    assert second - first >= 5.0 + margin and third - second >= 5.0 + margin
    assert second - first == pytest.approx(5.0 + margin, abs=1e-3)  # no more than that


async def test_measured_latency_widens_the_margin(clock: SimulatedClock) -> None:
    pacing = Pacing(clock)
    pacing.observe_latency(0.4)
    pacing.observe_latency(0.1)  # a quicker answer lowers the estimate only slowly
    assert pacing.latency_s == pytest.approx(0.34)
    first, second = await _sends(pacing, clock, "/portfolio/accounts", 2)
    assert second - first >= 5.0 + MARGIN_FRACTION * 5.0 + 0.34


async def test_processes_sharing_a_ledger_file_share_the_limit_and_the_penalty_box(
    clock: SimulatedClock, tmp_path: Path
) -> None:
    path = tmp_path / "data" / PACING_FILE
    daemon = Pacing(clock, ledger=FileLedger(path))
    command = Pacing(clock, ledger=FileLedger(path))  # another process: its own pacing
    turns: list[tuple[str, float]] = []

    async def send(name: str, pacing: Pacing) -> None:
        await pacing.send_turn(pacing.classes("/portfolio/accounts"))
        turns.append((name, clock.now().timestamp()))

    async with autojump(clock):
        await send("daemon", daemon)
        await send("command", command)
    assert [n for n, _ in turns] == ["daemon", "command"]
    assert turns[1][1] - turns[0][1] >= 5.0 + MARGIN_FRACTION * 5.0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    until = command.penalize("snapshot", 600)
    with pytest.raises(RateLimitedError):
        daemon.check_penalty(("snapshot", "global"))
    restarted = Pacing(clock, ledger=FileLedger(path))  # a new process after a restart
    assert restarted.budget()["snapshot"] == (
        f"penalty until {until.isoformat(timespec='seconds')}"
    )
    clock.advance(600)
    restarted.check_penalty(("snapshot", "global"))  # the box is over


async def test_a_clock_set_back_delays_a_turn_by_one_period_at_most(
    clock: SimulatedClock, tmp_path: Path
) -> None:
    path = tmp_path / PACING_FILE
    ahead = SimulatedClock(clock.now() + timedelta(days=30))  # a process whose clock ran ahead
    await Pacing(ahead, ledger=FileLedger(path)).send_turn(("accounts", "global"))
    Pacing(ahead, ledger=FileLedger(path)).penalize("snapshot", 30 * 86400)
    pacing = Pacing(clock, ledger=FileLedger(path))
    started = clock.now()
    async with autojump(clock):
        await pacing.send_turn(("accounts", "global"))
    assert clock.now() - started <= timedelta(seconds=5.0 + MARGIN_FRACTION * 5.0 + 0.001)
    assert 0 < pacing.penalty_remaining("snapshot") <= 3600


def test_a_ledger_that_cannot_be_opened_is_a_configuration_error(
    clock: SimulatedClock, tmp_path: Path
) -> None:
    (tmp_path / "data").write_text("a file where the data dir should be")
    pacing = Pacing(clock, ledger=FileLedger(tmp_path / "data" / PACING_FILE))
    with pytest.raises(ConfigurationError, match="cannot open the IBKR pacing ledger"):
        pacing.check_penalty(("accounts", "global"))


def test_an_unreadable_ledger_reads_as_empty(clock: SimulatedClock, tmp_path: Path) -> None:
    path = tmp_path / PACING_FILE
    path.write_text("{not json")
    pacing = Pacing(clock, ledger=FileLedger(path))
    assert pacing.budget()["accounts"] == 1
    assert json.loads(path.read_text())["version"] == 1  # rewritten whole


async def test_a_429_pauses_that_class_for_ten_minutes(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    fake.authenticated = True
    params = {"conids": "1", "fields": "31"}
    async with httpx.AsyncClient(transport=fake.transport()) as client, autojump(clock):
        http = _http(fake, tmp_path, client, events)
        fake.fail(SNAPSHOT_PATH, 429)
        started = clock.now()
        with pytest.raises(RateLimitedError) as first:
            await http.get(SNAPSHOT_PATH, params)
        assert first.value.retry_after == 600
        assert [(e.kind, e.detail, e.until) for e in events.events] == [
            ("rate_limited", "snapshot", started + timedelta(seconds=600))
        ]
        assert str(http.pacing_budget()["snapshot"]).startswith("penalty until")
        reached = len(fake.calls_to(SNAPSHOT_PATH))
        clock.advance(599)
        with pytest.raises(RateLimitedError) as during:
            await http.get(SNAPSHOT_PATH, params)
        assert 0 < during.value.retry_after <= 1
        assert len(fake.calls_to(SNAPSHOT_PATH)) == reached  # never reached IBKR
        assert await http.post("/tickle", idempotent=True)  # other classes still work
        clock.advance(1)
        assert await http.get(SNAPSHOT_PATH, params) is not None
    assert len(fake.calls_to(SNAPSHOT_PATH)) == reached + 1


async def test_gets_are_retried_on_5xx_but_posts_are_not(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    fake.authenticated = True
    async with httpx.AsyncClient(transport=fake.transport()) as client, autojump(clock):
        http = _http(fake, tmp_path, client, RecordingBrokerEvents())
        fake.fail("/iserver/auth/status", 503, times=2)
        assert (await http.get("/iserver/auth/status"))["authenticated"] is True
        assert len(fake.calls_to("/iserver/auth/status")) == 3
        fake.fail("/iserver/auth/status", 503, times=5)
        with pytest.raises(BrokerUnavailableError, match="HTTP 503") as err:
            await http.get("/iserver/auth/status")
        assert isinstance(err.value.__cause__, httpx.HTTPStatusError)
        assert len(fake.calls_to("/iserver/auth/status")) == 6  # bounded: 3 attempts
        fake.fail("/iserver/auth/ssodh/init", 500)
        with pytest.raises(BrokerUnavailableError):
            await http.post("/iserver/auth/ssodh/init", {"publish": True})
    assert len(fake.calls_to("/iserver/auth/ssodh/init")) == 1


async def test_timeouts_become_broker_unavailable(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tickle"):
            raise httpx.ReadTimeout("slow", request=request)
        return fake.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client, autojump(clock):
        http = _http(fake, tmp_path, client, RecordingBrokerEvents())
        with pytest.raises(BrokerUnavailableError, match="timed out") as err:
            await http.post("/tickle", idempotent=True)
    assert isinstance(err.value.__cause__, httpx.ReadTimeout)
