"""Brokerage session keep-alive: tickles, a competing login, the nightly reset (the whole
lifecycle is in test_ibkr_session_lifecycle.py)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from skimd.clock import SimulatedClock
from skimd.infrastructure.brokers.events import RecordingBrokerEvents
from tests.fakes.ibkr_server import FakeIbkr, make_broker


async def test_tickles_about_once_a_minute(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    broker, client = make_broker(fake, tmp_path)
    await broker.connect()
    await clock.run_until(clock.now() + timedelta(minutes=10, seconds=1))
    await broker.close()
    await client.aclose()
    assert len(fake.calls_to("/tickle")) == 10
    assert fake.init_calls == 1


async def test_competing_login_is_reported_once_and_reinit_backs_off(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    await broker.connect()
    fake.take_session()
    fake.other_login_holds = True
    start = clock.monotonic()
    await clock.run_until(clock.now() + timedelta(minutes=40))
    assert events.kinds() == ["session_renewed", "session_competing"]
    inits = [c.at - start for c in fake.calls_to("/iserver/auth/ssodh/init")][1:]
    gaps = [b - a for a, b in itertools.pairwise(inits)]
    assert len(inits) <= 6  # not a loop: 60 s, 120 s, 240 s, 480 s, 900 s ...
    assert gaps == sorted(gaps) and gaps[0] >= 119
    assert not (await broker.health()).authenticated
    fake.other_login_holds = False  # the other login went away
    await clock.run_until(clock.now() + timedelta(minutes=16))
    health = await broker.health()
    assert health.ok
    assert events.kinds() == ["session_renewed", "session_competing", "session_restored"]
    await broker.close()
    await client.aclose()


async def test_nightly_reset_is_survived_by_reinit(
    fake: FakeIbkr, clock: SimulatedClock, tmp_path: Path
) -> None:
    events = RecordingBrokerEvents()
    broker, client = make_broker(fake, tmp_path, events=events)
    await broker.connect()
    fake.nightly_reset()
    await clock.run_until(clock.now() + timedelta(seconds=61))
    assert fake.authenticated and fake.init_calls == 2
    assert events.kinds() == ["session_renewed"]  # one re-init fixed it: nothing to report
    assert (await broker.health()).ok
    await broker.close()
    await client.aclose()
